"""hookpipe.get_asgi_application and with_lifespan: the lifespan that drains the handler
pool when an ASGI server stops.

The promise is about servers, so the main tests run uvicorn: webhook deliveries whose
handler jobs are still queued, then SIGTERM; every accepted job must end stored, or
logged and counted as dropped. uvicorn re-raises SIGTERM with the default handler once
its own shutdown is done, so without the lifespan no exit hook runs at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hookpipe import with_lifespan
from hookpipe.jobs import process_pool
from hookpipe.server.asgi import INTEGRATION
from tests import live

DELIVERY = {"Content-Type": "application/json", "X-Webhook-Token": "demo-token"}


@pytest.fixture(autouse=True)
def _fresh_pool() -> Iterator[None]:
    process_pool.reset_for_tests()
    yield
    process_pool.reset_for_tests()
    process_pool.drained_by("")


def run_lifespan(app: Any, messages: list[str]) -> list[dict[str, Any]]:
    """Drive ``app`` through a ``lifespan`` scope as a server would; what it sent back."""
    sent: list[dict[str, Any]] = []
    incoming = [{"type": m} for m in messages]

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(dict(message))

    asyncio.run(app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send))
    return sent


def test_the_lifespan_starts_and_drains_the_pool_at_shutdown() -> None:
    async def django(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("the lifespan scope must not reach Django")

    done: list[int] = []
    pool = process_pool.get_pool({"MAX_WORKERS": 1, "MAX_QUEUE": 10, "ON_FULL": "block"})
    for i in range(3):
        pool.submit("slow", lambda i=i: (time.sleep(0.05), done.append(i)))  # type: ignore[misc]
    sent = run_lifespan(with_lifespan(django), ["lifespan.startup", "lifespan.shutdown"])
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert done == [0, 1, 2]  # drained before shutdown.complete went out
    assert process_pool.drainer() == INTEGRATION
    assert process_pool.counters().snapshot("slow")["succeeded"] == 3


def test_other_scopes_go_to_the_application_unchanged() -> None:
    seen: list[Any] = []

    async def django(scope: Any, receive: Any, send: Any) -> None:
        seen.append((scope, receive, send))

    scope = {"type": "http", "path": "/"}

    async def receive() -> dict[str, Any]:
        return {}

    async def send(message: Any) -> None:
        pass

    asyncio.run(with_lifespan(django)(scope, receive, send))
    assert seen == [(scope, receive, send)]


# ------------------------------------------------------------------ real servers


def deliver(server: live.LiveServer) -> live.Reply:
    return server.get("/webhooks/shop/", method="POST", body=b'{"kind": "t"}', headers=DELIVERY)


def stored_events(env: dict[str, str]) -> int:
    out = live.manage(
        "shell", "-c", "from demo_project.events.models import Event; print(Event.objects.count())",
        env=env,
    )  # fmt: skip
    return int(out.stdout.split()[-1])


def sigterm_and_wait(server: live.LiveServer, timeout: float) -> str:
    """SIGTERM, as a process manager sends it; wait for the exit; the whole log."""
    server.process.send_signal(signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):  # the assertions will say
        server.process.wait(timeout)
    return server.log()


def deliveries_then_sigterm(
    tmp_path: Path, *, delay: str, app: str, lifespan: Any, n: int = 60
) -> tuple[int, int, str]:
    """``n`` webhook deliveries (a handler job each, ``delay`` s of work, 2 pool threads,
    50 queued), then SIGTERM: (accepted, stored, server log)."""
    env = live.project_env(
        tmp_path,
        DEMO_WEBHOOK_RUNNER="pool",  # the pool is what the lifespan drains
        HOOKPIPE_WEBHOOK_STORE_DELAY=delay,
        DEMO_POOL_WORKERS="2",
        DEMO_POOL_QUEUE="50",
        DEMO_POOL_ON_FULL="block",
    )
    live.manage("migrate", "--noinput", env=env)
    with live.uvicorn(env, tmp_path, app=app, lifespan=lifespan) as server:
        accepted = sum(deliver(server).status == 202 for _ in range(n))
        log = sigterm_and_wait(server, 30)
    return accepted, stored_events(env), log


def final_counters(log: str) -> dict[str, Any]:
    [line] = re.findall(r"drained its thread pool at lifespan shutdown: (\{.*\})", log)
    return json.loads(line)["webhook-store"]  # type: ignore[no-any-return]


@pytest.mark.live
@pytest.mark.parametrize(
    ("delay", "drops"),
    # 1 s jobs: 30 s of work on 2 threads, far more than the 10 s drain however long
    # the 60 deliveries take to send on a loaded machine, so some are dropped.
    [("0.1", False), ("1.0", True)],
    ids=["all-run", "drain-timeout-drops"],
)
def test_sigterm_under_uvicorn_loses_no_job_silently(
    tmp_path: Path, delay: str, drops: bool
) -> None:
    # 60 jobs of 0.1 s on 2 threads take 3 s: the drain (10 s at most) runs them all.
    # At 1 s they take 30 s: the jobs still queued after 10 s are dropped, each with a
    # log line, and counted as rejected.
    accepted, stored, log = deliveries_then_sigterm(
        tmp_path, delay=delay, app="demo_project.asgi:application", lifespan="on"
    )
    final = final_counters(log)
    dropped_lines = log.count("hookpipe: handler 'webhook-store' job dropped")
    assert accepted == final["submitted"] == 60, log
    assert final["succeeded"] == stored
    assert final["rejected"] == dropped_lines
    assert final["succeeded"] + final["rejected"] == accepted
    assert final["queued"] == final["running"] == final["failed"] == 0
    assert (dropped_lines > 0) is drops, (stored, dropped_lines)
    assert "serves ASGI requests without hookpipe's lifespan" not in log


@pytest.mark.live
def test_without_the_lifespan_one_warning_per_process(tmp_path: Path) -> None:
    env = live.project_env(tmp_path)
    live.manage("migrate", "--noinput", env=env)
    with live.uvicorn(env, tmp_path, app="tests.asgi_plain:application", lifespan="off") as s:
        for _ in range(3):
            assert s.get("/").status == 200
        log = s.log()
    assert log.count("serves ASGI requests without hookpipe's lifespan") == 1, log
