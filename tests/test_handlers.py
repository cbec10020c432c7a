"""Handlers, through real requests under WSGI and ASGI: every match runs, thread-safe
ones in the pool with a snapshot, the others inline with the live request; failures
stay in the log; the response never waits; the pool's bounds and counters; subconfig
from settings and the environment, shown redacted; the system checks."""

from __future__ import annotations

import json
import os
import signal
import statistics
import threading
import time
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from hookpipe import RequestSnapshot
from hookpipe.checks import check_hookpipe
from hookpipe.core.process import get_pipeline
from hookpipe.jobs import process_pool
from tests import live
from tests.conftest import Fetch
from tests.testapp import plugins as tp

P = "tests.testapp.plugins."
WAIT = 5.0


@pytest.fixture(autouse=True)
def _fresh() -> Iterator[None]:
    tp.reset()
    process_pool.reset_for_tests()
    yield
    process_pool.shutdown(WAIT)  # let this test's jobs end before the next test starts
    process_pool.reset_for_tests()
    tp.reset()


def handlers(*names: str, **extra: Any) -> Any:
    return override_settings(HOOKPIPE={"HANDLERS": [P + n for n in names], **extra})


def wait_for(name: str) -> None:
    assert tp.DONE[name].wait(WAIT), f"handler {name!r} did not run"


# ---------------------------------------------------------------- running


@pytest.mark.django_db
@handlers("Recorder", "InlineRecorder", RESPONDERS=[P + "Echo"])
def test_thread_safe_handlers_get_a_snapshot_in_the_pool(fetch: Fetch) -> None:
    response = fetch(
        "/answer/echo?x=1", method="post", data=b'{"a": 1}', content_type="application/json"
    )
    echoed = response.json()  # type: ignore[attr-defined]
    wait_for("recorder")
    [(snapshot, content, thread)] = tp.SEEN["recorder"]
    assert isinstance(snapshot, RequestSnapshot)
    assert content == snapshot.content == b'{"a": 1}'
    assert (snapshot.method, snapshot.path, snapshot.full_path) == (
        "POST",
        "/answer/echo",
        "/answer/echo?x=1",
    )
    assert snapshot.query == (("x", "1"),)
    assert snapshot.headers["Content-Type"] == "application/json"
    assert snapshot.request_id == echoed["request_id"]
    assert thread.startswith("hookpipe-handler")
    # The inline one ran first, in the request's thread, with the live request.
    assert echoed["inline_handler_ran_first"] is True
    [(request, _, inline_thread)] = tp.SEEN["inline-recorder"]
    assert request.hookpipe.request_id == echoed["request_id"]
    assert not inline_thread.startswith("hookpipe-handler")


@handlers("Recorder", "Failing", "HandlesRaises", "FailingInline", "Sleepy")
def test_every_match_runs_and_failures_stay_in_the_log(
    fetch: Fetch, caplog: pytest.LogCaptureFixture
) -> None:
    response = fetch("/webhooks/in", method="post", data=b"x", content_type="text/plain")
    assert response.status_code == 404  # Django carried on: no such URL
    for name in ("recorder", "failing", "sleepy"):
        wait_for(name)
    assert process_pool.shutdown(WAIT)["failing"]["failed"] == 1
    text = caplog.text
    assert "hookpipe: handler 'failing' raised RuntimeError: handler failed on purpose" in text
    assert "hookpipe: handler 'failing-inline' raised RuntimeError" in text
    assert "hookpipe: handler 'handles-raises': handles() raised KeyError" in text
    assert tp.SEEN["handles-raises"] == []


@handlers("Sleepy", PLUGINS={"sleepy": {"SECONDS": 0.5}})
def test_the_response_does_not_wait_for_the_pool(fetch: Fetch) -> None:
    start = time.monotonic()
    assert fetch("/webhooks/slow").status_code == 404
    assert time.monotonic() - start < 0.4
    assert not tp.DONE["sleepy"].is_set()
    wait_for("sleepy")


@handlers("Recorder")
def test_handlers_do_not_run_for_requests_they_do_not_handle(fetch: Fetch) -> None:
    assert fetch("/").status_code == 200
    assert process_pool.current_pool() is None  # not even started


# ------------------------------------------------------------------ the pool


@handlers(
    "Sleepy",
    PLUGINS={"sleepy": {"SECONDS": 0.5}},  # long enough for four requests to arrive
    THREAD_POOL={"MAX_WORKERS": 1, "MAX_QUEUE": 1, "ON_FULL": "reject"},
)
def test_a_full_pool_rejects_and_counts(fetch: Fetch, caplog: pytest.LogCaptureFixture) -> None:
    for _ in range(4):
        assert fetch("/webhooks/burst").status_code == 404
    counters = get_pipeline().describe()["handlers"][0]["counters"]
    assert counters["submitted"] == 4
    assert counters["rejected"] == 2
    assert "hookpipe: handler 'sleepy' job rejected: the pool is full" in caplog.text
    final = process_pool.shutdown(WAIT)["sleepy"]
    assert (final["succeeded"], final["rejected"], final["running"], final["queued"]) == (
        2,
        2,
        0,
        0,
    )


@handlers(
    "Sleepy",
    PLUGINS={"sleepy": {"SECONDS": 0.2}},
    THREAD_POOL={"MAX_WORKERS": 1, "MAX_QUEUE": 0, "ON_FULL": "inline"},
)
def test_inline_when_full_runs_in_the_request(fetch: Fetch) -> None:
    fetch("/webhooks/a")
    start = time.monotonic()
    fetch("/webhooks/b")  # the pool is busy: this one runs the job itself
    assert time.monotonic() - start >= 0.2
    final = process_pool.shutdown(WAIT)["sleepy"]
    assert (final["succeeded"], final["inline"]) == (2, 1)


def test_burst_from_many_threads_is_fully_accounted_for() -> None:
    settings = {
        "HANDLERS": [P + "Sleepy"],
        "PLUGINS": {"sleepy": {"SECONDS": 0.01}},
        "THREAD_POOL": {"MAX_WORKERS": 2, "MAX_QUEUE": 3, "ON_FULL": "reject"},
    }
    from django.test import Client

    with override_settings(HOOKPIPE=settings):

        def send() -> None:
            client = Client()
            for _ in range(10):
                client.get("/webhooks/burst")

        threads = [threading.Thread(target=send) for _ in range(5)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        final = process_pool.shutdown(WAIT)["sleepy"]
    assert final["submitted"] == 50
    assert final["succeeded"] + final["failed"] + final["rejected"] == 50
    assert final["rejected"] > 0


# --------------------------------------------------------- describe/config


@handlers("Configured", "InlineRecorder", PLUGINS={"webhook-store": {"BATCH": 3}})
def test_describe_shows_config_redacted_and_counters(
    fetch: Fetch, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOKPIPE_WEBHOOK_STORE_TOKEN", "s3cr3t-token")
    monkeypatch.setenv("HOOKPIPE_WEBHOOK_STORE_TAGS", "a,b")
    fetch("/webhooks/x")  # the environment is read when the pipeline is built
    data = get_pipeline().describe()
    [store, inline] = data["handlers"]
    assert store["THREAD_SAFE"] is True
    assert store["subconfig"] == {
        "TOKEN": "********",
        "BATCH": 3,
        "RATIO": 0.5,
        "ENABLED": True,
        "TAGS": ["a", "b"],
    }
    assert store["sources"]["TOKEN"] == "env HOOKPIPE_WEBHOOK_STORE_TOKEN"
    assert store["env_prefix"] == "HOOKPIPE_WEBHOOK_STORE_"
    assert inline["THREAD_SAFE"] is False
    assert inline["counters"]["succeeded"] == 1
    assert inline["counters"]["inline"] == 1
    assert "s3cr3t-token" not in json.dumps(data)
    out = StringIO()
    call_command("hookpipe", "--json", stdout=out)
    assert "s3cr3t-token" not in out.getvalue()
    assert json.loads(out.getvalue())["handlers"][0]["subconfig"]["TOKEN"] == "********"


@handlers("Sleepy")
def test_describe_shows_the_pool_once_started(fetch: Fetch) -> None:
    assert get_pipeline().describe()["pool"] is None
    fetch("/webhooks/x")
    pool = get_pipeline().describe()["pool"]
    assert pool["max_workers"] == 8
    assert pool["on_full"] == "block"
    assert pool["submitted"] == 1


@pytest.mark.django_db
@handlers(
    "Configured",
    "Recorder",
    RESPONDERS=[P + "Chunks"],
    PLUGINS={"webhook-store": {"TOKEN": "s3cr3t-token"}},
)
def test_the_admin_page_shows_plugins_counters_and_the_pool(
    admin_client: Any,
) -> None:
    admin_client.get("/webhooks/x")
    wait_for("recorder")
    process_pool.shutdown(WAIT)
    html = admin_client.get("/admin/hookpipe/pipeline/").content.decode()
    assert "s3cr3t-token" not in html
    handlers_part = html[html.index('id="hp-handlers"') : html.index('id="hp-responders"')]
    assert "<strong>webhook-store</strong>" in handlers_part
    assert "<dt>TOKEN</dt><dd>********</dd>" in handlers_part
    assert '<td class="hp-num" data-counter="succeeded">1</td>' in handlers_part
    responders_part = html[html.index('id="hp-responders"') : html.index('id="hp-pool"')]
    assert "<strong>chunks</strong>" in responders_part
    assert '<td class="hp-num hp-zero" data-counter="answered">0</td>' in responders_part
    pool = html[html.index('id="hp-pool"') :]
    assert '<td class="hp-num" data-counter="workers">1</td>' in pool
    assert '<td class="hp-num" data-counter="submitted">1</td>' in pool


# ------------------------------------------------------------------ checks


def test_plugin_problems_are_system_check_errors() -> None:
    with handlers("Configured", "NoName"):
        ids = sorted(m.id or "" for m in check_hookpipe())
    assert ids == ["hookpipe.E033", "hookpipe.E038"]
    with handlers("Configured"), pytest.raises(SystemCheckError, match=r"hookpipe\.E038"):
        call_command("check")


@handlers("Configured", PLUGINS={"webhook-store": {"TOKEN": "t"}, "webhok-store": {}})
def test_unknown_plugin_settings_are_a_warning_and_do_not_stop_the_pipeline(
    fetch: Fetch,
) -> None:
    assert [m.id for m in check_hookpipe()] == ["hookpipe.W030"]
    assert fetch("/").status_code == 200


@handlers("Configured")
def test_a_pipeline_with_a_missing_value_does_not_run(fetch: Fetch) -> None:
    assert fetch("/").status_code == 500


@handlers("ConstructorRaises")
def test_a_plugin_whose_constructor_raises_fails_the_build(
    fetch: Fetch, caplog: pytest.LogCaptureFixture
) -> None:
    assert fetch("/").status_code == 500
    assert "ConstructorRaises" in caplog.text
    assert "raised RuntimeError: cannot start" in caplog.text


# ------------------------------------------------------------ real servers
# The demo under gunicorn: its webhook-store handler stores each delivery as an Event,
# after DELAY seconds of pretend work, in the worker's pool.

DELIVERY = {"Content-Type": "application/json", "X-Webhook-Token": "demo-token"}


def deliver(server: live.LiveServer, source: str = "shop") -> live.Reply:
    return server.get(
        f"/webhooks/{source}/", method="POST", body=b'{"kind": "t"}', headers=DELIVERY
    )


def stored_events(env: dict[str, str]) -> int:
    out = live.manage(
        "shell", "-c", "from demo_project.events.models import Event; print(Event.objects.count())",
        env=env,
    )  # fmt: skip
    return int(out.stdout.split()[-1])  # Django 5.2 may print a line about imports first


def live_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    # These tests are about the pool: the demo's webhook-store runs there, not as a task.
    env = live.project_env(
        tmp_path, DEMO_API_KEY="k", DEMO_WORKERS="1", DEMO_WEBHOOK_RUNNER="pool", **overrides
    )
    live.manage("migrate", "--noinput", env=env)
    return env


def worker_pid(server: live.LiveServer) -> int:
    return int(server.get("/api/status/", headers={"X-Api-Key": "k"}).json()["pid"])


@pytest.mark.live
@pytest.mark.parametrize(
    ("on_full", "workers", "queue"), [("block", "2", "100"), ("reject", "1", "2")]
)
def test_a_stopping_worker_drains_its_pool_and_loses_nothing(
    tmp_path: Path, on_full: str, workers: str, queue: str
) -> None:
    """N deliveries, then SIGTERM to the worker: every job ends stored or counted."""
    n = 20
    counters_file = tmp_path / "counters.jsonl"
    env = live_env(
        tmp_path,
        HOOKPIPE_WEBHOOK_STORE_DELAY="0.2",
        DEMO_POOL_WORKERS=workers,
        DEMO_POOL_QUEUE=queue,
        DEMO_POOL_ON_FULL=on_full,
        HOOKPIPE_EXIT_COUNTERS_FILE=str(counters_file),
    )
    with live.gunicorn(env, tmp_path) as server:
        pid = worker_pid(server)
        replies = [deliver(server) for _ in range(n)]
        # The demo's view answers 503 for a delivery the full pool refused.
        refused = sum(r.status == 503 for r in replies)
        assert sum(r.status == 202 for r in replies) + refused == n
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while not counters_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        log = server.log()
    [line] = counters_file.read_text().splitlines()
    report = json.loads(line)
    assert report["pid"] == pid
    final = report["counters"]["webhook-store"]
    assert final["submitted"] == n, log
    assert final["succeeded"] + final["failed"] + final["rejected"] == n
    assert final["queued"] == final["running"] == final["failed"] == 0
    assert stored_events(env) == final["succeeded"]
    if on_full == "block":
        assert final["succeeded"] == n  # the drain waited for every queued job
    else:
        assert final["rejected"] >= n // 2  # room for 1 running + 2 queued at a time
        assert final["rejected"] >= refused
    assert f"hookpipe: worker {pid} drained its thread pool" in log


@pytest.mark.live
def test_a_slow_handler_does_not_slow_the_response(tmp_path: Path) -> None:
    """Median latency of a trivial request, with a 200 ms handler job and without."""
    env = live_env(tmp_path, HOOKPIPE_WEBHOOK_STORE_DELAY="0.2")
    with live.gunicorn(env, tmp_path) as server:

        def median_latency(source: str) -> float:
            times = []
            for _ in range(20):
                start = time.monotonic()
                # The handler does not take another source: the demo's view says 403.
                assert deliver(server, source).status == (202 if source == "shop" else 403)
                times.append(time.monotonic() - start)
            return statistics.median(times)

        deliver(server, "other")  # build the pipeline first
        without = median_latency("other")  # not a source the handler stores
        with_handler = median_latency("shop")
    assert with_handler < 0.1, (with_handler, without)
    assert with_handler < without + 0.05, (with_handler, without)
