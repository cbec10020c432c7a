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


def resume(name: str, who: str) -> Resumed:
    """Enqueue handler ``name``'s parked jobs again, oldest first, and lift its pause;
    all of it or, if a job cannot be enqueued, none (the error is raised). Parked jobs
    are enqueued also when there is no pause any more (left by a failed resume)."""
    with transaction.atomic(using=router.db_for_write(ParkedJob)):
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
        for job in jobs:
            worker.enqueue_again(job, tries=job.attempt)
        ParkedJob.objects.filter(pk__in=[job.pk for job in jobs]).delete()
    if pauses or jobs:
        logger.warning(
            "hookpipe: task handler %r resumed by %s: %d parked job%s enqueued again",
            name,
            who,
            len(jobs),
            "" if len(jobs) == 1 else "s",
        )
    return Resumed(pauses[0] if pauses else None, len(jobs))
