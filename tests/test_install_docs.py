"""The install path as the docs write it: a project built from the settings blocks of
``docs/quickstart.rst`` and ``docs/durable.rst``, pasted as a user pastes them,
migrated, sent a request, and its job run by the engine's worker, each step a
``manage.py`` command in a process of its own. A block that stops working fails here.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def block(page: str, name: str) -> str:
    """The code of the ``code-block`` with ``:name: name`` on ``docs/<page>``."""
    lines = (DOCS / page).read_text().splitlines()
    start = lines.index(f"   :name: {name}") + 1
    while lines[start].strip().startswith(":"):  # more options
        start += 1
    code = []
    for line in lines[start:]:
        if line and not line.startswith("   "):
            break
        code.append(line)
    return textwrap.dedent("\n".join(code)).strip() + "\n"


# What startproject writes, less what the quickstart replaces (the middleware).
STARTPROJECT = """
SECRET_KEY = "install-docs-test"
DEBUG = False
ALLOWED_HOSTS = ["testserver"]
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]
ROOT_URLCONF = "site_app.urls"
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": DB_PATH}}
STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
"""

# The project's own piece: a webhook handler that runs as a task and writes what it
# got where the test can see it, and the view that answers for it.
HANDLERS = """
from pathlib import Path

from django.conf import settings

from hookpipe import HandlerImplementation


class Store(HandlerImplementation):
    name = "store"
    RUNNER = "task"

    def handles(self, request, content):
        return request.path == "/hook/"

    def handle(self, snapshot, content):
        Path(settings.STORE_DIR, snapshot.request_id).write_bytes(content)
"""

URLS = """
from django.http import JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from hookpipe import context_of


@csrf_exempt
def hook(request):
    job = context_of(request).job("store")
    return JsonResponse({"job": job}, status=202 if job == "pending" else 503)


urlpatterns = [path("hook/", hook)]
"""

SEND = (
    "from django.test import Client; "
    "r = Client().post('/hook/', data=b'{\"n\": 1}', content_type='application/json'); "
    "print(r.status_code, r.content.decode())"
)


def project(tmp_path: Path, engine_block: str, tail: str = "") -> Path:
    """A project in ``tmp_path``: its settings are startproject's, then the docs'
    blocks in the order the pages give them, then where this test keeps things."""
    app = tmp_path / "site_app"
    app.mkdir()
    (app / "__init__.py").write_text("")
    (app / "handlers.py").write_text(HANDLERS)
    (app / "urls.py").write_text(URLS)
    store = tmp_path / "stored"
    store.mkdir()
    settings = "\n".join(
        [
            f"DB_PATH = {str(tmp_path / 'db.sqlite3')!r}",
            STARTPROJECT,
            block("quickstart.rst", "install-app"),
            block("quickstart.rst", "install-middleware"),
            block("durable.rst", engine_block),
            'HOOKPIPE = {"HANDLERS": ["site_app.handlers.Store"]}',
            f"STORE_DIR = {str(store)!r}",
            tail,
        ]
    )
    (tmp_path / "site_settings.py").write_text(settings)
    return store


def manage(tmp_path: Path, *command: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "django", *command, "--settings", "site_settings"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": f"{tmp_path}:{ROOT}"},
        timeout=timeout,
        check=False,
    )


def install_and_send(tmp_path: Path, fail_level: str = "WARNING") -> str:
    """check (a migration is missing), migrate, check (clean up to ``fail_level``), one
    request: its answer."""
    before = manage(tmp_path, "check", "--database", "default")
    assert before.returncode == 0, before.stderr
    assert "hookpipe.W060" in before.stderr
    migrated = manage(tmp_path, "migrate", "--verbosity", "0")
    assert migrated.returncode == 0, migrated.stderr
    clean = manage(tmp_path, "check", "--database", "default", "--fail-level", fail_level)
    assert clean.returncode == 0, clean.stderr
    sent = manage(tmp_path, "shell", "-c", SEND)
    assert sent.returncode == 0, sent.stderr
    return sent.stdout.strip().splitlines()[-1]  # after the shell's own notes


def test_the_django_tasks_db_settings_make_a_working_project(tmp_path: Path) -> None:
    store = project(tmp_path, "install-tasks-db")
    assert install_and_send(tmp_path) == '202 {"job": "pending"}'
    assert list(store.iterdir()) == []  # stored, not run: that is the worker's job
    worker = manage(tmp_path, "db_worker", "--queue-name", "*", "--batch", "--no-startup-delay")
    assert worker.returncode == 0, worker.stderr
    [stored] = store.iterdir()
    assert re.fullmatch(r"[0-9a-f]{32}", stored.name)
    assert stored.read_bytes() == b'{"n": 1}'


def redis_url() -> str | None:
    """The Redis database these tests may use, if a server answers there."""
    url = os.environ.get("RQ_REDIS_URL", "redis://127.0.0.1:6379/6")
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except Exception:
        return None
    return url


def test_the_rq_settings_make_a_working_project(tmp_path: Path) -> None:
    url = redis_url()
    if url is None:
        pytest.skip("no Redis server to run RQ on")
    # The one line a deployment changes: where its Redis is.
    store = project(tmp_path, "install-tasks-rq", f'RQ_QUEUES["default"]["URL"] = {url!r}')
    assert install_and_send(tmp_path) == '202 {"job": "pending"}'
    worker = manage(
        tmp_path, "rqworker", "--serializer", "rq.serializers.JSONSerializer", "default", "--burst"
    )
    assert worker.returncode == 0, worker.stderr
    stored = [p.read_bytes() for p in store.iterdir()]
    assert b'{"n": 1}' in stored


def test_the_celery_settings_make_a_working_project(tmp_path: Path) -> None:
    from tests.kill_runs import AMQP_URL, celery_queue
    from tests.services import amqp_or_skip

    amqp_or_skip(AMQP_URL)
    with celery_queue() as queue:
        # What a deployment changes: where its broker is; and a queue for this run.
        store = project(
            tmp_path,
            "install-tasks-celery",
            f"CELERY_BROKER_URL = {AMQP_URL!r}\n"
            f'TASKS["default"]["QUEUES"] = [{queue!r}]\n'
            'HOOKPIPE = {"HANDLERS": [{"class": "site_app.handlers.Store", '
            f'"TASK_QUEUE_NAME": {queue!r}}}]}}',
        )
        # django-tasks-fennel warns that get_result() needs a result backend, and has no
        # id to silence it by; hookpipe reads no results (docs/durable.rst).
        assert install_and_send(tmp_path, "ERROR") == '202 {"job": "pending"}'
        assert list(store.iterdir()) == []  # stored on the broker, not run
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "django_tasks_fennel.app", "worker",
             "-Q", queue, "-n", f"{queue}@%h", "--concurrency", "1", "-l", "WARNING"],
            cwd=tmp_path,
            env={**os.environ, "PYTHONPATH": f"{tmp_path}:{ROOT}",
                 "DJANGO_SETTINGS_MODULE": "site_settings"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        try:
            until = time.monotonic() + 60
            while not list(store.iterdir()) and time.monotonic() < until:
                assert worker.poll() is None
                time.sleep(0.1)
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            output = worker.communicate(timeout=30)[0].decode()
    [stored] = store.iterdir()
    assert stored.read_bytes() == b'{"n": 1}', output
