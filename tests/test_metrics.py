"""Prometheus metrics: read from the fleet's records in the shared cache, so any worker
answering the scrape gives the same series; 501 without the extra."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator

import pytest
from django.core.cache import caches
from django.test import Client, override_settings

from tests.test_cluster import PIPELINE, put

pytestmark = pytest.mark.urls("tests.testapp.urls")


@pytest.fixture(autouse=True)
def _clean() -> Iterator[None]:
    caches["default"].clear()
    yield
    caches["default"].clear()


@override_settings(HOOKPIPE=PIPELINE)
def test_counters_gauges_and_quantiles_per_process() -> None:
    now = time.time()
    put(11, now, {"chunks": {"answered": 4, "errors": 1, "stream_errors": 0}})
    job = {
        "submitted": 3,
        "succeeded": 2,
        "queued": 1,
        "running": 0,
        "duration_ms": {"p50": 1.5, "p95": 7.0, "max": 9.0, "window": 2},
    }
    put(12, now, {"recorder": job}, pool={"workers": 2, "running": 0, "queue_depth": 1})
    response = Client().get("/metrics/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    body = response.content.decode()
    assert (
        'hookpipe_plugin_answered_total{host="other",kind="responder",pid="11",plugin="chunks"}'
        " 4.0" in body
    )
    assert 'hookpipe_plugin_errors_total{host="other",kind="responder",pid="11"' in body
    assert (
        'hookpipe_plugin_submitted_total{host="other",kind="handler",pid="12",plugin="recorder"}'
        " 3.0" in body
    )
    assert 'hookpipe_handler_jobs{host="other",kind="handler",pid="12",plugin="recorder",' in body
    assert (
        'hookpipe_handler_duration_milliseconds{host="other",kind="handler",pid="12",'
        'plugin="recorder",quantile="0.95"} 7.0' in body
    )
    assert 'hookpipe_pool{host="other",pid="12",what="queue_depth"} 1.0' in body
    assert 'hookpipe_process_last_seen_seconds{host="other",pid="11",state="live"}' in body
    # Only hookpipe's own series: no process or platform collectors of the default registry.
    assert "process_cpu_seconds_total" not in body
    assert "python_gc" not in body


@override_settings(HOOKPIPE=PIPELINE)
def test_without_the_extra_the_view_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "prometheus_client", None)
    response = Client().get("/metrics/")
    assert response.status_code == 501
    assert b"pip install hookpipe[prometheus]" in response.content
