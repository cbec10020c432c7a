"""Prometheus metrics of the fleet, from the records the processes already publish.

Install the extra (``pip install hookpipe[prometheus]``) and add the view to the
project's URLconf::

    from hookpipe.fleet import metrics_view

    urlpatterns += [path("internal/hookpipe-metrics", metrics_view)]

It answers a user with the Pipeline page's permission (``hookpipe.view_pipeline``) and a
scraper that sends ``Authorization: Bearer <token>`` with ``METRICS["BEARER_TOKEN"]``;
anyone else gets a 403.

The metrics are read from the cluster state in the shared cache (:mod:`hookpipe.fleet`),
not from counters of the process that happens to answer the scrape: every worker gives
the same answer, so they are right under gunicorn with any number of workers, with or
without ``PROMETHEUS_MULTIPROC_DIR`` (which hookpipe's metrics neither need nor use), and
nothing is added to the request path. Each series carries ``host`` and ``pid`` labels,
so a counter only ever grows (a restarted worker is a new series); sum them in PromQL.

They are in a registry of their own, so they never mix with django-prometheus's
(which exposes Django's requests, responses, views, database and cache) or with the
project's default registry. See ``docs/fleet.rst``.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Iterator
from typing import Any

from django.http import HttpRequest, HttpResponse

from .. import conf
from . import read as fleet

logger = logging.getLogger("hookpipe")

#: Counter keys of a handler's or responder's ``"counters"`` that only grow.
MONOTONIC = (
    "answered",
    "errors",
    "stream_errors",
    "handles_errors",
    "submitted",
    "succeeded",
    "failed",
    "rejected",
    "inline",
)
#: Keys that go up and down: the handler jobs waiting and running now.
LEVELS = ("queued", "running")
#: Keys of a process's pool state exposed as gauges.
POOL = ("workers", "running", "queue_depth", "max_workers", "max_queue")
#: A task handler's task counters (its ``"task"`` → ``"counters"``) that only grow.
TASK_MONOTONIC = ("enqueued", "not_stored", "enqueue_failed", "fell_back", "too_large")


class FleetCollector:
    """A prometheus_client collector over :func:`hookpipe.fleet.read.read`."""

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )

        data = fleet.read(conf.get_config().cluster)
        labels = ["plugin", "kind", "host", "pid"]
        counters = {
            key: CounterMetricFamily(
                f"hookpipe_plugin_{key}", f"hookpipe plugin counter {key!r}", labels=labels
            )
            for key in MONOTONIC
        }
        jobs = GaugeMetricFamily(
            "hookpipe_handler_jobs",
            "Handler jobs queued or running now",
            labels=[*labels, "state"],
        )
        durations = GaugeMetricFamily(
            "hookpipe_handler_duration_milliseconds",
            "Handler job duration over the recent window, by quantile (0.5, 0.95, 1)",
            labels=[*labels, "quantile"],
        )
        pool = GaugeMetricFamily(
            "hookpipe_pool", "Thread pool state", labels=["host", "pid", "what"]
        )
        up = GaugeMetricFamily(
            "hookpipe_process_last_seen_seconds",
            "Seconds since the process last published its state",
            labels=["host", "pid", "state"],
        )
        tasks = {
            key: CounterMetricFamily(
                f"hookpipe_task_{key}",
                f"Task handler counter {key!r}",
                labels=["plugin", "host", "pid"],
            )
            for key in TASK_MONOTONIC
        }
        histograms = HistogramMetricFamily(
            "hookpipe_plugin_duration_seconds",
            "Time spent in a plugin, per call (METRICS['DURATIONS']); a tween's includes "
            "everything it wraps, MAIN's the hooks, plugins and view",
            labels=["plugin", "kind", "phase", "host", "pid"],
        )
        for proc in data["processes"]:
            where = [proc["host"], str(proc["pid"])]
            up.add_metric([*where, proc["state"]], proc["seen_ago_s"])
            for one in (proc.get("durations") or {}).values():
                histograms.add_metric(
                    [one["plugin"], one["kind"], one["phase"], *where],
                    buckets=list(one["buckets"].items()),
                    sum_value=one["sum"],
                )
            for name, values in proc["counters"].items():
                task = values.get("task") or {}
                for key in TASK_MONOTONIC:
                    if isinstance(task.get(key), int):
                        tasks[key].add_metric([name, *where], task[key])
                kind = "handler" if "submitted" in values else "responder"
                for key in MONOTONIC:
                    if isinstance(values.get(key), int):
                        counters[key].add_metric([name, kind, *where], values[key])
                for key in LEVELS:
                    if isinstance(values.get(key), int):
                        jobs.add_metric([name, kind, *where, key], values[key])
                window = values.get("duration_ms") or {}
                for key, quantile in (("p50", "0.5"), ("p95", "0.95"), ("max", "1")):
                    if isinstance(window.get(key), int | float):
                        durations.add_metric([name, kind, *where, quantile], window[key])
            for key in POOL:
                value = (proc.get("pool") or {}).get(key)
                if isinstance(value, int):
                    pool.add_metric([*where, key], value)
        yield from counters.values()
        yield from (jobs, durations, pool, up, histograms)
        yield from tasks.values()
        yield from task_backend_gauges()


def _may_read(request: HttpRequest) -> bool:
    token = conf.get_config().metrics["BEARER_TOKEN"]
    given = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return True
    user = getattr(request, "user", None)
    return user is not None and user.has_perm("hookpipe.view_pipeline")


def task_backend_gauges() -> Iterator[Any]:
    """What each django-tasks-db backend holds of hookpipe's tasks, read at the scrape
    (one query per backend and gauge): not per process, the table is the fleet's."""
    from prometheus_client.core import GaugeMetricFamily

    from ..tasks import backends as task_backends
    from ..tasks import recovery as task_recovery

    if not task_backends.available():
        return
    aliases = task_recovery.database_aliases()
    if not aliases:
        return
    by_status = GaugeMetricFamily(
        "hookpipe_tasks",
        "hookpipe's tasks in the database backend, by status",
        labels=["backend", "status"],
    )
    stale = GaugeMetricFamily(
        "hookpipe_tasks_stale_running",
        "hookpipe's tasks RUNNING for longer than TASK_RUNNER['ABANDONED_AFTER'] (lost workers)",
        labels=["backend"],
    )
    for alias in aliases:
        view = task_recovery.backend_view(alias) or {}
        if "error" in view:  # no table yet, database down: no series rather than a 500
            logger.warning("hookpipe: metrics: task backend %r: %s", alias, view["error"])
            continue
        for status, n in sorted(view.get("by_status", {}).items()):
            by_status.add_metric([alias, status], n)
        stale.add_metric([alias], view.get("stale_running", 0))
    yield by_status
    yield stale


def metrics_view(request: HttpRequest) -> HttpResponse:
    """The fleet's metrics in Prometheus's text format, for a user with the Pipeline
    page's permission (``hookpipe.view_pipeline``) or a scraper that sends
    ``Authorization: Bearer <METRICS["BEARER_TOKEN"]>``; anyone else gets a 403."""
    if not _may_read(request):
        return HttpResponse(
            "Forbidden: the metrics need the hookpipe.view_pipeline permission or the "
            "bearer token.\n",
            status=403,
            content_type="text/plain; charset=utf-8",
        )
    try:
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
    except ImportError:  # the extra is not installed
        return HttpResponse(
            "prometheus-client is not installed: pip install hookpipe[prometheus]\n",
            status=501,
            content_type="text/plain; charset=utf-8",
        )
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FleetCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
