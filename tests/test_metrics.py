"""Prometheus metrics: read from the fleet's records in the shared cache, so any worker
answering the scrape gives the same series; 501 without the extra."""

from __future__ import annotations

import io
import json
import os
import sys
import time
from collections.abc import Iterator

import pytest
from django.core.cache import caches
from django.core.management import call_command
from django.test import Client, override_settings

from hookpipe.fleet import metrics
from hookpipe.jobs import process_pool
from hookpipe.tasks import runner as task_runner
from tests.test_cluster import PIPELINE as FLEET_PIPELINE
from tests.test_cluster import put, wait_for
from tests.testapp import plugins as tp

P = "tests.testapp.plugins."

#: A scraper's credentials, as HOOKPIPE["METRICS"]["BEARER_TOKEN"] expects them.
SCRAPER = {"Authorization": "Bearer scraper"}
PIPELINE = {**FLEET_PIPELINE, "METRICS": {"BEARER_TOKEN": "scraper"}}

pytestmark = pytest.mark.urls("tests.testapp.urls")


@pytest.fixture(autouse=True)
def _clean() -> Iterator[None]:
    caches["default"].clear()
    tp.reset()
    process_pool.reset_for_tests()
    yield
    process_pool.shutdown(5)
    process_pool.reset_for_tests()
    tp.reset()
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
    queue = (("backend", "db"), ("queue", "default"))
    assert samples[("hookpipe_tasks", (*queue, ("status", "READY")))] == 2
    assert samples[("hookpipe_tasks", (*queue, ("status", "RUNNING")))] == 1
    assert samples[("hookpipe_tasks_stale_running", queue)] == 1
    assert samples[("hookpipe_tasks_dead", queue)] == 0
    assert samples[("hookpipe_task_workers_live", (("backend", "db"),))] == 0
    # The two READY ones wait for a worker; none takes them: the wait grows.
    assert 0 <= samples[("hookpipe_tasks_oldest_ready_seconds", queue)] < 30
    DBTaskResult.objects.filter(status="READY").update(enqueued_at=long_ago)
    body = Client().get("/metrics/", headers=SCRAPER).content.decode()
    [waited] = [
        s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
        if s.name == "hookpipe_tasks_oldest_ready_seconds"
    ]
    assert 60 <= waited < 90


def scrape(headers: dict[str, str]) -> dict[tuple[str, str], float]:
    """The view's answer read by prometheus_client's own parser: ``(sample name,
    plugin) -> value`` for the per-plugin series (every family's HELP is checked)."""
    from prometheus_client.parser import text_string_to_metric_families

    response = Client().get("/metrics/", headers=headers)
    assert response.status_code == 200, response.content
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        assert family.documentation, family.name
        assert "(jobs given to the task backend)" not in family.documentation
        for sample in family.samples:
            if "plugin" in sample.labels and sample.labels.get("pid") == str(os.getpid()):
                samples[(sample.name, sample.labels["plugin"])] = sample.value
    return samples


@pytest.mark.django_db(transaction=True)  # the task jobs are stored on commit
@pytest.mark.usefixtures("clean_fleet_cache")
@override_settings(
    HOOKPIPE={
        "HANDLERS": [P + "Recorder", P + "InlineRecorder", P + "TaskRecorder"],
        "CLUSTER": {"PUBLISH_EVERY": 0.05},
        "METRICS": {"BEARER_TOKEN": "scraper"},
    }
)
def test_each_handler_is_exported_with_the_series_of_where_it_runs() -> None:
    from hookpipe.fleet import operations

    operations.current().watch.reset()  # publishing starts with the first request
    task_runner.reset_counters()  # the process's, which earlier tests counted in
    for _ in range(2):
        assert Client().post("/webhooks/accept", b"{}", content_type="a/b").status_code == 202
    assert tp.DONE["recorder"].wait(5)

    def published() -> dict[tuple[str, str], float] | None:
        found = scrape(SCRAPER)
        jobs = found.get(("hookpipe_plugin_succeeded_total", "recorder"))
        tasks = found.get(("hookpipe_task_enqueued_total", "task-recorder"))
        return found if jobs == tasks == 2 else None

    samples = wait_for(published)
    names = {plugin: {n for n, p in samples if p == plugin} for _, plugin in samples}
    # The pool handler: its jobs, waiting and running, turned away.
    assert samples[("hookpipe_plugin_submitted_total", "recorder")] == 2
    assert {"hookpipe_plugin_rejected_total", "hookpipe_handler_jobs"} <= names["recorder"]
    assert not any(n.startswith("hookpipe_task_") for n in names["recorder"])
    # The inline handler: its jobs, never queued nor turned away.
    assert samples[("hookpipe_plugin_succeeded_total", "inline-recorder")] == 2
    assert "hookpipe_plugin_rejected_total" not in names["inline-recorder"]
    # The task handler: its task counters, none of the pool's zeros.
    assert samples[("hookpipe_task_enqueued_total", "task-recorder")] == 2
    assert names["task-recorder"] == {
        "hookpipe_plugin_handles_errors_total",
        *(f"hookpipe_task_{key}_total" for key in metrics.TASK_MONOTONIC),
    }
    # The page and the command show the same: no pool counters for the task handler.
    out = io.StringIO()
    call_command("hookpipe", "--json", stdout=out)
    shown = {h["name"]: h["counters"] for h in json.loads(out.getvalue())["handlers"]}
    assert "submitted" not in shown["task-recorder"]
    assert "rejected" not in shown["inline-recorder"]
    assert shown["recorder"]["submitted"] == 2
