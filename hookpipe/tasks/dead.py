"""Dead task jobs: listed (the admin, ``manage.py hookpipe --dead``) and replayed.

A job is dead when its worker gave up on it (:mod:`.retry`). :func:`replay` enqueues
dead jobs again, as they were first stored (the same request id, so the same
idempotency key), and notes when and by whom.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.utils import timezone

from ..models import DeadJob
from . import worker

logger = logging.getLogger("hookpipe")


def dead_jobs(handler: str | None = None) -> Any:
    """The dead jobs not replayed yet, newest first (a queryset)."""
    found = DeadJob.objects.filter(replayed_at__isnull=True)
    return found.filter(handler=handler) if handler else found


def replay(jobs: Iterable[DeadJob], who: str) -> list[DeadJob]:
    """Enqueue each dead job again (attempt 1, its first backend, queue and priority);
    the jobs replayed. A job already replayed is skipped: replaying twice would run it
    twice."""
    done = []
    for job in jobs:
        if job.replayed_at is not None:
            continue
        worker.enqueue_again(job, tries=1)
        job.replayed_at = timezone.now()
        job.replayed_by = who[:200]
        job.save(update_fields=["replayed_at", "replayed_by"])
        logger.info(
            "hookpipe: dead job %s of handler %r replayed by %s (request %s)",
            job.pk,
            job.handler,
            who,
            job.request_id,
        )
        done.append(job)
    return done
