"""Resume a paused task handler: its parked jobs enqueued again, its pause lifted
(:mod:`.pause` says what pausing does)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import router, transaction

from ..models import ParkedJob, PausedHandler
from . import pause, worker

logger = logging.getLogger("hookpipe")


@dataclass(frozen=True)
class Resumed:
    """What :func:`resume` did: whether there was a pause, and how many jobs it
    enqueued again."""

    #: The pause lifted (its row, deleted), or None when there was none.
    pause: PausedHandler | None
    jobs: int


class ResumeStopped(RuntimeError):
    """A parked job could not be enqueued again: the jobs before it were, and are parked
    no more; it and the jobs after it stay parked, and the handler stays paused."""

    def __init__(self, name: str, enqueued: int, left: int, cause: Exception) -> None:
        self.enqueued, self.left = enqueued, left
        super().__init__(
            f"handler {name!r}: {enqueued} parked job{'' if enqueued == 1 else 's'} enqueued "
            f"again, then one could not be ({type(cause).__name__}: {cause}); "
            f"{left} stay{'s' if left == 1 else ''} parked"
        )


def resume(name: str, who: str) -> Resumed:
    """Enqueue handler ``name``'s parked jobs again, oldest first, and lift its pause.
    Parked jobs are enqueued also when there is no pause any more.

    When a job cannot be enqueued (its backend is gone, its broker down), the resume
    stops there and raises :class:`ResumeStopped`: the jobs already enqueued are parked
    no more, the rest stay parked, the pause stays. It does not roll back what it
    enqueued: on RQ or Celery a job is on the broker as soon as it is enqueued, outside
    the database's transaction, and a job left parked after it was sent would be sent
    again, and run twice, by the next resume."""
    alias = router.db_for_write(ParkedJob)
    with transaction.atomic(using=alias):
        # The lock that a parking worker reads the pause under (see park_if_paused).
        pauses = list(PausedHandler.objects.select_for_update().filter(handler=name))
        # Lifted before the jobs are enqueued: a backend that runs a job at once, in
        # this transaction (the immediate backend), must find no pause.
        for row in pauses:
            pk = row.pk
            row.delete()
            row.pk = pk  # the admin's history names the deleted row
        pause.forget_pauses()
        jobs = list(ParkedJob.objects.select_for_update().filter(handler=name))
        enqueued: list[int] = []
        stopped: Exception | None = None
        for job in jobs:
            try:
                # A savepoint: a database backend's failed enqueue leaves this
                # transaction usable for what was done before it.
                with transaction.atomic(using=alias):
                    worker.enqueue_again(job, tries=job.attempt)
            except Exception as exc:
                stopped = exc
                break
            enqueued.append(job.pk)
        ParkedJob.objects.filter(pk__in=enqueued).delete()
        if stopped is not None:
            for row in pauses:  # the handler stays paused
                PausedHandler.objects.create(
                    handler=row.handler, paused_at=row.paused_at, paused_by=row.paused_by
                )
            pause.forget_pauses()
    if stopped is not None:
        logger.error(
            "hookpipe: task handler %r: the resume by %s stopped: %d parked job(s) enqueued "
            "again, %d stay parked, the handler stays paused: %s",
            name,
            who,
            len(enqueued),
            len(jobs) - len(enqueued),
            stopped,
        )
        raise ResumeStopped(name, len(enqueued), len(jobs) - len(enqueued), stopped) from stopped
    if pauses or jobs:
        logger.warning(
            "hookpipe: task handler %r resumed by %s: %d parked job%s enqueued again",
            name,
            who,
            len(jobs),
            "" if len(jobs) == 1 else "s",
        )
    return Resumed(pauses[0] if pauses else None, len(jobs))
