"""The RQ queue and job classes hookpipe's RQ setup names (docs/durable.rst): the queue
makes RQ run a killed worker's job again and lets every queue of a process share one
Redis client; the job is read and written as JSON whatever serializer a worker was
started with.

Imported only where a project names it (``RQ["QUEUE_CLASS"]``), so it may import RQ
and django-rq at the top: the ``rq`` extra is installed there.
"""

from __future__ import annotations

import threading
from typing import Any

from django_rq.queues import DjangoRQ
from django_tasks_rq.backend import Job
from redis import Redis
from rq.job import Retry
from rq.serializers import JSONSerializer

from ..core import process


class RedeliveringQueue(DjangoRQ):
    """django-rq's queue, with RQ's ``Retry(max=max_retries)`` on every job created
    without one (``retry`` passed by keyword, as django-tasks-rq does), so that RQ's
    registry cleanup runs a job again when its worker died mid-job; and on the Redis
    client this process keeps for the queue's server (:func:`kept_connection`)."""

    #: Attempts after the first; subclass to change it.
    max_retries = 3

    def __init__(self, *args: Any, connection: Redis | None = None, **kwargs: Any) -> None:
        if connection is not None:
            connection = kept_connection(connection)
        super().__init__(*args, connection=connection, **kwargs)  # type: ignore[no-untyped-call]

    def create_job(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("retry") is None and self.max_retries > 0:
            kwargs["retry"] = Retry(max=self.max_retries)
        return super().create_job(*args, **kwargs)


class JSONJob(Job):
    """django-tasks-rq's job (``RQ["JOB_CLASS"] = "hookpipe.tasks.JSONJob"``), always
    JSON: ``rqworker`` hands a job the serializer of its ``--serializer`` option, RQ's
    pickle when that is forgotten, and unpickling a job written into Redis by someone
    else runs the code its bytes name. This job ignores what it is handed, so such a
    job fails to load in every worker, whatever its command line."""

    def __init__(
        self, id: str | None = None, connection: Redis | None = None, serializer: Any = None
    ) -> None:
        super().__init__(id, connection=connection, serializer=JSONSerializer)


_lock = threading.Lock()
_kept: dict[tuple[Any, ...], Redis] = {}


def kept_connection(connection: Redis) -> Redis:
    """The client this process keeps for the server and options of ``connection``:
    the first one it was given for them.

    django-tasks-rq asks django-rq for the queue on every enqueue, and django-rq builds a
    new Redis client, with a new connection pool, each time: without this, each enqueue
    would open (and leave to the garbage collector) a TCP connection. A kept client's
    pool hands each thread a connection of its own, so threads share it safely. A
    forked child starts with none (``core.process.FORGET_AFTER_FORK``): a socket opened
    before the fork stays the parent's."""
    pool = connection.connection_pool
    options = pool.connection_kwargs
    if options.get("credential_provider") is not None:
        return connection  # credentials that may change: no two clients are the same
    key = (
        type(connection),
        type(pool),
        pool.connection_class,
        tuple(sorted((name, _same(value)) for name, value in options.items())),
    )
    found = _kept.get(key)
    if found is None:
        with _lock:
            found = _kept.setdefault(key, connection)
    return found


def _same(value: Any) -> str:
    """``value`` as it decides whether two clients are the same: an object that only
    has an identity (redis-py gives each client helpers of its own) counts by type."""
    if getattr(type(value), "__repr__", None) is object.__repr__:
        return type(value).__qualname__
    return repr(value)


def forget_connections() -> None:
    """Drop the kept clients without closing them (their sockets may be a parent's)."""
    with _lock:
        _kept.clear()


process.FORGET_AFTER_FORK.append(forget_connections)
