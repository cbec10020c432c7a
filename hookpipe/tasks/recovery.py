"""At least once on the database backend: tasks whose worker died are run again.

``django-tasks-db``'s ``db_worker`` marks a task RUNNING when it claims it and
SUCCESSFUL/FAILED when it ends. A worker killed in between (SIGKILL, the OOM killer, a
machine lost) leaves the task RUNNING for ever: nothing in the backend runs it again.
For hookpipe's own tasks (those whose path is :data:`TASK_PATH`,
on a database backend) :func:`recover` makes every one RUNNING for longer than
``HOOKPIPE["TASK_RUNNER"]["ABANDONED_AFTER"]`` seconds READY again, so the next free worker
takes it. There is no heartbeat to tell a dead worker from a slow one, so a handler that
runs longer than ``ABANDONED_AFTER`` would be run twice: set it above your longest run.

It runs by itself in task workers (:func:`maybe_sweep`, at most every
``RECOVER_EVERY`` seconds, when a hookpipe task starts) and on demand with
``manage.py hookpipe --recover-tasks`` (for cron or a systemd timer, which also covers
workers that sit idle).
"""

from __future__ import annotations

import datetime
import logging
import threading
import time
from typing import Any

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


def recover(stale_after: float | None = None) -> int:
    """Make hookpipe's tasks RUNNING for more than ``stale_after`` seconds (default
    ``ABANDONED_AFTER``) READY again; returns how many. One ``UPDATE``: workers racing to
    recover the same task cannot run it twice through this."""
    if not database_aliases():
        return 0
    if stale_after is None:
        stale_after = conf.get_config().task_runner["ABANDONED_AFTER"]
    cutoff = timezone.now() - datetime.timedelta(seconds=float(stale_after))
    count: int = (
        _results()
        .filter(status=compat.TaskResultStatus.RUNNING, started_at__lt=cutoff)
        .update(status=compat.TaskResultStatus.READY)
    )
    if count:
        logger.warning(
            "hookpipe: %d task(s) RUNNING for over %ss made READY again: their worker is "
            "taken to have died",
            count,
            stale_after,
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
    status, and how many RUNNING ones are stale (older than ``ABANDONED_AFTER``)."""
    from django.db.models import Count
    from django_tasks_db.models import DBTaskResult

    rows = (
        DBTaskResult.objects.filter(task_path=TASK_PATH, backend_name=alias)
        .values_list("status")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts = {str(status): n for status, n in rows}
    stale_after = float(conf.get_config().task_runner["ABANDONED_AFTER"])
    cutoff = timezone.now() - datetime.timedelta(seconds=stale_after)
    stale = DBTaskResult.objects.filter(
        task_path=TASK_PATH,
        backend_name=alias,
        status=compat.TaskResultStatus.RUNNING,
        started_at__lt=cutoff,
    ).count()
    return {
        "by_status": counts,
        "stale_running": stale,
        "stale_after_s": stale_after,
        "oldest_ready_s": oldest_ready(alias),
    }


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
