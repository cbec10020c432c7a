"""Retries and dead jobs, in the task worker.

A task handler's job whose ``handle()`` raises runs again, up to the handler's
``TASK_MAX_ATTEMPTS``, after ``TASK_RETRY_BACKOFF`` seconds, twice that before the next
retry, and so on (:func:`retry`): the worker enqueues the next attempt as a new task on
the same backend and queue, deferred where the backend can defer (``run_after``), at
once where it cannot. The failed attempt stays recorded by the backend as failed, with
its traceback.

A job out of attempts, or one that cannot run at all (its handler is unknown to the
worker, its snapshot unreadable or over the bound), is **dead** (:func:`bury`): a row
of :class:`~hookpipe.models.DeadJob` with its stored snapshot and its last error,
written by the worker whatever the engine. :mod:`.dead` lists and replays them.
"""

from __future__ import annotations

import datetime
import logging
from typing import Any, Final

from django.utils import timezone

from ..models import DeadJob

logger = logging.getLogger("hookpipe")

#: The longest wait between two attempts, however many there are (seconds).
MAX_BACKOFF: Final = 6 * 3600.0


def backoff(first: float, tries: int) -> float:
    """Seconds to wait before attempt ``tries + 1``: ``first``, doubled per retry."""
    return float(min(first * 2.0 ** (tries - 1), MAX_BACKOFF))


def retry(task: Any, args: tuple[Any, ...], tries: int, wait: float) -> str:
    """Enqueue attempt ``tries + 1`` of a job (``task`` is the one running now, ``args``
    its arguments); where it went, for the log."""
    if getattr(task.get_backend(), "supports_defer", False):
        later = task.using(run_after=timezone.now() + datetime.timedelta(seconds=wait))
        later.enqueue(*args, tries=tries + 1)
        return f"in {wait:g} s"
    task.enqueue(*args, tries=tries + 1)
    return "now (the backend cannot defer)"


def bury(
    task: Any,
    name: str,
    class_path: str,
    snapshot: Any,
    attempts: int,
    error: BaseException,
) -> DeadJob:
    """Record a job that will not run again by itself."""
    return DeadJob.objects.create(
        **DeadJob.fields_of(task, name, class_path, snapshot),
        attempts=attempts,
        error=f"{type(error).__name__}: {error}",
        died_at=timezone.now(),
    )
