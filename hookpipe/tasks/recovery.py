"""At least once on the database backend: tasks whose worker died are run again.

``django-tasks-db``'s ``db_worker`` marks a task RUNNING when it claims it and
SUCCESSFUL/FAILED when it ends. A worker killed in between (SIGKILL, the OOM killer, a
machine lost) leaves the task RUNNING for ever: nothing in the backend runs it again.
For hookpipe's own tasks (those whose path is :data:`TASK_PATH`, on a database backend)
:func:`recover` makes every *abandoned* one READY again, so the next free worker takes
it. A RUNNING task is abandoned when

- its worker beats (:mod:`.heartbeat`) and its last beat is older than
  ``HOOKPIPE["TASK_RUNNER"]["HEARTBEAT_TIMEOUT"]`` (20 s): the worker is gone. A task on
  a worker that beats is never taken from it, however long it runs;
- its worker never beat (a worker that does not load hookpipe's app, or one killed
  between claiming its first task and its first beat) and it started more than
  ``ABANDONED_AFTER`` seconds ago (600 s): without a heartbeat, a dead worker cannot be
  told from a slow one, so set it above your longest run.

Every ``db_worker`` sweeps by itself, every ``HEARTBEAT_EVERY`` seconds, from its
heart's thread (idle or busy); ``manage.py hookpipe --recover-tasks`` sweeps on demand.
"""

from __future__ import annotations

import datetime
import logging
from typing import Any

from django.db.models import Q
from django.utils import timezone

from .. import conf
from ..schema import db_error_text
from . import backends as compat

logger = logging.getLogger("hookpipe")

#: The task a worker runs for a handler (:mod:`hookpipe.tasks.worker`), as backends store it.
TASK_PATH = "hookpipe.tasks.worker.run_handler"


def database_aliases() -> list[str]:
    """The ``TASKS`` aliases that are ``django-tasks-db`` backends."""
    return [alias for alias in compat.backend_settings() if compat.is_database_backend(alias)]


def _results() -> Any:
    from django_tasks_db.models import DBTaskResult

    return DBTaskResult.objects.filter(task_path=TASK_PATH, backend_name__in=database_aliases())


def abandoned(alias: str | None = None) -> list[tuple[Any, datetime.datetime, str]]:
    """hookpipe's RUNNING tasks (on ``alias``, or on every database backend) that their
    worker abandoned (see the module's docstring), as ``(id, started_at, queue)``."""
    from ..models import TaskWorker

    results = _results() if alias is None else _results().filter(backend_name=alias)
    running = list(
        results.filter(status=compat.TaskResultStatus.RUNNING).values_list(
            "id", "worker_ids", "started_at", "queue_name"
        )
    )
    if not running:
        return []
    runner = conf.get_config().task_runner
    now = timezone.now()
    beat_cutoff = now - datetime.timedelta(seconds=float(runner["HEARTBEAT_TIMEOUT"]))
    claim_cutoff = now - datetime.timedelta(seconds=float(runner["ABANDONED_AFTER"]))
    workers = {ids[-1] for _, ids, _, _ in running if ids}
    beats = dict(
        TaskWorker.objects.filter(worker_id__in=workers).values_list("worker_id", "beat_at")
    )
    found = []
    for pk, worker_ids, started_at, queue in running:
        last_beat = beats.get(worker_ids[-1]) if worker_ids else None
        if last_beat is not None:
            gone = last_beat < beat_cutoff
        else:
            gone = started_at is None or started_at < claim_cutoff
        if gone:
            found.append((pk, started_at, queue))
    return found


def recover() -> int:
    """Make hookpipe's abandoned tasks READY again; returns how many. One ``UPDATE``,
    which matches each task's ``started_at`` too: a task another sweep recovered and a
    worker claimed again in the meantime is left to that worker."""
    if not database_aliases():
        return 0
    found = abandoned()
    if not found:
        return 0
    same_claim = Q()
    for pk, started_at, _ in found:
        same_claim |= Q(pk=pk, started_at=started_at)
    count: int = (
        _results()
        .filter(same_claim, status=compat.TaskResultStatus.RUNNING)
        .update(status=compat.TaskResultStatus.READY)
    )
    if count:
        logger.warning(
            "hookpipe: %d task(s) abandoned by their worker (no heartbeat for %ss, or "
            "none at all and RUNNING for over %ss) made READY again",
            count,
            conf.get_config().task_runner["HEARTBEAT_TIMEOUT"],
            conf.get_config().task_runner["ABANDONED_AFTER"],
        )
    return count


def status_counts(alias: str) -> dict[str, Any]:
    """The database backend's view of hookpipe's tasks on ``alias``, per queue and in
    total: how many in each status, how many are dead (out of attempts, not replayed),
    how many RUNNING ones their worker abandoned, how long the oldest READY one has
    waited; and the task workers that beat (how many are alive, when each was last
    seen), with ``BACKLOG_AFTER``, the wait that counts as a backlog."""
    from django.db.models import Count
    from django_tasks_db.models import DBTaskResult

    from ..models import DeadJob

    queues: dict[str, dict[str, Any]] = {}

    def queue(name: str) -> dict[str, Any]:
        return queues.setdefault(
            name, {"by_status": {}, "dead": 0, "stale_running": 0, "oldest_ready_s": 0.0}
        )

    rows = (
        DBTaskResult.objects.filter(task_path=TASK_PATH, backend_name=alias)
        .values_list("queue_name", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    for name, status, n in rows:
        queue(name)["by_status"][str(status)] = n
    dead = (
        DeadJob.objects.filter(backend=alias, replayed_at__isnull=True)
        .values_list("queue_name")
        .annotate(n=Count("id"))
        .order_by()
    )
    for name, n in dead:
        queue(name)["dead"] = n
    for _, _, name in abandoned(alias):
        queue(name)["stale_running"] += 1
    for name, waited in oldest_ready(alias).items():
        queue(name)["oldest_ready_s"] = waited
    totals: dict[str, int] = {}
    for one in queues.values():
        for status, n in one["by_status"].items():
            totals[status] = totals.get(status, 0) + n
    workers = workers_seen(alias)
    return {
        "by_status": totals,
        "dead": sum(one["dead"] for one in queues.values()),
        "stale_running": sum(one["stale_running"] for one in queues.values()),
        "oldest_ready_s": max((one["oldest_ready_s"] for one in queues.values()), default=0.0),
        "live_workers": sum(1 for worker in workers if worker["alive"]),
        "backlog_after_s": float(conf.get_config().task_runner["BACKLOG_AFTER"]),
        "queues": dict(sorted(queues.items())),
        "workers": workers,
    }


def workers_seen(alias: str) -> list[dict[str, Any]]:
    """The task workers of ``alias`` that beat, most recently seen first: id, host, pid,
    seconds since their last beat, and whether that is within ``HEARTBEAT_TIMEOUT``."""
    from ..models import TaskWorker

    timeout = float(conf.get_config().task_runner["HEARTBEAT_TIMEOUT"])
    now = timezone.now()
    seen = []
    for worker in TaskWorker.objects.filter(backend=alias).order_by("-beat_at"):
        since = round(max((now - worker.beat_at).total_seconds(), 0.0), 1)
        seen.append(
            {
                "worker_id": worker.worker_id,
                "host": worker.host,
                "pid": worker.pid,
                "last_beat_s": since,
                "alive": since <= timeout,
            }
        )
    return seen


def oldest_ready(alias: str) -> dict[str, float]:
    """For each queue of ``alias`` where a task waits, how long the one that has waited
    longest for a worker has waited (seconds): from its enqueueing, or from the time a
    retry was due. A number that keeps growing means no worker takes that queue's tasks
    (or too few do)."""
    from django.db.models import Min, Q
    from django_tasks_db.models import DBTaskResult, get_date_max

    never = get_date_max()  # run_after of a task that may run at once
    rows = (
        DBTaskResult.objects.filter(task_path=TASK_PATH, backend_name=alias)
        .ready()
        .values("queue_name")
        .annotate(
            queued=Min("enqueued_at", filter=Q(run_after=never)),
            due=Min("run_after", filter=~Q(run_after=never)),
        )
        .order_by()
    )
    now = timezone.now()
    waits = {}
    for row in rows:
        first = min((t for t in (row["queued"], row["due"]) if t is not None), default=None)
        if first is not None:
            waits[row["queue_name"]] = round(max((now - first).total_seconds(), 0.0), 1)
    return waits


def backlogged() -> list[tuple[str, str, float]]:
    """The queues of every database backend whose oldest READY task of hookpipe's has
    waited longer than ``BACKLOG_AFTER`` seconds, as ``(alias, queue, seconds)``."""
    limit = float(conf.get_config().task_runner["BACKLOG_AFTER"])
    return [
        (alias, queue, waited)
        for alias in database_aliases()
        for queue, waited in sorted(oldest_ready(alias).items())
        if waited > limit
    ]


def backend_view(alias: str) -> dict[str, Any] | None:
    """The database backend's counts for ``alias``; ``None`` for other backends. A
    failing query (no table yet, database down) is shown, not raised."""
    if not compat.is_database_backend(alias):
        return None
    try:
        return status_counts(alias)
    except Exception as exc:
        return {"error": db_error_text(exc)}
