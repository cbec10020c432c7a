"""At least once on the database backend: tasks whose worker died are run again.

``django-tasks-db``'s ``db_worker`` marks a task RUNNING when it claims it and
SUCCESSFUL/FAILED when it ends. A worker killed in between (SIGKILL, the OOM killer, a
machine lost) leaves the task RUNNING for ever: nothing in the backend runs it again.
For hookpipe's own tasks (those whose path is :data:`TASK_PATH`, on a database backend)
:func:`recover` makes every *abandoned* one READY again, so the next free worker takes
it. A RUNNING task is abandoned when

- its worker beats (:mod:`.heartbeat`) and its last beat is older than
  ``HOOKPIPE["TASK_RUNNER"]["HEARTBEAT_TIMEOUT"]`` (30 s): the worker is gone. A task on
  a worker that beats is never taken from it, however long it runs;
- its worker never beat (a worker that does not load hookpipe's app, or one killed
  between claiming its first task and its first beat) and it started more than
  ``ABANDONED_AFTER`` seconds ago (600 s): without a heartbeat, a dead worker cannot be
  told from a slow one, so set it above your longest run.

Task workers sweep by themselves: every ``HEARTBEAT_EVERY`` seconds from their heart's
thread, and at most every ``RECOVER_EVERY`` seconds when a hookpipe task starts
(:func:`maybe_sweep`); ``manage.py hookpipe --recover-tasks`` sweeps on demand.
"""

from __future__ import annotations

import datetime
import logging
import threading
import time
from typing import Any

from django.db.models import Q
from django.utils import timezone

from .. import conf
from ..schema import db_error_text
from . import backends as compat

logger = logging.getLogger("hookpipe")

#: The task a worker runs for a handler (:mod:`hookpipe.tasks.worker`), as backends store it.
TASK_PATH = "hookpipe.tasks.worker.run_handler"

_lock = threading.Lock()
_last_sweep = 0.0


def database_aliases() -> list[str]:
    """The ``TASKS`` aliases that are ``django-tasks-db`` backends."""
    return [alias for alias in compat.backend_settings() if compat.is_database_backend(alias)]


def _results() -> Any:
    from django_tasks_db.models import DBTaskResult

    return DBTaskResult.objects.filter(task_path=TASK_PATH, backend_name__in=database_aliases())


def abandoned(alias: str | None = None) -> list[tuple[int | str, datetime.datetime]]:
    """hookpipe's RUNNING tasks (on ``alias``, or on every database backend) that their
    worker abandoned (see the module's docstring), as ``(id, started_at)`` pairs."""
    from ..models import TaskWorker

    results = _results() if alias is None else _results().filter(backend_name=alias)
    running = list(
        results.filter(status=compat.TaskResultStatus.RUNNING).values_list(
            "id", "worker_ids", "started_at"
        )
    )
    if not running:
        return []
    runner = conf.get_config().task_runner
    now = timezone.now()
    beat_cutoff = now - datetime.timedelta(seconds=float(runner["HEARTBEAT_TIMEOUT"]))
    claim_cutoff = now - datetime.timedelta(seconds=float(runner["ABANDONED_AFTER"]))
    workers = {ids[-1] for _, ids, _ in running if ids}
    beats = dict(
        TaskWorker.objects.filter(worker_id__in=workers).values_list("worker_id", "beat_at")
    )
    found = []
    for pk, worker_ids, started_at in running:
        last_beat = beats.get(worker_ids[-1]) if worker_ids else None
        if last_beat is not None:
            gone = last_beat < beat_cutoff
        else:
            gone = started_at is None or started_at < claim_cutoff
        if gone:
            found.append((pk, started_at))
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
    for pk, started_at in found:
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


def maybe_sweep() -> None:
    """:func:`recover`, if this process has not tried for ``RECOVER_EVERY`` seconds.
    Never raises: a failed sweep must not fail the task that triggered it."""
    global _last_sweep
    every = float(conf.get_config().task_runner["RECOVER_EVERY"])
    now = time.monotonic()
    with _lock:
        if now - _last_sweep < every:
            return
        _last_sweep = now
    try:
        recover()
    except Exception:
        logger.exception("hookpipe: recovering stale tasks failed")


def status_counts(alias: str) -> dict[str, Any]:
    """The database backend's view of hookpipe's tasks on ``alias``: how many in each
    status, how many RUNNING ones were abandoned, how long the oldest READY one has
    waited, and the workers that beat (how many are alive, when each was last seen)."""
    from django.db.models import Count
    from django_tasks_db.models import DBTaskResult

    rows = (
        DBTaskResult.objects.filter(task_path=TASK_PATH, backend_name=alias)
        .values_list("status")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts = {str(status): n for status, n in rows}
    workers = workers_seen(alias)
    return {
        "by_status": counts,
        "stale_running": len(abandoned(alias)),
        "oldest_ready_s": oldest_ready(alias),
        "live_workers": sum(1 for worker in workers if worker["alive"]),
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


def oldest_ready(alias: str) -> float:
    """How long the task that has waited longest for a worker on ``alias`` has waited
    (seconds, 0 when none waits): from its enqueueing, or from the time a retry was due.
    A number that keeps growing means no worker takes hookpipe's tasks (or too few)."""
    from django.db.models import Min, Q
    from django_tasks_db.models import DBTaskResult, get_date_max

    never = get_date_max()  # run_after of a task that may run at once
    since = (
        DBTaskResult.objects.filter(task_path=TASK_PATH, backend_name=alias)
        .ready()
        .aggregate(
            queued=Min("enqueued_at", filter=Q(run_after=never)),
            due=Min("run_after", filter=~Q(run_after=never)),
        )
    )
    first = min((t for t in since.values() if t is not None), default=None)
    if first is None:
        return 0.0
    waited: float = (timezone.now() - first).total_seconds()
    return round(max(waited, 0.0), 1)


def backend_view(alias: str) -> dict[str, Any] | None:
    """The database backend's counts for ``alias``; ``None`` for other backends. A
    failing query (no table yet, database down) is shown, not raised."""
    if not compat.is_database_backend(alias):
        return None
    try:
        return status_counts(alias)
    except Exception as exc:
        return {"error": db_error_text(exc)}
