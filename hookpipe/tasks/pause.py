"""Paused task handlers: deliveries stored, not run, until an operator resumes.

:func:`pause` writes a :class:`~hookpipe.models.PausedHandler` row. The web processes
do not look at it: a delivery is stored as always (``request.hookpipe`` says
``"pending"``, the view answers as for any stored job). The task worker does, at the
start of each of the handler's jobs (:func:`park_if_paused`): a job of a paused handler
is not run but parked, a :class:`~hookpipe.models.ParkedJob` with what it needs to be
enqueued again, and the task ends there (the backend records it as done). This works
the same on every engine, since it is the task itself that parks, and covers the jobs
enqueued before the pause and the retries of failed ones alike.

:func:`hookpipe.tasks.resume.resume` lifts the pause and enqueues the parked jobs
again, oldest first (when the task backend first took each), with their request ids,
snapshots and attempt numbers, then deletes them, in one transaction. A job that a
worker parks while a resume runs is either seen by the resume or run by its worker,
never both and never neither: the worker writes the parked row and then reads the
pause row under a row lock, and the resume takes that lock before it reads the parked
rows.
"""

from __future__ import annotations

import logging
import math
import time
from typing import TYPE_CHECKING, Any

from django.db import router, transaction
from django.utils import timezone

from ..models import ParkedJob, PausedHandler
from ..schema import db_error_text

if TYPE_CHECKING:
    from ..core.plan import Plan

logger = logging.getLogger("hookpipe")

#: Said wherever a task handler can be switched off: a switch is not a pause.
DROPPED_WHEN_OFF = (
    "Switched off, a task handler drops its deliveries: the view answers them as usual, "
    "but nothing is stored and nothing runs later. To keep them, pause it instead (Pause "
    "on the Pipeline page, or manage.py hookpipe --pause NAME)."
)


def task_handlers(built_plan: Plan) -> set[str]:
    """The names of the handlers of ``built_plan`` whose jobs are tasks."""
    return {
        p.name
        for p in built_plan.plugins
        if p.kind == "handler" and p.runner is not None and p.runner.runner == "task"
    }


class _Lifted(Exception):
    """Rolls back a parked row whose pause was lifted meanwhile: the job runs."""


#: Seconds a worker trusts what it last read of the pauses.
READ_EVERY = 1.0


class _Seen:
    """The names of the paused handlers as this process last read them, and when: one
    tuple, replaced whole, so threads need no lock (two that find it old at once both
    read, which is harmless) and a forked child inherits none held."""

    def __init__(self) -> None:
        self.last: tuple[float, frozenset[str]] = (-math.inf, frozenset())

    def paused(self) -> frozenset[str]:
        read_at, names = self.last
        if time.monotonic() - read_at >= READ_EVERY:
            names = frozenset(PausedHandler.objects.values_list("handler", flat=True))
            self.last = (time.monotonic(), names)
        return names

    def forget(self) -> None:
        self.last = (-math.inf, frozenset())


_seen = _Seen()


def is_paused(name: str) -> bool:
    """Whether handler ``name`` is paused, as read at most :data:`READ_EVERY` seconds
    ago (a paused one is asked again, under a lock, before its job is parked)."""
    return name in _seen.paused()


def forget_pauses() -> None:
    """Read the pauses again at the next job: this process just changed them."""
    _seen.forget()


def park_if_paused(
    task: Any,
    result: Any,
    name: str,
    class_path: str,
    snapshot: Any,
    tries: int,
) -> ParkedJob | None:
    """At the start of a job (``task``, its ``result`` from the task context, if any):
    park it and return the row when handler ``name`` is paused, else ``None``."""
    if not is_paused(name):
        return None
    now = timezone.now()
    try:
        with transaction.atomic(using=router.db_for_write(ParkedJob)):
            job = ParkedJob.objects.create(
                **ParkedJob.fields_of(task, name, class_path, snapshot),
                attempt=tries,
                enqueued_at=getattr(result, "enqueued_at", None) or now,
                parked_at=now,
            )
            # Read under the lock a resume takes first: a resume that is running
            # finishes before this read, which then finds no pause.
            still = PausedHandler.objects.select_for_update().filter(handler=name)
            if not list(still.values_list("pk", flat=True)):
                raise _Lifted
    except _Lifted:
        return None
    logger.info(
        "hookpipe: handler %r is paused: job parked, not run (request %s); resume it from "
        "the admin or with manage.py hookpipe --resume %s",
        name,
        job.request_id,
        name,
        extra={"request_id": job.request_id},
    )
    return job


def pause(name: str, who: str) -> tuple[PausedHandler, bool]:
    """Pause handler ``name``: its row, and False when it was paused already."""
    row, created = PausedHandler.objects.get_or_create(
        handler=name, defaults={"paused_at": timezone.now(), "paused_by": who[:200]}
    )
    forget_pauses()
    if created:
        logger.warning("hookpipe: task handler %r paused by %s", name, who)
    return row, created


def view(name: str) -> dict[str, Any]:
    """Handler ``name``'s pause as the Pipeline page and the command show it: paused or
    not, since when and by whom, and its parked jobs. A failing query (no table yet,
    database down) is shown, not raised."""
    try:
        row = PausedHandler.objects.filter(handler=name).first()
        parked = ParkedJob.objects.filter(handler=name).count()
    except Exception as exc:
        return {"error": db_error_text(exc)}
    return {
        "paused": row is not None,
        "paused_at": row.paused_at.isoformat() if row else None,
        "paused_by": row.paused_by if row else None,
        "parked": parked,
    }


def states() -> dict[str, tuple[bool, int]]:
    """Every handler that is paused or has parked jobs: (paused, parked jobs). Two
    queries, whatever the number of handlers."""
    from django.db.models import Count

    found = {name: (True, 0) for name in PausedHandler.objects.values_list("handler", flat=True)}
    counts = ParkedJob.objects.values_list("handler").annotate(n=Count("id")).order_by()
    for name, n in counts:
        found[name] = (name in found, n)
    return found
