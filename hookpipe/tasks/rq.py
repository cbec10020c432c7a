"""At least once on RQ (``django-tasks-rq`` on Redis): RQ's own redelivery, configured.

An RQ worker forks a *work horse* per job and records the job's execution in the
queue's ``StartedJobRegistry`` with an expiry that its heartbeat keeps pushing forward
(``min(job timeout, 30 s) + 60 s`` ahead, in rq 3.0). A worker killed mid-job (with its
horse: SIGKILL, the OOM killer, a lost machine) stops the heartbeat; once the expiry has
passed, RQ's registry cleanup finds the job abandoned and **retries it if it has retries
left**, else moves it to the failed registry. ``django-tasks-rq`` enqueues without a
``Retry``, so by default such a job is failed, not run again.

``hookpipe.tasks.RedeliveringQueue`` is the queue class that gives every
job created without a ``Retry`` one of ``max_retries`` attempts
(``RQ_QUEUES[...]["QUEUE_CLASS"]`` or ``RQ["QUEUE_CLASS"]``): with it, RQ runs an
abandoned job again. RQ's ``Retry`` makes no difference between a dead worker and a
job that raised, so a handler that raises is retried too, up to the same bound.

The cleanup runs in every rq worker every ``maintenance_interval`` (10 minutes in rq
3.0) and, for hookpipe's RQ backends, on demand with ``manage.py hookpipe
--recover-tasks`` (:func:`recover`), as for the database backend.

RQ's expiry is at least 60 s after the last heartbeat of the job's execution, and that
heartbeat comes every 30 s. An ``rqworker`` that loads hookpipe's app beats faster
(:mod:`.heartbeat`: every ``HEARTBEAT_EVERY`` seconds, from a thread of the worker's
main process, busy or idle, into the hash :data:`BEATS` on each Redis server of the RQ
task backends, under its host and pid, timed by the Redis server's clock) and sweeps
with :func:`recover`: a job whose worker's beat is older than ``HEARTBEAT_TIMEOUT`` has
its execution expired at once, and RQ's own cleanup then retries it. A job's worker is
the one named in the job's execution, found by the host and pid RQ records of it. A
worker that never beat (started without hookpipe's app, or by ``rq worker``) is left
to RQ's expiry. While a worker is silent, a job in a queue's intermediate list (taken
off the queue, never started) is handed on ``HEARTBEAT_TIMEOUT`` after a sweep first
saw it there, not a minute.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

from . import backends as compat

logger = logging.getLogger("hookpipe")

#: What a task backend's ``BACKEND`` starts with when it is django-tasks-rq's.
RQ_BACKEND_PREFIX = "django_tasks_rq."
#: The queue class that gives jobs RQ's Retry, and the job class rqworker needs.
QUEUE_CLASS = "hookpipe.tasks.RedeliveringQueue"
#: Where it was before (CHANGELOG.md, "Upgrading"): a check names the new path.
OLD_QUEUE_CLASS = "hookpipe.runners.rq_queue.RedeliveringQueue"
JOB_CLASS = "hookpipe.tasks.JSONJob"
#: The serializer hookpipe's RQ queues need (``RQ_QUEUES[...]["SERIALIZER"]``).
SERIALIZER = "rq.serializers.JSONSerializer"


def is_rq_backend(alias: str) -> bool:
    """Whether backend ``alias`` is django-tasks-rq's or a subclass of it (hookpipe's
    ``RQBackend``, a project's own)."""
    path = compat.backend_class_path(alias) or ""
    if path.startswith(RQ_BACKEND_PREFIX):
        return True
    if not path:
        return False
    try:
        from django.utils.module_loading import import_string
        from django_tasks_rq.backend import RQBackend

        found = import_string(path)
    except ImportError:
        return False
    return isinstance(found, type) and issubclass(found, RQBackend)


def old_queue_class_settings() -> list[str]:
    """Where the RQ settings still name the queue class by its old path."""
    from django.conf import settings

    found = []
    if getattr(settings, "RQ", {}).get("QUEUE_CLASS") == OLD_QUEUE_CLASS:
        found.append('RQ["QUEUE_CLASS"]')
    for name, queue in getattr(settings, "RQ_QUEUES", {}).items():
        if isinstance(queue, dict) and queue.get("QUEUE_CLASS") == OLD_QUEUE_CLASS:
            found.append(f'RQ_QUEUES[{name!r}]["QUEUE_CLASS"]')
    return found


def rq_aliases() -> list[str]:
    """The ``TASKS`` aliases that are django-tasks-rq backends."""
    return [alias for alias in compat.backend_settings() if is_rq_backend(alias)]


def redelivers(queue_name: str) -> bool:
    """Whether django-rq builds RQ queue ``queue_name`` with ``RedeliveringQueue``
    (an unknown queue: django-tasks-rq's own check reports it, so ``True``)."""
    try:
        from django_rq.queues import get_queue_class
        from django_rq.settings import QUEUES
    except ImportError:
        return True
    if queue_name not in QUEUES:
        return True
    try:
        from .rq_queue import RedeliveringQueue

        return issubclass(get_queue_class(QUEUES[queue_name]), RedeliveringQueue)
    except (ImportError, ValueError):
        # A QUEUE_CLASS that does not import: E053 names an old path; django-rq says why
        # for any other.
        return True


def pickles(queue_name: str) -> bool:
    """Whether django-rq builds RQ queue ``queue_name`` with RQ's default serializer,
    pickle (no ``SERIALIZER`` in its ``RQ_QUEUES`` entry, or a pickle one). Unpickling
    a job runs whatever code the job's bytes name, before any hookpipe code sees it:
    whoever can write to that Redis could run code in the workers. An unknown queue
    or a serializer that does not import: django-rq reports it, so ``False``."""
    try:
        from django_rq.settings import QUEUES
        from rq.serializers import DefaultSerializer, resolve_serializer
    except ImportError:
        return False
    entry = QUEUES.get(queue_name)
    if not isinstance(entry, dict):
        return False
    try:
        return resolve_serializer(entry.get("SERIALIZER")) is DefaultSerializer
    except (ImportError, AttributeError, NotImplementedError, ValueError):
        return False


def runs_tasks() -> bool:
    """Whether ``RQ["JOB_CLASS"]`` is django-tasks-rq's job (or a subclass of it)."""
    from django.conf import settings
    from django.utils.module_loading import import_string

    path = getattr(settings, "RQ", {}).get("JOB_CLASS")
    if not path:
        return False
    try:
        from django_tasks_rq.backend import Job

        found = import_string(path) if isinstance(path, str) else path
        return isinstance(found, type) and issubclass(found, Job)
    except ImportError:
        return True  # reported by django-rq itself


def _queues(alias: str) -> list[Any]:
    import django_rq
    from django_rq.settings import QUEUES
    from django_tasks_rq.backend import Job

    # The backend's queues that django-rq knows (its check reports the others).
    names = sorted(set(compat.task_backends[alias].queues) & set(QUEUES))
    return [django_rq.get_queue(name, job_class=Job) for name in names]


def recover() -> int:
    """Run RQ's cleanups on every queue of every RQ backend now; returns how many
    abandoned jobs (worker gone, execution expired) it handled: each one is enqueued
    again if it has retries left (``RedeliveringQueue``), else failed.

    Two cleanups: the started registry's (a worker killed mid-job), and the intermediate
    queue's (a worker killed after it took a job off the queue and before it started
    it: RQ moves the job to ``<queue>:intermediate`` first). RQ's workers run both only
    every ``maintenance_interval`` (10 minutes); the intermediate one hands a job on
    from the second sweep that still finds it there a minute after the first. The
    hearts of ``rqworker`` processes run this every ``HEARTBEAT_EVERY`` seconds, first
    expiring the executions of workers that stopped beating (see the module's
    docstring)."""
    from rq.intermediate_queue import IntermediateQueue
    from rq.registry import StartedJobRegistry, clean_registries
    from rq.timeouts import TimerDeathPenalty
    from rq.worker import SimpleWorker

    handled = 0
    for alias in rq_aliases():
        for queue in _queues(alias):
            started = StartedJobRegistry(
                queue.name,
                connection=queue.connection,
                job_class=queue.job_class,
                serializer=queue.serializer,
                # A timer, not SIGALRM, bounds the failure callbacks of abandoned jobs:
                # a heart sweeps from a thread, where no signal handler can be set.
                death_penalty_class=TimerDeathPenalty,
            )
            silent = _silent_workers(queue.connection)
            if silent:
                _expire_executions_of(silent, started)
            handled += len(started.get_expired_job_ids())
            started.cleanup()  # the abandoned jobs, retried where they have retries left
            clean_registries(queue)
            stuck = IntermediateQueue(queue.key, connection=queue.connection)
            before = set(stuck.get_job_ids())
            if before and silent:
                _hurry(stuck, before)
            if before:
                # What RQ's cleanup will hand on: a job a live worker moves on meanwhile
                # leaves the list too, and is not counted.
                due = {job_id for job_id in before if stuck.should_be_cleaned_up(job_id)}
                # RQ's cleanup fails (or retries) a stuck job through a worker object;
                # this one never works, it only lends RQ its failure handling.
                worker = SimpleWorker(
                    [queue], connection=queue.connection, job_class=queue.job_class
                )
                stuck.cleanup(worker, queue)
                handled += len(due - set(stuck.get_job_ids()))
    if handled:
        logger.warning(
            "hookpipe: %d RQ job(s) abandoned by a dead worker handed to RQ's cleanup "
            "(retried where they have retries left)",
            handled,
        )
    return handled


#: The hash where each ``rqworker`` that loads hookpipe's app writes its beat: field
#: ``host:pid``, value the Redis server's time of the beat.
BEATS = "hookpipe:rq:beats"

#: Beats older than this are deleted: workers gone for good (RQ forgot them sooner).
FORGET_BEATS_AFTER = 86400.0


def _me() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _servers() -> list[Any]:
    """A Redis client for each server (and database) the RQ task backends' queues use."""
    found: dict[str, Any] = {}
    for alias in rq_aliases():
        for queue in _queues(alias):
            options = queue.connection.connection_pool.connection_kwargs
            found.setdefault(repr(sorted(options.items())), queue.connection)
    return list(found.values())


def _server_time(connection: Any) -> float:
    seconds, micros = connection.time()
    return float(seconds) + float(micros) / 1e6


def beat() -> None:
    """This worker is alive: its beat, on every Redis server of the RQ task backends."""
    for connection in _servers():
        connection.hset(BEATS, _me(), _server_time(connection))


def forget_beat() -> None:
    """This worker stops cleanly: its beat deleted."""
    for connection in _servers():
        connection.hdel(BEATS, _me())


def _silent_workers(connection: Any) -> set[str]:
    """``host:pid`` of every worker whose beat on ``connection``'s server is older than
    ``HEARTBEAT_TIMEOUT``; beats older than a day are deleted."""
    from .. import conf

    timeout = float(conf.get_config().task_runner["HEARTBEAT_TIMEOUT"])
    now = _server_time(connection)
    silent, gone = set(), []
    for field, value in connection.hgetall(BEATS).items():
        age = now - float(value)
        if age > FORGET_BEATS_AFTER:
            gone.append(field)
        elif age > timeout:
            silent.add(field.decode() if isinstance(field, bytes) else str(field))
    if gone:
        connection.hdel(BEATS, *gone)
    return silent


def _hurry(stuck: Any, job_ids: set[str]) -> None:
    """A job that a worker took off the queue and was killed before starting waits in
    RQ's intermediate queue ``stuck`` until a sweep finds it there a minute after the
    first sweep that saw it. While some worker has stopped beating, a job seen there
    ``HEARTBEAT_TIMEOUT`` ago is handed on by this sweep instead: a live worker moves
    a job on to its started registry in milliseconds."""
    from rq.utils import now

    from .. import conf

    timeout = float(conf.get_config().task_runner["HEARTBEAT_TIMEOUT"])
    for job_id in job_ids:
        first = stuck.get_first_seen(job_id)
        if first is not None and (now() - first).total_seconds() > timeout:
            # Seen a minute earlier, as far as RQ's rule is concerned.
            key = stuck.get_first_seen_key(job_id)
            stuck.connection.set(key, first.timestamp() - 60, xx=True, keepttl=True)


def _expire_executions_of(silent: set[str], started: Any) -> None:
    """Expire, in RQ's started registry ``started``, the executions of the workers in
    ``silent``: RQ's cleanup then takes their jobs as abandoned."""
    from rq.executions import Execution
    from rq.worker import Worker

    connection = started.connection
    for job_id, execution_id in started.get_job_and_execution_ids(cleanup=False):
        try:
            execution = Execution.fetch(execution_id, job_id, connection=connection)
        except ValueError:  # ended meanwhile
            continue
        key = Worker.redis_worker_namespace_prefix + execution.worker_name
        worker = Worker.find_by_key(key, connection=connection)
        if worker is not None and f"{worker.hostname}:{worker.pid}" in silent:
            # xx: only an entry still there; a score in the past is an expired one.
            connection.zadd(started.key, {f"{job_id}:{execution_id}": 0}, xx=True)
