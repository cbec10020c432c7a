"""Prometheus metrics of the fleet, from the records the processes already publish.

Install the extra (``pip install hookpipe[prometheus]``) and add the view to the
project's URLconf::

    from hookpipe.fleet import metrics_view

    urlpatterns += [path("internal/hookpipe-metrics", metrics_view)]

It answers a user with the Pipeline page's permission (``hookpipe.view_pipeline``) and a
scraper that sends ``Authorization: Bearer <token>`` with ``METRICS["BEARER_TOKEN"]``
(or, when that is empty, the environment's ``HOOKPIPE_METRICS_BEARER_TOKEN``); a
request with neither gets a 401, a user without the permission a 403.

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
import os
from collections.abc import Iterator
from typing import Any

from django.http import HttpRequest, HttpResponse

from .. import conf
from ..schema import db_error_text
from . import read as fleet

logger = logging.getLogger("hookpipe")

#: Counter keys of a handler's or responder's ``"counters"`` that only grow, with
#: their HELP text. A plugin is exported with the keys its record has: a responder's,
#: or a handler's for where its jobs run (:data:`hookpipe.jobs.counters.JOB_KEYS_BY_RUNNER`:
#: a task handler has no pool counters unless its jobs fall back to the pool).
MONOTONIC = {
    "answered": "Requests a responder answered",
    "errors": "Responder errors before the first chunk (answered by on_error or the failsafe)",
    "stream_errors": "Responder streams that failed after the first chunk",
    "handles_errors": "handles() calls that raised (taken as False)",
    "submitted": "Handler jobs handed to the pool or run inline",
    "succeeded": "Handler jobs whose handle() returned",
    "failed": "Handler jobs whose handle() raised",
    "rejected": "Handler jobs turned away by a full pool (ON_FULL), or left queued at exit",
    "inline": "Handler jobs run in the request's thread (an inline handler, ON_FULL='inline')",
}
#: Keys that go up and down: the handler jobs waiting and running now.
LEVELS = ("queued", "running")
#: Keys of a process's pool state exposed as gauges.
POOL = ("workers", "running", "queue_depth", "max_workers", "max_queue")
#: A task handler's task counters (its ``"task"`` → ``"counters"``) that only grow,
#: with their HELP text.
TASK_MONOTONIC = {
    "enqueued": "Task handler jobs stored on the task backend",
    "not_stored": "Task handler jobs not stored because their request failed (status 400 or more)",
    "duplicates": "Task handler deliveries not stored because their idempotency key was "
    "stored already",
    "enqueue_failed": "Task handler jobs the task backend could not store (answered 503, "
    "or run in the pool with ON_ENQUEUE_ERROR='pool')",
    "fell_back": "Task handler jobs run in this process's pool because the task backend "
    "could not store them (ON_ENQUEUE_ERROR='pool'; not durable)",
    "too_large": "Requests answered 413 because their task handler's snapshot was over "
    "TASK_RUNNER['MAX_SNAPSHOT_BYTES'] (nothing stored)",
}
#: Where a scraper's token may come from when ``METRICS["BEARER_TOKEN"]`` is empty.
TOKEN_VARIABLE = "HOOKPIPE_METRICS_BEARER_TOKEN"


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
            key: CounterMetricFamily(f"hookpipe_plugin_{key}", text, labels=labels)
            for key, text in MONOTONIC.items()
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
            key: CounterMetricFamily(f"hookpipe_task_{key}", text, labels=["plugin", "host", "pid"])
            for key, text in TASK_MONOTONIC.items()
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
                kind = "responder" if "answered" in values else "handler"
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
        yield from task_pause_gauges()


def bearer_token() -> str:
    """The token a scraper sends: ``METRICS["BEARER_TOKEN"]``, else the environment's
    ``HOOKPIPE_METRICS_BEARER_TOKEN``; empty: no scraper may read without logging in.
    Read at each scrape, so a rotated token needs no rebuild (a restart for the
    environment)."""
    return str(conf.get_config().metrics["BEARER_TOKEN"] or os.environ.get(TOKEN_VARIABLE, ""))


def _refusal(request: HttpRequest) -> HttpResponse | None:
    """``None`` when ``request`` may read the metrics, else the answer: 401 for a
    missing or wrong token (and no logged-in user), 403 for a user without the
    permission."""
    token = bearer_token()
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        # Compared in constant time: the answer's timing tells nothing of the token.
        if token and hmac.compare_digest(given.strip().encode(), token.encode()):
            return None
        return _unauthorized("the bearer token is not the one configured")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return _unauthorized("send Authorization: Bearer <token>, or log in")
    if user.has_perm("hookpipe.view_pipeline"):
        return None
    return HttpResponse(
        "Forbidden: the metrics need the hookpipe.view_pipeline permission.\n",
        status=403,
        content_type="text/plain; charset=utf-8",
    )


def _unauthorized(why: str) -> HttpResponse:
    response = HttpResponse(
        f"Unauthorized: {why}.\n", status=401, content_type="text/plain; charset=utf-8"
    )
    response["WWW-Authenticate"] = 'Bearer realm="hookpipe metrics"'
    return response


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
        "hookpipe's tasks in the database backend, by queue and status",
        labels=["backend", "queue", "status"],
    )
    dead = GaugeMetricFamily(
        "hookpipe_tasks_dead",
        "hookpipe's dead task jobs (out of attempts, or unable to run) not replayed yet",
        labels=["backend", "queue"],
    )
    stale = GaugeMetricFamily(
        "hookpipe_tasks_stale_running",
        "hookpipe's RUNNING tasks whose worker stopped beating (or never beat and "
        "ran longer than TASK_RUNNER['ABANDONED_AFTER']): lost workers",
        labels=["backend", "queue"],
    )
    waiting = GaugeMetricFamily(
        "hookpipe_tasks_oldest_ready_seconds",
        "How long the oldest of hookpipe's READY tasks in the queue has waited for a "
        "worker (0: none waits); growing: no worker takes them",
        labels=["backend", "queue"],
    )
    alive = GaugeMetricFamily(
        "hookpipe_task_workers_live",
        "Task workers of the database backend whose last heartbeat is within "
        "TASK_RUNNER['HEARTBEAT_TIMEOUT']; 0 while tasks wait: nothing takes them",
        labels=["backend"],
    )
    for alias in aliases:
        view = task_recovery.backend_view(alias) or {}
        if "error" in view:  # no table yet, database down: no series rather than a 500
            logger.warning("hookpipe: metrics: task backend %r: %s", alias, view["error"])
            continue
        for queue, counts in view.get("queues", {}).items():
            for status, n in sorted(counts["by_status"].items()):
                by_status.add_metric([alias, queue, status], n)
            dead.add_metric([alias, queue], counts["dead"])
            stale.add_metric([alias, queue], counts["stale_running"])
            waiting.add_metric([alias, queue], counts["oldest_ready_s"])
        alive.add_metric([alias], view.get("live_workers", 0))
    yield by_status
    yield dead
    yield stale
    yield waiting
    yield alive


def task_pause_gauges() -> Iterator[Any]:
    """Which task handlers are paused and how many of their jobs are parked, read at
    the scrape from the database (two queries): a series for each task handler this
    process has, and for any other handler that is paused or has parked jobs."""
    from prometheus_client.core import GaugeMetricFamily

    from ..core.plan import plan
    from ..tasks import pause as task_pause

    configured = task_pause.task_handlers(plan(conf.get_config()))
    try:
        states = task_pause.states()
    except Exception as exc:  # no table yet, database down: no series rather than a 500
        logger.warning("hookpipe: metrics: paused task handlers: %s", db_error_text(exc))
        return
    names = sorted(configured | set(states))
    if not names:
        return
    paused = GaugeMetricFamily(
        "hookpipe_task_handler_paused",
        "1 for a task handler an operator paused (its jobs are parked, not run), else 0",
        labels=["handler"],
    )
    parked = GaugeMetricFamily(
        "hookpipe_task_handler_parked_jobs",
        "Jobs of a paused task handler parked by the task workers, waiting for its resume",
        labels=["handler"],
    )
    for name in names:
        is_paused, count = states.get(name, (False, 0))
        paused.add_metric([name], 1 if is_paused else 0)
        parked.add_metric([name], count)
    yield paused
    yield parked


def metrics_view(request: HttpRequest) -> HttpResponse:
    """The fleet's metrics in Prometheus's text format, for a user with the Pipeline
    page's permission (``hookpipe.view_pipeline``) or a scraper that sends
    ``Authorization: Bearer <token>`` (:func:`bearer_token`); 401 without either, 403
    for a user without the permission."""
    refused = _refusal(request)
    if refused is not None:
        return refused
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
