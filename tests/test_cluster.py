"""Cluster state: each process publishes its record to the cache, the fleet is read back
with totals summed over the processes listed, stale ones greyed out and then dropped."""

from __future__ import annotations

import io
import json
import threading
import time
from typing import Any

import pytest
from django.core.cache import caches
from django.core.management import call_command
from django.test import Client, override_settings

from hookpipe import conf
from hookpipe.fleet import operations, publish
from hookpipe.fleet import read as fleet
from hookpipe.fleet.publish import Publisher
from tests.conftest import Fetch

P = "tests.testapp.plugins."
FAST = {"PUBLISH_EVERY": 0.05, "STALE_AFTER": 15.0, "DROP_AFTER": 60.0}
PIPELINE = {"RESPONDERS": [P + "Chunks"], "CLUSTER": FAST}


pytestmark = pytest.mark.usefixtures("clean_fleet_cache")


def settings() -> Any:
    return conf.get_config().cluster


def put(pid: int, seen: float, counters: dict[str, Any], host: str = "other", **extra: Any) -> None:
    """A record as another process would have written it."""
    record = {
        "version": publish.VERSION,
        "host": host,
        "pid": pid,
        "started": seen - 100,
        "last_seen": seen,
        "exited": False,
        "plugins": {name: {"kind": "responder", "counters": c} for name, c in counters.items()},
        "pool": None,
        **extra,
    }
    cache = caches["default"]
    # As its publisher would: the first free slot.
    assert any(cache.add(key, record) for key in publish.slot_keys(settings()))


def wait_for(predicate: Any, timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("timed out")


@pytest.mark.django_db
@override_settings(HOOKPIPE=PIPELINE)
def test_the_first_request_starts_publishing_off_the_request_path(fetch: Fetch) -> None:
    operations.current().watch.reset()  # the check path starts the publisher, as in a server
    for _ in range(3):
        fetch("/stream/sync")

    def answered() -> Any:
        mine = [p for p in fleet.read(settings())["processes"] if p["state"] == "live"]
        answered = mine[0]["counters"].get("chunks", {}).get("answered") if mine else None
        return mine if answered == 3 else None

    [me] = wait_for(answered)
    assert me["counters"]["chunks"] == {
        "answered": 3,
        "errors": 0,
        "stream_errors": 0,
        "handles_errors": 0,
    }
    assert operations.current().publisher.running
    assert "hookpipe-cluster" in {t.name for t in threading.enumerate()}


@override_settings(HOOKPIPE=PIPELINE)
def test_totals_sum_the_processes_with_the_same_keys() -> None:
    now = time.time()
    put(1, now, {"chunks": {"answered": 2, "errors": 1}})
    put(2, now - 20, {"chunks": {"answered": 5, "errors": 0}, "echo": {"answered": 1}})
    put(3, now - 61, {"chunks": {"answered": 100, "errors": 100}})  # dropped
    data = fleet.read(settings(), now=now)
    assert [(p["pid"], p["state"]) for p in data["processes"]] == [(1, "live"), (2, "stale")]
    assert data["totals"] == {"chunks": {"answered": 7, "errors": 1}, "echo": {"answered": 1}}
    assert data["scope"] == "process"  # LocMem: the tests' cache


@override_settings(HOOKPIPE=PIPELINE)
def test_handler_durations_merge_as_the_worst_process() -> None:
    now = time.time()
    job = {"submitted": 1, "duration_ms": {"p50": 1.0, "p95": 9.0, "max": 9.0, "window": 1}}
    put(1, now, {"h": job})
    put(2, now, {"h": {**job, "duration_ms": {"p50": 3.0, "p95": 4.0, "max": 4.0, "window": 2}}})
    put(3, now, {"h": {**job, "duration_ms": {"p50": None, "p95": None, "max": None, "window": 0}}})
    assert fleet.read(settings(), now=now)["totals"]["h"] == {
        "submitted": 3,
        "duration_ms": {"p50": 3.0, "p95": 9.0, "max": 9.0, "window": 3},
    }


@override_settings(HOOKPIPE=PIPELINE)
def test_a_process_that_exited_says_so_and_still_counts() -> None:
    now = time.time()
    put(1, now, {"chunks": {"answered": 2}}, exited=True)
    [proc] = fleet.read(settings(), now=now)["processes"]
    assert proc["state"] == "exited"
    assert fleet.read(settings(), now=now)["totals"] == {"chunks": {"answered": 2}}


@pytest.mark.django_db
@override_settings(HOOKPIPE=PIPELINE)
def test_publish_final_marks_this_process_exited(fetch: Fetch) -> None:
    operations.current().watch.reset()
    fetch("/stream/sync")
    wait_for(lambda: fleet.read(settings())["processes"])
    time.sleep(0.1)  # a record written after the pipeline was built
    operations.current().publisher.publish_final()
    [me] = fleet.read(settings())["processes"]
    assert me["state"] == "exited"
    assert me["counters"]["chunks"]["answered"] == 1


@pytest.mark.django_db
@override_settings(HOOKPIPE={**PIPELINE, "CLUSTER": {**FAST, "ENABLED": False}})
def test_disabled_cluster_publishes_nothing(fetch: Fetch) -> None:
    operations.current().watch.reset()
    fetch("/stream/sync")
    time.sleep(0.2)
    assert not operations.current().publisher.running
    assert caches["default"].get_many(publish.slot_keys(settings())) == {}


@override_settings(HOOKPIPE=PIPELINE)
def test_json_has_the_cluster(fetch: Fetch) -> None:
    now = time.time()
    put(11, now, {"chunks": {"answered": 4}})
    put(12, now, {"chunks": {"answered": 6}})
    out = io.StringIO()
    call_command("hookpipe", "--json", stdout=out)
    cluster = json.loads(out.getvalue())["cluster"]
    assert [(p["host"], p["pid"]) for p in cluster["processes"]] == [("other", 11), ("other", 12)]
    assert {"host", "pid", "last_seen", "counters", "state"} <= cluster["processes"][0].keys()
    assert cluster["totals"] == {"chunks": {"answered": 10}}
    text = io.StringIO()
    call_command("hookpipe", stdout=text)
    totals = text.getvalue()[text.getvalue().index("Fleet totals (summed over 2 processes)") :]
    assert [line.split() for line in totals.splitlines()[4:7]] == [
        ["chunks", "10"],
        ["other:11", "4"],
        ["other:12", "6"],
    ]
    assert "This cache is private to each process" in text.getvalue()


@pytest.mark.django_db
@override_settings(HOOKPIPE=PIPELINE)
def test_the_admin_page_shows_the_fleet_and_says_locmem_is_private(
    admin_client: Client,
) -> None:
    now = time.time()
    put(11, now, {"chunks": {"answered": 4}})
    put(12, now - 30, {"chunks": {"answered": 6}})
    html = admin_client.get("/admin/hookpipe/pipeline/").content.decode()
    assert 'id="hp-cluster-private"' in html
    totals = html[html.index('id="hp-cluster-totals"') :]
    total = totals[totals.index('<tr class="" data-row="chunks">') :]
    assert '<td class="hp-num" data-counter="answered">10</td>' in total[: total.index("</tr>")]
    assert '<tr class="hp-proc-stale hp-row-problem" data-row="other:12">' in html
    assert '<tr class="hp-proc-live" data-row="other:11">' in html


@override_settings(
    HOOKPIPE=PIPELINE,
    CACHES={"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}},
)
def test_a_cache_that_fails_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("no cache here")

    for operation in ("get", "add", "set"):
        monkeypatch.setattr(type(caches["default"]), operation, broken)
    data = fleet.read(settings())
    assert data["error"] == "ConnectionError: no cache here"
    assert Publisher().publish(settings()) is False


@pytest.mark.parametrize(
    ("value", "msg"),
    [
        ({"PUBLISH_EVERY": -1}, 'HOOKPIPE["CLUSTER"]["PUBLISH_EVERY"] must be a number'),
        ({"CACHE": ""}, 'HOOKPIPE["CLUSTER"]["CACHE"] must be a non-empty string'),
        ({"ENABLED": "yes"}, 'HOOKPIPE["CLUSTER"]["ENABLED"] must be True or False'),
        ({"STALE_AFTER": 10, "DROP_AFTER": 5}, '["DROP_AFTER"] must not be less than'),
        ({"PUBLISH": 1}, "Did you mean 'PUBLISH_EVERY'?"),
        ([], 'HOOKPIPE["CLUSTER"] must be a dict'),
    ],
)
def test_bad_cluster_settings_are_check_errors(value: Any, msg: str) -> None:
    problems = conf.load({"CLUSTER": value}).problems
    assert any(msg in (p.msg + (p.hint or "")) for p in problems), problems
    assert {p.id for p in problems} <= {"hookpipe.E002", "hookpipe.E009"}
