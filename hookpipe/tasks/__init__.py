"""Handlers that run as durable tasks on Django's task framework (the ``tasks`` extra:
``pip install hookpipe[tasks]``; docs/durable.rst).

A handler with ``RUNNER = "task"`` gets a :class:`TaskRunner` when the pipeline is
built: its job is stored on a ``TASKS`` backend once the request succeeds
(:mod:`.runner`), and a task worker runs :data:`hookpipe.tasks.worker.run_handler`,
which builds the handler by name from its own settings (:mod:`.worker`). The rest:
the task framework wherever it comes from (:mod:`.backends`), the recovery of jobs
whose worker died (:mod:`.recovery`, :mod:`.rq`), what hookpipe needs of Celery's
settings (:mod:`.celery`) and the module its workers import (:mod:`.celery_worker`),
and the checks (:mod:`.checks`).

Public names come from here: :class:`TaskRunner`; and for RQ, :class:`RQBackend`
(``TASKS[...]["BACKEND"] = "hookpipe.tasks.RQBackend"``), :class:`RedeliveringQueue`
(``RQ["QUEUE_CLASS"] = "hookpipe.tasks.RedeliveringQueue"``) and :class:`JSONJob`
(``RQ["JOB_CLASS"] = "hookpipe.tasks.JSONJob"``), which import RQ and are loaded only
when asked for.
"""

from __future__ import annotations

from typing import Any

from .runner import TaskRunner

__all__ = ["JSONJob", "RQBackend", "RedeliveringQueue", "TaskRunner"]


def __getattr__(name: str) -> Any:
    # They subclass django-rq's queue and django-tasks-rq's backend: importing them needs
    # the rq extra, which a project on the database engine does not install.
    if name in ("RedeliveringQueue", "JSONJob"):
        from . import rq_queue

        return getattr(rq_queue, name)
    if name == "RQBackend":
        from .rq_backend import RQBackend

        return RQBackend
    raise AttributeError(f"module 'hookpipe.tasks' has no attribute {name!r}")
