"""Prometheus metrics: read from the fleet's records in the shared cache, so any worker
answering the scrape gives the same series; 501 without the extra."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator

import pytest
from django.core.cache import caches
from django.test import Client, override_settings

from tests.test_cluster import PIPELINE as FLEET_PIPELINE
from tests.test_cluster import put

#: A scraper's credentials, as HOOKPIPE["METRICS"]["BEARER_TOKEN"] expects them.
SCRAPER = {"Authorization": "Bearer scraper"}
PIPELINE = {**FLEET_PIPELINE, "METRICS": {"BEARER_TOKEN": "scraper"}}

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
    response = Client().get("/metrics/", headers=SCRAPER)
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
    response = Client().get("/metrics/", headers=SCRAPER)
    assert response.status_code == 501
    assert b"pip install hookpipe[prometheus]" in response.content


@override_settings(HOOKPIPE=PIPELINE)
def test_task_counters_of_each_process() -> None:
    task = {"enqueued": 5, "not_stored": 1, "enqueue_failed": 2, "fell_back": 1, "too_large": 0}
    put(13, time.time(), {"audit": {"submitted": 0, "task": task}})
    body = Client().get("/metrics/", headers=SCRAPER).content.decode()
    assert 'hookpipe_task_enqueued_total{host="other",pid="13",plugin="audit"} 5.0' in body
    assert 'hookpipe_task_enqueue_failed_total{host="other",pid="13",plugin="audit"} 2.0' in body
    assert 'hookpipe_task_fell_back_total{host="other",pid="13",plugin="audit"} 1.0' in body
    assert 'hookpipe_task_too_large_total{host="other",pid="13",plugin="audit"} 0.0' in body
    assert 'hookpipe_task_not_stored_total{host="other",pid="13",plugin="audit"} 1.0' in body
    assert "hookpipe_task_on_commit" not in body  # a gauge no rollback could bring down


@pytest.mark.django_db(transaction=True)
@override_settings(
    HOOKPIPE={
        "HANDLERS": [{"class": "tests.testapp.plugins.TaskRecorder", "TASK_BACKEND": "db"}],
        "TASK_RUNNER": {"ABANDONED_AFTER": 30},
        "METRICS": {"BEARER_TOKEN": "scraper"},
    }
)
def test_the_database_backend_s_tasks_by_status_and_stale() -> None:
    import datetime

    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult
    from prometheus_client.parser import text_string_to_metric_families

    for _ in range(3):
        Client().post("/webhooks/accept", b"x", content_type="a/b")
    first = DBTaskResult.objects.order_by("pk").first()
    assert first is not None
    long_ago = timezone.now() - datetime.timedelta(seconds=60)
    DBTaskResult.objects.filter(pk=first.pk).update(status="RUNNING", started_at=long_ago)
    body = Client().get("/metrics/", headers=SCRAPER).content.decode()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
    }
    assert samples[("hookpipe_tasks", (("backend", "db"), ("status", "READY")))] == 2
    assert samples[("hookpipe_tasks", (("backend", "db"), ("status", "RUNNING")))] == 1
    assert samples[("hookpipe_tasks_stale_running", (("backend", "db"),))] == 1
