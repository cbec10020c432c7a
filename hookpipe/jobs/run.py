"""Running one handler job: timed, counted, its error logged with the handler's name."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from django.db import close_old_connections
from django.db.backends.signals import connection_created

from .counters import Counters

logger = logging.getLogger("hookpipe")


Job = Callable[[], object]


class _ThreadState(threading.local):
    """Per thread: ``connected`` is set once the thread has opened a database connection.

    Django's connections belong to the thread that opened them, so a pool thread that
    never opened one has none to close, and skips ``close_old_connections()``, which
    looks up every alias in a context-aware thread local: for a job that does not touch
    the database, most of what the pool costs (bench/RESULTS.md)."""

    connected = False  # a class default: reading it never raises AttributeError


_threads = _ThreadState()


def _note_connection(sender: Any, connection: Any, **kwargs: Any) -> None:
    _threads.connected = True


connection_created.connect(_note_connection, dispatch_uid="hookpipe.jobs.run")


def _close_stale_connections() -> None:
    """Close this thread's connections as Django closes a request's (past
    ``CONN_MAX_AGE``, or broken), if it ever opened one."""
    if _threads.connected:
        close_old_connections()


def run_inline(name: str, job: Job, counters: Counters, *, request_id: str = "-") -> None:
    """Run ``job`` now, in this thread, counted like a pool job (never raises)."""
    counters.started_inline(name)
    # In the request's thread the connection is the request's (maybe inside a
    # transaction): Django closes it at the end of the request, not us.
    run_counted(name, job, counters, request_id, pool_thread=False)


def run_counted(
    name: str,
    job: Job,
    counters: Counters,
    request_id: str,
    *,
    pool_thread: bool = True,
    check_before: bool = True,
) -> None:
    """Run ``job``, counted. In a pool thread, which lives long, database connections
    it opened are closed when Django would close a request's (past ``CONN_MAX_AGE``, or broken):
    after each job, and before one unless ``check_before`` is false, which the pool
    passes for a job taken straight after another (just checked, no time to age)."""
    ok = False
    start = time.perf_counter()
    try:
        if pool_thread and check_before:
            _close_stale_connections()
        job()
        ok = True
    except Exception as exc:
        logger.error(
            "hookpipe: handler %r raised %s: %s (request %s)",
            name,
            type(exc).__name__,
            exc,
            request_id,
            exc_info=exc,
            extra={"request_id": request_id},
        )
    finally:
        try:
            if pool_thread:
                _close_stale_connections()
        except Exception:  # a broken connection must not lose the count
            logger.exception("hookpipe: closing database connections after %r failed", name)
        counters.finished(name, ok, time.perf_counter() - start)
