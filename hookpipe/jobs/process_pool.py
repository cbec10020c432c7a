"""This process's pool: started on first use, replaced when its settings change, drained
at exit, forgotten in a forked child.

One pool per process, created on the first handler job (so ``gunicorn --preload``
starts no thread in the master) from ``HOOKPIPE["THREAD_POOL"]``.

Fork safety: a child process never uses its parent's pool (whose threads do not exist
in the child): the process's fork handler calls :func:`forget_after_fork`."""

from __future__ import annotations

import functools
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

from ..exiting import call_at_exit
from .counters import Counters
from .pool import HandlerPool

if TYPE_CHECKING:
    from ..context import RequestContext
    from ..plugins.base import HandlerImplementation
    from ..plugins.snapshot import PendingSnapshot, RequestSnapshot

logger = logging.getLogger("hookpipe")

#: Seconds :func:`shutdown` (at exit, and from ``hookpipe.worker_exit``) waits
#: for queued and running jobs before it gives up on the queued ones. Keep it below
#: gunicorn's ``graceful_timeout``.
DRAIN_TIMEOUT = 10.0


#: If set in the environment, a server integration that drains the pool (gunicorn's
#: ``worker_exit``, the ASGI lifespan of ``hookpipe.with_lifespan``) also appends the final
#: counters, as one JSON line per process, to the file this variable names.
COUNTERS_FILE_VARIABLE = "HOOKPIPE_EXIT_COUNTERS_FILE"


class _Pools:
    """What this process keeps of its pool: the pool, the ones a settings change
    retired (their queued jobs still run and are drained), the counters every pool of
    the process shares, whether it was shut down, and which server integration will
    drain it. A forked child gets a new one (:func:`forget_after_fork`)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pool: HandlerPool | None = None
        self.retired: list[HandlerPool] = []
        self.counters = Counters()
        self.shut_down = False
        #: The server integration that will drain the pool when this process stops, if
        #: any (see :func:`drained_by`).
        self.drainer = ""

    def all(self) -> list[HandlerPool]:
        return [*self.retired, *([self.pool] if self.pool is not None else [])]


_pools = _Pools()
_exit_hook_registered = False


def counters() -> Counters:
    """This process's handler counters."""
    return _pools.counters


def current_pool() -> HandlerPool | None:
    """The pool if this process has started one, else ``None``; never starts it."""
    return _pools.pool


def get_pool(settings: Mapping[str, Any]) -> HandlerPool:
    """This process's pool for ``settings`` (``HOOKPIPE["THREAD_POOL"]`` normalised),
    started on first use. New settings (``override_settings``) start a new pool; the old
    one finishes its queued jobs."""
    return pool_for(pool_key(settings))


def pool_key(settings: Mapping[str, Any]) -> tuple[int, int, str]:
    """``(MAX_WORKERS, MAX_QUEUE, ON_FULL)`` of ``settings``: what tells two pools apart."""
    return settings["MAX_WORKERS"], settings["MAX_QUEUE"], settings["ON_FULL"]


def pool_for(wanted: tuple[int, int, str]) -> HandlerPool:
    """:func:`get_pool`, for settings already made into a :func:`pool_key`."""
    pools = _pools
    pool = pools.pool
    if pool is not None and pool.settings == wanted:
        return pool
    with pools.lock:
        if pools.pool is not None and pools.pool.settings == wanted:
            return pools.pool
        if pools.pool is not None:
            pools.pool.close()
            pools.retired.append(pools.pool)
        pools.pool = HandlerPool(*wanted, counters=pools.counters)
        if pools.shut_down:
            pools.pool.close()  # after shutdown(): reject, do not start threads again
        _register_exit_hook()
        return pools.pool


def shutdown(timeout: float | None = None) -> dict[str, dict[str, Any]]:
    """Drain this process's pools (bounded by ``timeout`` in total, default
    :data:`DRAIN_TIMEOUT`) and return the final counters by handler name. Later
    submissions are rejected. Safe to call twice, and in a process that never started a
    pool."""
    if timeout is None:
        timeout = DRAIN_TIMEOUT
    pools = _pools
    with pools.lock:
        pools.shut_down = True
        draining = pools.all()
    deadline = time.monotonic() + timeout
    for pool in draining:
        pool.drain(max(0.0, deadline - time.monotonic()))
    return {name: pools.counters.snapshot(name) for name in pools.counters.names()}


def drained_by(integration: str) -> None:
    """Note that ``integration`` (e.g. ``"ASGI lifespan"``) will call :func:`shutdown`
    when this process stops."""
    _pools.drainer = integration


def drainer() -> str:
    """The integration that will drain the pool when this process stops, or ``""``."""
    return _pools.drainer


def write_counters_file(final: Mapping[str, Any]) -> None:
    """Append ``final`` (from :func:`shutdown`) to the file named by
    :data:`COUNTERS_FILE_VARIABLE`, if it is set."""
    path = os.environ.get(COUNTERS_FILE_VARIABLE)
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps({"pid": os.getpid(), "counters": final}) + "\n")


def _at_exit() -> None:
    if _pools.pool is None or _pools.shut_down:
        return
    final = shutdown()
    logger.info("hookpipe: thread pool drained at exit (pid %s): %s", os.getpid(), final)


def _register_exit_hook() -> None:
    # Python joins the pool's threads at exit with no time limit, before atexit
    # handlers run: drain from threading's exit hooks, with a bound, first (which also
    # gives the threads their stop marks). Once per process, forked children included:
    # the hook reads whatever pools the process has when it exits.
    global _exit_hook_registered
    if _exit_hook_registered:
        return
    _exit_hook_registered = True
    call_at_exit(_at_exit)


def forget_after_fork() -> None:
    """In a forked child (from the process's fork handler, :mod:`hookpipe.core.process`):
    forget the parent's pools, locks and counters; the child's server sets up its own
    drainer again, if it drains."""
    global _pools
    _pools = _Pools()


def reset_for_tests(pools: Iterable[HandlerPool] = ()) -> None:
    """Drop the pool and zero the counters (tests only; jobs still running keep going)."""
    global _pools
    with _pools.lock:
        for pool in [*pools, *_pools.all()]:
            pool.close()
    drainer = _pools.drainer
    _pools = _Pools()
    _pools.drainer = drainer


def _handle_snapshot(
    handle: Callable[[RequestSnapshot, bytes], object], pending: PendingSnapshot, content: bytes
) -> None:
    """A pool job: the snapshot is made here, in the pool's thread, not the request's."""
    handle(pending.get(), content)


class PoolRunner:
    """Runs a handler's jobs in this process's pool, with a snapshot of the request."""

    kind: Final = "pool"
    wants_snapshot: Final = True

    def __init__(self, settings: Mapping[str, Any]) -> None:
        # ``HOOKPIPE["THREAD_POOL"]``, normalised, read once: a submission only compares
        # it with the running pool's.
        self._wanted = pool_key(settings)

    def submit(
        self, handler: HandlerImplementation, subject: Any, content: bytes, context: RequestContext
    ) -> None:
        job = functools.partial(_handle_snapshot, handler.handle, subject, content)
        taken = pool_for(self._wanted).submit(handler.name, job, request_id=context.request_id)
        context.set_job(handler.name, "rejected" if taken == "rejected" else self.kind)

    def describe(self) -> dict[str, Any]:
        return {"runner": self.kind}
