"""The RQ queue class that makes RQ run a killed worker's job again (docs/durable.rst).

Imported only where a project names it (``RQ["QUEUE_CLASS"]``), so it may import RQ
and django-rq at the top: the ``rq`` extra is installed there.
"""

from __future__ import annotations

from typing import Any

from django_rq.queues import DjangoRQ
from rq.job import Retry


class RedeliveringQueue(DjangoRQ):
    """django-rq's queue, with RQ's ``Retry(max=max_retries)`` on every job created
    without one (``retry`` passed by keyword, as django-tasks-rq does), so that RQ's
    registry cleanup runs a job again when its worker died mid-job."""

    #: Attempts after the first; subclass to change it.
    max_retries = 3

    def create_job(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("retry") is None and self.max_retries > 0:
            kwargs["retry"] = Retry(max=self.max_retries)
        return super().create_job(*args, **kwargs)
