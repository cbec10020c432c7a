"""The RQ task backend hookpipe's RQ setup names (docs/durable.rst): django-tasks-rq's,
enqueueing on RQ queue objects it keeps.

django-tasks-rq's ``enqueue`` asks django-rq for the queue on every call, and django-rq
builds a Redis client from the URL and a queue object each time: per job, work that
does not change between jobs (bench/RESULTS.md, "Durable handlers, third part").
:class:`RQBackend` builds each queue once per process and backend and stores exactly
the job django-tasks-rq stores (its job class, its callbacks, its metadata: its
worker, ``get_result`` and admin read it as their own); tests/test_task_rq.py compares
the two jobs field by field, so a django-tasks-rq release that changes its job fails
there.

Imported only where a project names it (``TASKS[...]["BACKEND"]``), so it may import
django-tasks-rq at the top: the ``rq`` extra is installed there.
"""

from __future__ import annotations

import os
import threading
import uuid
from typing import Any

import django_rq

# django-tasks-rq's results and signals are the backport's (django_tasks), on Django 6 too.
from django_tasks.base import TASK_MAX_PRIORITY, TaskResult, TaskResultStatus
from django_tasks.signals import task_enqueued
from django_tasks_rq.backend import Job, failed_callback, success_callback
from django_tasks_rq.backend import RQBackend as _DjangoTasksRQBackend
from rq.callbacks import Callback
from rq.job import JobStatus


class RQBackend(_DjangoTasksRQBackend):
    """django-tasks-rq's backend whose enqueue reuses one RQ queue object per queue
    name (``TASKS = {"default": {"BACKEND": "hookpipe.tasks.RQBackend", ...}}``).

    The queue's Redis client is the one django-rq's settings give (with
    ``RedeliveringQueue``, the client that class keeps per process); redis-py gives
    each thread a connection of its own from it. A forked child builds its own queues.
    """

    def __init__(self, alias: str, params: dict[str, Any]) -> None:
        super().__init__(alias, params)
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._queues: dict[str, Any] = {}

    def queue(self, name: str) -> Any:
        """The RQ queue ``name`` as django-rq's settings make it, built once here."""
        if self._pid != os.getpid():
            with self._lock:
                self._pid, self._queues = os.getpid(), {}
        found = self._queues.get(name)
        if found is None:
            with self._lock:
                found = self._queues.setdefault(name, django_rq.get_queue(name, job_class=Job))
        return found

    def enqueue(self, task: Any, args: Any, kwargs: Any) -> Any:
        self.validate_task(task)
        queue = self.queue(task.queue_name)
        result: TaskResult[Any] = TaskResult(
            task=task,
            # As random as django-tasks-rq's 32 letters, from one call to os.urandom
            # rather than 32 draws of the secrets module.
            id=uuid.uuid4().hex,
            status=TaskResultStatus.READY,
            enqueued_at=None,
            started_at=None,
            last_attempted_at=None,
            finished_at=None,
            args=args,
            kwargs=kwargs,
            backend=self.alias,
            errors=[],
            worker_ids=[],
        )
        # The job django-tasks-rq's worker runs: its id is the result's, its callbacks
        # record the outcome, its metadata names the backend.
        job = queue.create_job(
            task.module_path,
            args=args,
            kwargs=kwargs,
            job_id=result.id,
            status=JobStatus.SCHEDULED if task.run_after else JobStatus.QUEUED,
            on_failure=Callback(failed_callback),
            on_success=Callback(success_callback),
            meta={"backend_name": self.alias},
        )
        if task.run_after is None:
            job = queue.enqueue_job(job, at_front=task.priority == TASK_MAX_PRIORITY)
        else:
            job = queue.schedule_job(job, task.run_after)
        object.__setattr__(result, "enqueued_at", job.enqueued_at)  # a frozen dataclass
        task_enqueued.send(type(self), task_result=result)
        return result
