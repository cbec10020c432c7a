"""Imported by Celery workers (``CELERY_IMPORTS = ["hookpipe.tasks.celery_worker"]``):
tells Celery about hookpipe's task, so that a worker runs hookpipe's messages instead of
discarding them as an unregistered task (docs/durable.rst).

django-tasks-fennel registers a task with Celery when its ``Task`` object is created,
and the worker's Celery app is configured (``django.setup()`` done) by the time it
imports the modules of ``CELERY_IMPORTS``. Importing this module creates hookpipe's
task on each Celery backend of ``TASKS``; the first one gives Celery the task, and
the others find it registered.
"""

from __future__ import annotations

from typing import Any

from . import worker
from .celery import celery_aliases

TASKS: list[Any] = [worker.task_on(alias) for alias in celery_aliases()]
