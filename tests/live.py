"""Real servers for tests: gunicorn (WSGI) and uvicorn (ASGI) as subprocesses on 127.0.0.1.

A test prepares an environment, runs management commands the server needs, then starts
the server in a ``with`` block, which always stops it::

    env = live.project_env(tmp_path, DEMO_API_KEY="k")
    live.manage("migrate", "--noinput", env=env)
    with live.gunicorn(env, tmp_path) as server:
        reply = server.get("/", headers={"X-Api-Key": "k"})

Everything is bounded in time: start-up (``START_TIMEOUT``), every request
(``REQUEST_TIMEOUT``), shutdown (SIGTERM, then SIGKILL after ``STOP_TIMEOUT``) and
management commands. HTTP is the standard library's ``http.client``; every connection
and response is closed before a function returns, so nothing leaks a ResourceWarning.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

REPO_ROOT = Path(__file__).resolve().parent.parent
DEMO_GUNICORN_CONF = REPO_ROOT / "demo_project" / "gunicorn.conf.py"
HOST = "127.0.0.1"

START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
REQUEST_TIMEOUT = 10.0
COMMAND_TIMEOUT = 120.0

Readiness = Literal["http", "tcp"]


class ServerError(RuntimeError):
    """A server did not start, or a management command failed; carries its output."""


@dataclass(frozen=True)
class Reply:
    """A finished HTTP response: status, headers (case-insensitive ``get``) and body."""

    status: int
    headers: Message
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode()


def request(
    base_url: str,
    path: str,
    *,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = REQUEST_TIMEOUT,
) -> Reply:
    """Send one request on a fresh connection and read the whole response."""
    url = urlsplit(base_url)
    conn = http.client.HTTPConnection(url.hostname or HOST, url.port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=dict(headers or {}))
        with conn.getresponse() as response:
            return Reply(response.status, response.headers, response.read())
    finally:
        conn.close()


@dataclass(frozen=True)
class LiveServer:
    base_url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        """The server's main process: gunicorn's master, or uvicorn's only process."""
        return self.process.pid

    def get(self, path: str, **kwargs: Any) -> Reply:
        return request(self.base_url, path, **kwargs)

    def log(self) -> str:
        """Everything the server wrote to stdout and stderr so far."""
        return self.log_path.read_text(errors="replace")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def project_env(
    tmp_path: Path, settings: str = "demo_project.settings", **overrides: str
) -> dict[str, str]:
    """The environment of a server or command: the repo importable, state in ``tmp_path``.

    The demo's settings read these variables; a developer's ``.env`` file is ignored
    (``DEMO_ENV_FILE`` points at a file that does not exist) so tests are repeatable.
    """
    env = dict(os.environ)
    pythonpath = [str(REPO_ROOT), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env.update(
        {
            "PYTHONPATH": os.pathsep.join(pythonpath),
            "PYTHONUNBUFFERED": "1",
            "DJANGO_SETTINGS_MODULE": settings,
            "DEMO_ENV_FILE": str(tmp_path / "no-such.env"),
            "DEBUG": "False",
            "SECRET_KEY": "live-tests-only-not-a-secret",
            "ALLOWED_HOSTS": f"{HOST},localhost",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
            "DEMO_STATIC_ROOT": str(tmp_path / "static_root"),
        }
    )
    env.update(overrides)
    return env


def manage(
    *args: str, env: Mapping[str, str], timeout: float = COMMAND_TIMEOUT
) -> subprocess.CompletedProcess[str]:
    """Run ``manage.py <args>`` with the venv's interpreter; raise if it fails."""
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "manage.py"), *args],
        cwd=REPO_ROOT,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise ServerError(
            f"manage.py {' '.join(args)} exited with {result.returncode}\n"
            f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
        )
    return result


@contextlib.contextmanager
def serve(
    cmd: Sequence[str],
    *,
    env: Mapping[str, str],
    port: int,
    log_path: Path,
    ready: Readiness = "http",
    ready_path: str = "/",
) -> Iterator[LiveServer]:
    """Start ``cmd``, wait until it answers on ``port``, yield it, and always stop it.

    ``ready="http"`` waits for any HTTP response to ``GET ready_path``; ``"tcp"`` only for
    the port to accept a connection, which sends the application no request at all.
    """
    process = start(cmd, env, log_path)
    server = LiveServer(f"http://{HOST}:{port}", process, log_path)
    try:
        _wait_until_ready(server, port, ready, ready_path)
        yield server
    finally:
        stop(process)


def start(cmd: Sequence[str], env: Mapping[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """Start ``cmd`` in the repository with its output in ``log_path``, in a session of
    its own, so that a last-resort SIGKILL of its group reaches its children too."""
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            list(cmd),
            cwd=REPO_ROOT,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (a graceful stop), then SIGKILL to the process group after a bound."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT)
            return
        except subprocess.TimeoutExpired:
            pass
    # Killed processes, or a main process that exited without its children: the whole
    # group was started by us (start_new_session), and nothing else is in it.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(STOP_TIMEOUT)


def _wait_until_ready(server: LiveServer, port: int, ready: Readiness, ready_path: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        code = server.process.poll()
        if code is not None:
            raise ServerError(f"the server exited with {code} before answering:\n{server.log()}")
        try:
            if ready == "tcp":
                with socket.create_connection((HOST, port), timeout=1):
                    return
            else:
                server.get(ready_path, timeout=2)
                return
        except (OSError, http.client.HTTPException):
            pass
        if time.monotonic() > deadline:
            raise ServerError(
                f"the server did not answer on port {port} within {START_TIMEOUT:.0f} s:\n"
                f"{server.log()}"
            )
        time.sleep(0.1)


def gunicorn(
    env: Mapping[str, str],
    tmp_path: Path,
    *,
    app: str | None = None,
    config: Path | None = DEMO_GUNICORN_CONF,
    args: Sequence[str] = (),
    ready: Readiness = "http",
    ready_path: str = "/",
) -> contextlib.AbstractContextManager[LiveServer]:
    """gunicorn, by default with the demo's config file, bound to a free port.

    ``app`` defaults to the config file's ``wsgi_app``; the settings module comes from
    ``env["DJANGO_SETTINGS_MODULE"]``. ``args`` go on the command line (``--preload``).
    """
    port = free_port()
    cmd = [sys.executable, "-m", "gunicorn", "--bind", f"{HOST}:{port}"]
    if _gunicorn_has_control_socket():
        # One fixed path per user by default (gunicorn 25.1+): servers would share it.
        cmd.append("--no-control-socket")
    if config is not None:
        cmd += ["--config", str(config)]
    cmd += [*args, *([app] if app else [])]
    log_path = tmp_path / f"gunicorn-{port}.log"
    return serve(cmd, env=env, port=port, log_path=log_path, ready=ready, ready_path=ready_path)


def _gunicorn_has_control_socket() -> bool:
    from gunicorn.config import KNOWN_SETTINGS

    return any(setting.name == "control_socket_disable" for setting in KNOWN_SETTINGS)


def uvicorn(
    env: Mapping[str, str],
    tmp_path: Path,
    *,
    app: str = "demo_project.asgi:application",
    args: Sequence[str] = (),
    ready: Readiness = "http",
    ready_path: str = "/",
    lifespan: Literal["auto", "on", "off"] = "auto",
) -> contextlib.AbstractContextManager[LiveServer]:
    """uvicorn serving the ASGI ``app`` on a free port, with uvicorn's default lifespan
    (``"auto"``: the demo's application answers it, see hookpipe.get_asgi_application; with Django's
    own, uvicorn logs that the app does not support it and carries on)."""
    port = free_port()
    cmd = [
        sys.executable, "-m", "uvicorn", app,
        "--host", HOST, "--port", str(port), "--lifespan", lifespan, *args,
    ]  # fmt: skip
    log_path = tmp_path / f"uvicorn-{port}.log"
    return serve(cmd, env=env, port=port, log_path=log_path, ready=ready, ready_path=ready_path)


#: What rqworker reads jobs with (docs/durable.rst): never RQ's default, pickle.
RQ_SERIALIZER = "rq.serializers.JSONSerializer"


def db_worker(
    env: Mapping[str, str], tmp_path: Path, *args: str
) -> contextlib.AbstractContextManager[LiveServer]:
    """``manage.py db_worker`` (django-tasks-db's task worker), stopped on exit like a
    server. Its ``base_url`` is empty: it serves nothing."""
    return command("db_worker", "--no-reload", *args, env=env, tmp_path=tmp_path)


def rq_worker(
    env: Mapping[str, str], tmp_path: Path, *args: str
) -> contextlib.AbstractContextManager[LiveServer]:
    """``manage.py rqworker <args>`` (django-rq's worker: RQ forks a work horse per job,
    in a process group of its own), reading jobs as JSON as hookpipe's RQ queues write
    them, stopped on exit like a server."""
    return command("rqworker", "--serializer", RQ_SERIALIZER, *args, env=env, tmp_path=tmp_path)


def celery_worker(
    env: Mapping[str, str],
    tmp_path: Path,
    queue: str,
    level: str = "WARNING",
    concurrency: int = 2,
    include: Sequence[str] = (),
) -> contextlib.AbstractContextManager[LiveServer]:
    """``celery -A django_tasks_fennel.app worker -Q <queue>`` (a main process and its
    prefork pool of ``concurrency`` processes, in a process group of its own), also
    importing the modules of ``include``, stopped on exit like a server."""
    return command(
        "-m", "celery", "-A", "django_tasks_fennel.app", "worker", "-Q", queue,
        # A node name of its own: two workers on one host must not share one.
        "-n", f"hp{time.monotonic_ns()}@%h",
        "--concurrency", str(concurrency), "--without-mingle", "--without-gossip",
        "-l", level, *(["--include", ",".join(include)] if include else []),
        env=env, tmp_path=tmp_path, script=None,
    )  # fmt: skip


@contextlib.contextmanager
def command(
    *args: str,
    env: Mapping[str, str],
    tmp_path: Path,
    script: Path | None = REPO_ROOT / "manage.py",
) -> Iterator[LiveServer]:
    """A long-running management command (or, with ``script=None``, ``python <args>``),
    stopped (SIGTERM, then SIGKILL) on exit."""
    log_path = tmp_path / f"{args[0] if script else args[1]}-{time.monotonic_ns()}.log"
    process = start([sys.executable, *([str(script)] if script else []), *args], env, log_path)
    try:
        yield LiveServer("", process, log_path)
    finally:
        stop(process)


@contextlib.contextmanager
def kept_running(*args: str, env: Mapping[str, str], tmp_path: Path) -> Iterator[LiveServer]:
    """``manage.py <args>`` under demo_project/keep_running.py, as ``make demo`` runs its
    task worker: started again whenever it exits. On exit the keeper is stopped (which
    stops the command), and a command left behind is killed."""
    log_path = tmp_path / f"keeper-{time.monotonic_ns()}.log"
    keeper = start(
        [
            sys.executable,
            str(REPO_ROOT / "demo_project" / "keep_running.py"),
            sys.executable,
            str(REPO_ROOT / "manage.py"),
            *args,
        ],
        env,
        log_path,
    )
    started: list[int] = []
    try:
        yield LiveServer("", keeper, log_path)
    finally:
        started = children(keeper.pid)
        stop(keeper)
        for pid in started:  # in a session of its own: not reached by stop()
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def children(pid: int) -> list[int]:
    """The child processes of ``pid`` (gunicorn's workers, for a master's pid)."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]
