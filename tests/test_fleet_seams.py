"""The fleet's promises where they used to break: every process listed while 16
publish at once; garbage in the shared cache skipped with one warning, never a 500 or
a crash; the metrics view asks for the Pipeline page's permission or a bearer token;
every switch change leaves a history entry, and a refusal echoes nothing as HTML; a
view learns that its handler is switched off; and under ``gunicorn --preload`` a
master that served requests before it forked hands nothing to its workers."""

from __future__ import annotations

import io
import json
import math
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.core.cache import caches
from django.core.management import call_command
from django.test import Client, override_settings

from hookpipe import conf
from hookpipe.fleet import operations, publish
from hookpipe.fleet import read as fleet
from hookpipe.fleet.models import SwitchChange
from hookpipe.jobs import process_pool
from tests import live
from tests.conftest import ROOT, Fetch
from tests.services import redis_or_skip
from tests.test_cluster import PIPELINE, put
from tests.test_metrics import SCRAPER

REDIS_URL = os.environ.get("HOOKPIPE_TEST_REDIS_URL", "redis://127.0.0.1:6379/2")
P = "tests.testapp.plugins."


pytestmark = pytest.mark.usefixtures("clean_fleet_cache")


# ------------------------------------------------------- 16 publishers at once


def test_every_process_is_listed_on_every_read_while_16_publish_at_once() -> None:
    redis_or_skip(REDIS_URL)
    prefix = f"hookpipe:test:{uuid.uuid4().hex}"
    n, seconds = 16, 4.0
    publishers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.fleet_publisher", REDIS_URL, prefix, str(seconds)],
            cwd=ROOT,
        )
        for _ in range(n)
    ]
    caches_setting = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "fleet": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL},
    }
    counts: list[int] = []
    try:
        with override_settings(
            CACHES=caches_setting, HOOKPIPE={"CLUSTER": {"CACHE": "fleet", "KEY_PREFIX": prefix}}
        ):
            cluster = conf.get_config().cluster
            deadline = time.monotonic() + 30
            while len(fleet.read(cluster)["processes"]) < n:  # every one has started
                assert time.monotonic() < deadline, "the publishers did not all start"
                time.sleep(0.02)
            while any(p.poll() is None for p in publishers) and len(counts) < 200:
                counts.append(len(fleet.read(cluster)["processes"]))
                time.sleep(0.01)
            caches["fleet"].delete_many(publish.slot_keys(cluster))
    finally:
        for process in publishers:
            process.wait(timeout=30)
    assert [p.returncode for p in publishers] == [0] * n
    assert len(counts) >= 20, counts  # reads made while they all published
    assert set(counts) == {n}, Counter(counts)


# ------------------------------------------------------ garbage in the cache


def plant_garbage(cluster: Any) -> None:
    now = time.time()
    garbage: list[Any] = [
        "not a record",
        {"version": publish.VERSION, "host": "h", "pid": "not a number", "last_seen": now},
        {"version": publish.VERSION},
        {"version": publish.VERSION, "host": ["h"], "pid": 1, "started": 0, "last_seen": now},
    ]
    cache = caches["default"]
    keys = publish.slot_keys(cluster)
    for key, junk in zip(keys[5:], garbage, strict=False):
        cache.set(key, junk)
    # A record that looks right but whose counters are not counters.
    bad = {"version": publish.VERSION, "host": "h", "pid": 9, "started": now, "last_seen": now}
    cache.set(keys[20], {**bad, "plugins": {"chunks": {"counters": [1, 2]}}})
    put(11, now, {"chunks": {"answered": 4}})  # and one good process


@pytest.mark.django_db
@override_settings(HOOKPIPE={**PIPELINE, "METRICS": {"BEARER_TOKEN": "scraper"}})
def test_garbage_in_the_shared_cache_is_skipped_with_one_warning(
    admin_client: Client, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster = conf.get_config().cluster
    plant_garbage(cluster)
    # No earlier test's warning in the way.
    monkeypatch.setattr(operations.current(), "unreadable_warned_at", -math.inf)
    data = fleet.read(cluster)
    assert [(p["host"], p["pid"]) for p in data["processes"]] == [("other", 11)]
    assert data["totals"] == {"chunks": {"answered": 4}}
    assert admin_client.get("/admin/hookpipe/pipeline/").status_code == 200
    metrics = Client().get("/metrics/", headers=SCRAPER)
    assert metrics.status_code == 200
    assert 'plugin="chunks"} 4.0' in metrics.content.decode()
    out = io.StringIO()
    call_command("hookpipe", "--json", stdout=out)
    assert json.loads(out.getvalue())["cluster"]["totals"] == {"chunks": {"answered": 4}}
    warnings = [r for r in caplog.records if "unreadable record" in r.getMessage()]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "skipped 5 unreadable record(s)" in warnings[0].getMessage()


@pytest.mark.django_db
@override_settings(HOOKPIPE=PIPELINE)
def test_a_publisher_goes_on_beside_garbage(fetch: Fetch) -> None:
    cluster = conf.get_config().cluster
    plant_garbage(cluster)
    operations.current().watch.reset()  # the check path starts the publisher, as in a server
    fetch("/stream/sync")

    def me() -> Any:
        return [p for p in fleet.read(cluster)["processes"] if p["pid"] == os.getpid()]

    deadline = time.monotonic() + 5
    while not me():
        assert time.monotonic() < deadline, "this process was never listed"
        time.sleep(0.02)


@pytest.mark.django_db
@override_settings(HOOKPIPE={**PIPELINE, "HANDLERS": [P + "Recorder"]})
def test_a_plugin_switched_off_keeps_its_counts_in_the_fleets_totals(fetch: Fetch) -> None:
    cluster = conf.get_config().cluster
    process_pool.reset_for_tests()  # this process's pool counters, from zero
    fleet_operations = operations.current()
    fleet_operations.watch.reset()
    fetch("/webhooks/x", method="post", data=b"x", content_type="a/b")
    assert fleet_operations.publisher.publish(cluster)
    call_command("hookpipe", "--disable", "recorder", stdout=io.StringIO())
    fetch("/stream/sync")  # this process applies the switch
    assert fleet_operations.publisher.publish(cluster)
    [me] = [p for p in fleet.read(cluster)["processes"] if p["pid"] == os.getpid()]
    assert me["switched_off"] == ["recorder"]
    assert me["counters"]["recorder"]["submitted"] == 1


# ---------------------------------------------------------------- the metrics


@pytest.fixture
def user_with(django_user_model: Any) -> Callable[..., Client]:
    def make(*codenames: str) -> Client:
        account = django_user_model.objects.create_user(
            f"u{django_user_model.objects.count()}", "", "pw", is_staff=True
        )
        for codename in codenames:
            account.user_permissions.add(
                Permission.objects.get(content_type__app_label="hookpipe", codename=codename)
            )
        client = Client()
        client.force_login(account)
        return client

    return make


@pytest.mark.django_db
@override_settings(HOOKPIPE={**PIPELINE, "METRICS": {"BEARER_TOKEN": "scraper"}})
def test_the_metrics_ask_for_the_pipeline_pages_permission_or_the_token(
    user_with: Callable[..., Client],
) -> None:
    put(11, time.time(), {"chunks": {"answered": 4}})
    anonymous = Client().get("/metrics/")
    assert anonymous.status_code == 401  # who it is is not known: say how to tell
    assert anonymous["WWW-Authenticate"] == 'Bearer realm="hookpipe metrics"'
    assert user_with().get("/metrics/").status_code == 403  # staff alone is not enough
    assert user_with("view_pipeline").get("/metrics/").status_code == 200
    assert Client().get("/metrics/", headers=SCRAPER).status_code == 200
    wrong = {"Authorization": "Bearer scrapes"}
    assert Client().get("/metrics/", headers=wrong).status_code == 401


@pytest.mark.django_db
@override_settings(HOOKPIPE=PIPELINE)
def test_without_a_token_no_bearer_gets_in() -> None:
    assert Client().get("/metrics/", headers={"Authorization": "Bearer "}).status_code == 401


@pytest.mark.django_db
@override_settings(HOOKPIPE=PIPELINE)
def test_the_token_may_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    put(11, time.time(), {"chunks": {"answered": 4}})
    assert Client().get("/metrics/", headers=SCRAPER).status_code == 401
    monkeypatch.setenv("HOOKPIPE_METRICS_BEARER_TOKEN", "scraper")
    assert Client().get("/metrics/", headers=SCRAPER).status_code == 200
    wrong = {"Authorization": "Bearer scrapers"}
    assert Client().get("/metrics/", headers=wrong).status_code == 401


# -------------------------------------------------------------- the switches


@pytest.mark.django_db
@override_settings(HOOKPIPE=PIPELINE)
def test_every_switch_change_admin_or_command_leaves_a_history_entry(
    user_with: Callable[..., Client],
) -> None:
    call_command("hookpipe", "--disable", "chunks", stdout=io.StringIO())
    call_command("hookpipe", "--disable", "chunks", stdout=io.StringIO())  # no change
    switcher = user_with("view_pipeline", "change_pipeline")
    url = "/admin/hookpipe/pipeline/switch/"
    assert switcher.post(url, {"name": "chunks", "action": "enable"}).status_code == 302
    history = [
        (c.name, c.enabled, c.via) for c in SwitchChange.objects.order_by("changed_at", "id")
    ]
    assert history == [("chunks", False, "command"), ("chunks", True, "admin")]
    assert "(manage.py hookpipe)" in SwitchChange.objects.get(via="command").changed_by


@pytest.mark.django_db
@override_settings(HOOKPIPE=PIPELINE)
def test_the_switch_view_never_echoes_markup_as_html(user_with: Callable[..., Client]) -> None:
    switcher = user_with("view_pipeline", "change_pipeline")
    name = "<script>alert(1)</script>"
    response = switcher.post("/admin/hookpipe/pipeline/switch/", {"name": name, "action": "x"})
    assert response.status_code == 400
    response = switcher.post(
        "/admin/hookpipe/pipeline/switch/", {"name": name, "action": "disable"}
    )
    assert response.status_code == 400
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.django_db
@override_settings(HOOKPIPE={"HANDLERS": [P + "TaskRecorder"]})
def test_the_view_learns_that_its_handler_is_switched_off(fetch: Fetch) -> None:
    operations.current().watch.reset()
    response = fetch("/webhooks/accept", method="post", data=b"x", content_type="a/b")
    assert json.loads(response.content) == {"jobs": {"task-recorder": "pending"}}
    call_command("hookpipe", "--disable", "task-recorder", stdout=io.StringIO())
    operations.current().watch.reset()  # the next request reads the switches, as after CHECK_EVERY
    response = fetch("/webhooks/accept", method="post", data=b"x", content_type="a/b")
    assert json.loads(response.content) == {"jobs": {}}
    from hookpipe.core.process import current_pipeline

    pipeline = current_pipeline()
    assert pipeline is not None
    assert "task-recorder" in pipeline.switched_off


# ------------------------------------------- gunicorn --preload, warmed up


@pytest.mark.live
def test_workers_forked_from_a_master_that_served_count_only_their_own(
    tmp_path: Path,
) -> None:
    """The master answers 3 requests at import (tests/warm_wsgi.py), then forks 2
    workers: each worker builds its own pipeline and reports only what it answered,
    and the master is listed as exited, with its 3."""
    pid_log = tmp_path / "pids.log"
    env = live.project_env(
        tmp_path,
        settings="tests.preload_settings",
        HOOKPIPE_TEST_PID_LOG=str(pid_log),
        DEMO_WORKERS="2",
        DEMO_PUBLISH_EVERY="0.2",
    )
    live.manage("migrate", "--noinput", env=env)
    live.manage("createcachetable", env=env)
    clock = "/events/clock/?n=1&interval=0"
    with live.gunicorn(env, tmp_path, app="tests.warm_wsgi:application", args=["--preload"]) as (
        server
    ):
        master = server.pid
        with ThreadPoolExecutor(max_workers=4) as pool:
            replies = list(pool.map(lambda _: server.get(clock), range(40)))
        assert {r.status for r in replies} == {200}
        answered = Counter(int(r.header("X-Demo-Pid") or 0) for r in replies)
        answered[master] += 3  # the warm-up

        def listed() -> dict[int, Any]:
            cluster = json.loads(live.manage("hookpipe", "--json", env=env).stdout)["cluster"]
            return {p["pid"]: p for p in cluster["processes"]}

        deadline = time.monotonic() + 20
        while True:
            processes = listed()
            counts = {
                pid: p["counters"].get("clock", {}).get("answered", 0)
                for pid, p in processes.items()
            }
            if counts == dict(answered):
                break
            assert time.monotonic() < deadline, (counts, dict(answered), server.log())
            time.sleep(0.3)
        log = server.log()
    assert processes[master]["state"] == "exited", log
    assert {processes[pid]["state"] for pid in answered if pid != master} == {"live"}
    events = [line.split() for line in pid_log.read_text().splitlines()]
    # Built by the master (its warm-up) and its workers; the commands build their own.
    factories = Counter(
        int(pid) for event, pid, ppid in events
        if event == "factory" and master in (int(pid), int(ppid))
    )  # fmt: skip
    # The master built once (its warm-up), and so did each worker that served.
    assert factories == dict.fromkeys(answered, 1), log
