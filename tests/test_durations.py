"""Duration histograms (HOOKPIPE["METRICS"]["DURATIONS"]): opt in, applied when the
pipeline is built; requests land in the right buckets, the fleet adds them up, and the
metrics view exposes them as Prometheus histograms."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.core.cache import caches
from django.http import HttpResponseBase
from django.test import Client, override_settings
from prometheus_client.parser import text_string_to_metric_families

from hookpipe import conf, durations
from hookpipe.checks import check_hookpipe
from hookpipe.core.ordering import MAIN
from hookpipe.core.process import get_pipeline
from hookpipe.fleet import operations
from hookpipe.fleet import read as fleet
from hookpipe.jobs import process_pool
from tests.conftest import Fetch
from tests.test_cluster import FAST, put, wait_for
from tests.test_metrics import SCRAPER
from tests.test_responders import aread, read
from tests.testapp import plugins as tp

P = "tests.testapp."
SLEEP = 0.03  # the tween's; its bucket is le=0.05, and nothing falls at or under 0.025
ON = {"DURATIONS": True, "BEARER_TOKEN": "scraper"}


def timed_pipeline(tween: str = "sleeping", **extra: Any) -> dict[str, Any]:
    return {
        "TWEENS": [
            {"factory": P + "tweens." + tween, "name": "slow", "options": {"seconds": SLEEP}}
        ],
        "HOOKS": [{"class": P + "hooks.SlowRoute", "options": {"seconds": 0.015}}],
        "RESPONDERS": [P + "plugins.Chunks", P + "plugins.AsyncChunks"],
        "PLUGINS": {"chunks": {"COUNT": 2, "DELAY": 0.2}},
        "METRICS": ON,
        **extra,
    }


@pytest.fixture(autouse=True)
def _fresh_store(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(durations, "_store", durations.Durations())
    caches["default"].clear()
    yield
    operations.current().publisher.stop()
    process_pool.shutdown(5)
    process_pool.reset_for_tests()
    tp.reset()
    caches["default"].clear()


def whole(response: HttpResponseBase) -> bytes:
    if getattr(response, "is_async", False):
        return async_to_sync(aread)(response)
    return read(response)


def series(kind: str, plugin: str, phase: str) -> dict[str, Any]:
    return durations.store().snapshot()[f"{kind} {plugin} {phase}"]


def test_bucket_bounds_hold_a_value_equal_to_the_bound() -> None:
    histogram = durations.Histogram()
    for seconds in (0.00005, 0.001, 0.0011, 20.0):
        histogram.observe(seconds)
    snap = histogram.snapshot()
    assert snap["buckets"]["0.0001"] == 1
    assert snap["buckets"]["0.001"] == 2  # 0.001 itself is "le 0.001"
    assert snap["buckets"]["0.0025"] == 3
    assert snap["buckets"]["10.0"] == 3
    assert snap["buckets"]["+Inf"] == snap["count"] == 4
    assert snap["sum"] == pytest.approx(20.00215)


@pytest.mark.parametrize("tween", ["sleeping", "async_sleeping"])
def test_requests_land_in_the_buckets_of_the_time_they_took(fetch: Fetch, tween: str) -> None:
    with override_settings(HOOKPIPE=timed_pipeline(tween)):
        for _ in range(3):
            assert fetch("/").status_code == 200
        response = fetch("/stream/sync")
        started = time.monotonic()
        assert whole(response) == b"chunk 0\nchunk 1\n"
        streamed = time.monotonic() - started
        # An async respond(): on the event loop under ASGI, through async_to_sync under WSGI.
        assert whole(fetch("/stream/async")).startswith(b"chunk 0")
    assert series("responder", "async-chunks", "respond")["count"] == 1
    slow = series("tween", "slow", "call")
    assert slow["count"] == 5
    assert slow["buckets"]["0.025"] == 0  # every request slept 30 ms in it
    assert slow["buckets"]["1.0"] == 5
    assert slow["sum"] >= 5 * SLEEP
    # MAIN is inside the tween: less time, as often; what is left is the tween's own.
    main = series("main", MAIN, "call")
    assert main["count"] == 5
    assert main["sum"] < slow["sum"] - 5 * SLEEP * 0.9
    hook = series("hook", P + "hooks.SlowRoute", "on_route")
    assert hook["count"] == 5
    assert hook["buckets"]["0.01"] == 0  # 15 ms each
    assert series("hook", P + "hooks.SlowRoute", "after")["count"] == 5
    # The responder: respond() and its first chunk, not the 200 ms until the second.
    respond = series("responder", "chunks", "respond")
    assert respond["count"] == 1
    assert streamed >= 0.2
    assert respond["buckets"]["0.1"] == 1


@pytest.mark.django_db
@override_settings(
    HOOKPIPE={
        "HANDLERS": [P + "plugins.Sleepy"],
        "PLUGINS": {"sleepy": {"SECONDS": SLEEP}},
        "METRICS": ON,
    }
)
def test_handler_jobs_land_in_buckets_too(fetch: Fetch) -> None:
    for _ in range(2):
        fetch("/webhooks/in", method="post", data=b"x", content_type="a/b")
    process_pool.shutdown(5)  # every job ended
    handle = series("handler", "sleepy", "handle")
    assert handle["count"] == 2
    assert handle["buckets"]["0.025"] == 0
    assert handle["buckets"]["1.0"] == 2


def test_off_nothing_is_timed_and_nothing_is_kept(fetch: Fetch) -> None:
    # Through every kind of piece the timers would wrap: a tween, a hook, responders.
    config = timed_pipeline()
    del config["METRICS"]
    with override_settings(HOOKPIPE=config):
        fetch("/")
        fetch("/stream/sync")
        assert get_pipeline().timer is None
    with override_settings(HOOKPIPE={"HOOKS": [P + "hooks.SlowRoute"]}):
        fetch("/")
    with override_settings(HOOKPIPE={}):
        fetch("/")
    assert durations.store().snapshot() == {}
    assert not durations.store().handlers


def test_on_each_piece_is_timed_once_per_call(fetch: Fetch) -> None:
    with override_settings(HOOKPIPE=timed_pipeline()):
        fetch("/")
        fetch("/stream/sync")
    counts = {key: one["count"] for key, one in durations.store().snapshot().items()}
    assert counts == {
        "tween slow call": 2,
        "main hookpipe.MAIN call": 2,
        "hook tests.testapp.hooks.SlowRoute on_route": 2,
        "hook tests.testapp.hooks.SlowRoute after": 2,
        "responder chunks respond": 1,
        "responder async-chunks respond": 0,  # wrapped, never asked
    }
    assert durations.store().handlers


def test_a_bad_value_is_a_check_error() -> None:
    with override_settings(HOOKPIPE={"METRICS": {"DURATIONS": "yes", "BUCKETS": []}}):
        found = {(m.id, m.msg.split(" must")[0]) for m in check_hookpipe()}
        assert conf.get_config().metrics["DURATIONS"] is False
    assert ("hookpipe.E009", 'HOOKPIPE["METRICS"]["DURATIONS"]') in found
    assert any(i == "hookpipe.E002" and "'BUCKETS'" in msg for i, msg in found)


@pytest.mark.django_db
def test_the_view_exposes_the_fleet_s_histograms_parsed_by_prometheus(fetch: Fetch) -> None:
    with override_settings(HOOKPIPE=timed_pipeline(CLUSTER=FAST)):
        operations.current().watch.reset()  # the switch check starts the publisher, as in a server
        for _ in range(2):
            fetch("/")
        settings = conf.get_config().cluster
        now = time.time()
        other = {
            "tween slow call": {
                "kind": "tween",
                "plugin": "slow",
                "phase": "call",
                "buckets": {le: (0 if le in durations.LE[:6] else 5) for le in durations.LE},
                "sum": 0.2,
                "count": 5,
            }
        }
        put(77, now, {}, durations=other)

        def published() -> Any:
            fleet_now = fleet.read(settings)
            mine = [p for p in fleet_now["processes"] if p["pid"] != 77]
            found = mine and mine[0]["durations"].get("tween slow call")
            return fleet_now if found and found["count"] == 2 else None

        totals = wait_for(published)["durations"]["tween slow call"]
        assert totals["count"] == 7
        assert totals["buckets"]["0.025"] == 5  # the other process's, none of ours
        assert totals["buckets"]["1.0"] == 7
        body = Client().get("/metrics/", headers=SCRAPER).content.decode()
    families = {f.name: f for f in text_string_to_metric_families(body)}
    histogram = families["hookpipe_plugin_duration_seconds"]
    assert histogram.type == "histogram"
    ours = [
        s for s in histogram.samples if s.labels.get("plugin") == "slow" and s.labels["pid"] != "77"
    ]
    by_name = {}
    for sample in ours:
        key = (sample.name, sample.labels.get("le"))
        by_name[key] = sample.value
    assert by_name[("hookpipe_plugin_duration_seconds_bucket", "0.025")] == 0
    assert by_name[("hookpipe_plugin_duration_seconds_bucket", "1.0")] == 2
    assert by_name[("hookpipe_plugin_duration_seconds_bucket", "+Inf")] == 2
    assert by_name[("hookpipe_plugin_duration_seconds_count", None)] == 2
    assert by_name[("hookpipe_plugin_duration_seconds_sum", None)] >= 2 * SLEEP
    kinds = {s.labels["kind"] for s in histogram.samples}
    assert {"tween", "main", "hook"} <= kinds
    other_count = [
        s.value for s in histogram.samples if s.name.endswith("_count") and s.labels["pid"] == "77"
    ]
    assert other_count == [5]


def test_no_observation_is_lost_while_another_thread_reads() -> None:
    histogram = durations.Histogram()
    per_thread, threads = 50_000, 4

    # Through the timed wrapper, as requests do: it holds on to the list it appends to.
    timed = durations.timed(lambda: None, histogram, False)

    def observe() -> None:
        for _ in range(per_thread):
            timed()

    done = threading.Event()
    reads = [0]

    def read() -> None:
        while not done.is_set():
            histogram.snapshot()  # folds while the others append
            reads[0] += 1

    reader = threading.Thread(target=read)
    reader.start()
    workers = [threading.Thread(target=observe) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    done.set()
    reader.join()
    snap = histogram.snapshot()
    assert snap["count"] == snap["buckets"]["+Inf"] == per_thread * threads
    assert reads[0] > 1


def test_a_series_nobody_reads_stays_bounded() -> None:
    # Without the fleet's publisher nothing reads (and folds) the series: the requests
    # fold it themselves, so memory stays bounded and nothing is lost.
    histogram = durations.Histogram()
    n = durations.FOLD_AT * 3 + 5
    for _ in range(n):
        histogram.observe(0.001)
        assert len(histogram.pending) < durations.FOLD_AT
    assert histogram.snapshot()["count"] == n
