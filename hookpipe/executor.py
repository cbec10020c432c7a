"""The bounded thread pool that runs thread-safe handlers, its counters and its shutdown.

One pool per process, created on the first handler job (so ``gunicorn --preload``
starts no thread in the master) from ``HOOKPIPE["THREAD_POOL"]``:

* at most ``MAX_WORKERS`` jobs run at once and at most ``MAX_QUEUE`` more wait. The
  pool is a :class:`concurrent.futures.ThreadPoolExecutor`, whose own queue has no
  bound; a :class:`threading.BoundedSemaphore` of ``MAX_WORKERS + MAX_QUEUE`` slots,
  taken on submit and given back when the job ends, is the bound.
* when every slot is taken, ``ON_FULL`` decides: ``"block"`` waits up to
  :data:`BLOCK_TIMEOUT` seconds for a slot and then rejects; ``"reject"`` rejects at
  once; ``"inline"`` runs the job in the caller's thread.

Every job is counted, per handler name, under one lock, so that at any moment::

    submitted == succeeded + failed + rejected + queued + running

A job is never silently lost: it ends succeeded, failed or rejected (which includes a
job still queued when the process drains at exit, see :func:`shutdown`).

Fork safety: a child process never uses its parent's pool (whose threads do not exist
in the child); ``os.register_at_fork`` drops it, and the counters, in the child.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final, Literal

from django.db import close_old_connections

logger = logging.getLogger("hookpipe")

#: Seconds a submission waits for a free slot when ``ON_FULL`` is ``"block"``; after
#: that the job is rejected (logged and counted). Long enough to ride out a burst,
#: short enough that a stuck pool cannot hold a request thread for good.
BLOCK_TIMEOUT = 5.0
#: Seconds :func:`shutdown` (at exit, and from ``hookpipe.gunicorn.worker_exit``) waits
#: for queued and running jobs before it gives up on the queued ones. Keep it below
#: gunicorn's ``graceful_timeout``.
DRAIN_TIMEOUT = 10.0
#: How many recent job durations the percentiles are computed over, per handler.
DURATION_WINDOW: Final = 1000

Outcome = Literal["queued", "rejected", "inline"]


# ------------------------------------------------------------------ counters


@dataclass
class _Counts:
    submitted: int = 0
    succeeded: int = 0
    failed: int = 0
    rejected: int = 0
    queued: int = 0
    running: int = 0
    #: Of ``submitted``, how many ran in the submitting thread (``ON_FULL="inline"``, or
    #: a handler with ``THREAD_SAFE = False``).
    inline: int = 0

    def __post_init__(self) -> None:
        self.durations: deque[float] = deque(maxlen=DURATION_WINDOW)


class Counters:
    """Per-handler job counters for one process, every change under one lock.

    Each method moves a job from one state to the next, updating both ends at once, so a
    snapshot always satisfies ``submitted == succeeded + failed + rejected + queued +
    running``.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, _Counts] = {}

    def _get(self, name: str) -> _Counts:
        counts = self._counts.get(name)
        if counts is None:
            counts = self._counts[name] = _Counts()
        return counts

    def queued(self, name: str) -> None:
        with self._lock:
            counts = self._get(name)
            counts.submitted += 1
            counts.queued += 1

    def rejected(self, name: str) -> None:
        with self._lock:
            counts = self._get(name)
            counts.submitted += 1
            counts.rejected += 1

    def dropped(self, name: str) -> None:
        """A queued job that will never run (cancelled at shutdown): rejected after all."""
        with self._lock:
            counts = self._get(name)
            counts.queued -= 1
            counts.rejected += 1

    def started(self, name: str) -> None:
        with self._lock:
            counts = self._get(name)
            counts.queued -= 1
            counts.running += 1

    def started_inline(self, name: str) -> None:
        with self._lock:
            counts = self._get(name)
            counts.submitted += 1
            counts.inline += 1
            counts.running += 1

    def finished(self, name: str, ok: bool, seconds: float) -> None:
        with self._lock:
            counts = self._get(name)
            counts.running -= 1
            if ok:
                counts.succeeded += 1
            else:
                counts.failed += 1
            counts.durations.append(seconds)

    def in_flight(self) -> int:
        with self._lock:
            return sum(c.queued + c.running for c in self._counts.values())

    def snapshot(self, name: str) -> dict[str, Any]:
        """One handler's counters, as shown by ``describe()`` and the admin page."""
        with self._lock:
            counts = self._counts.get(name) or _Counts()
            durations = sorted(counts.durations)
            return {
                "submitted": counts.submitted,
                "succeeded": counts.succeeded,
                "failed": counts.failed,
                "rejected": counts.rejected,
                "queued": counts.queued,
                "running": counts.running,
                "inline": counts.inline,
                "duration_ms": _percentiles(durations),
            }

    def totals(self) -> dict[str, int]:
        with self._lock:
            keys = ("submitted", "succeeded", "failed", "rejected", "queued", "running")
            return {k: sum(getattr(c, k) for c in self._counts.values()) for k in keys}

    def names(self) -> list[str]:
        with self._lock:
            return list(self._counts)


def _percentiles(durations: list[float]) -> dict[str, Any]:
    """p50/p95/max in milliseconds over ``durations`` (sorted), nearest rank."""
    n = len(durations)
    if not n:
        return {"p50": None, "p95": None, "max": None, "window": 0}

    def rank(q: float) -> float:
        return round(durations[max(0, math.ceil(q * n) - 1)] * 1000, 3)

    return {"p50": rank(0.50), "p95": rank(0.95), "max": rank(1.0), "window": n}


# ---------------------------------------------------------------------- pool


Job = Callable[[], object]


class HandlerPool:
    """A ``ThreadPoolExecutor`` with a bound on running + waiting jobs and a policy for
    when it is reached. Use :func:`get_pool`; tests may build their own."""

    def __init__(
        self,
        max_workers: int,
        max_queue: int,
        on_full: str,
        counters: Counters,
        *,
        block_timeout: float = BLOCK_TIMEOUT,
    ) -> None:
        self.max_workers = max_workers
        self.max_queue = max_queue
        self.on_full = on_full
        self.block_timeout = block_timeout
        self.counters = counters
        self._slots = threading.BoundedSemaphore(max_workers + max_queue)
        self._threads = 0
        self._threads_lock = threading.Lock()
        self._futures: set[Future[None]] = set()
        #: Guards ``_futures``; notified when one leaves it (``drain`` waits on it).
        self._idle = threading.Condition()
        self._closed = False
        self._executor = ThreadPoolExecutor(
            max_workers=max_workers,
            thread_name_prefix="hookpipe-handler",
            initializer=self._thread_started,
        )

    def _thread_started(self) -> None:
        with self._threads_lock:
            self._threads += 1

    @property
    def settings(self) -> tuple[int, int, str]:
        return self.max_workers, self.max_queue, self.on_full

    def submit(self, name: str, job: Job, *, request_id: str = "-") -> Outcome:
        """Run ``job`` (no arguments, result ignored) for handler ``name``.

        Returns ``"queued"`` (it will run in the pool), ``"rejected"`` (it will not run;
        logged and counted) or ``"inline"`` (it already ran, in this thread). Never raises
        what the job raises: that is logged with the handler's name.
        """
        if self._closed:  # shut down: do not wait for a slot that may never come
            self._reject(name, request_id, "the pool is shut down")
            return "rejected"
        if not self._slots.acquire(blocking=False):
            if self.on_full == "inline":
                run_inline(name, job, self.counters, request_id=request_id)
                return "inline"
            if self.on_full != "block" or not self._slots.acquire(timeout=self.block_timeout):
                self._reject(name, request_id, "the pool is full")
                return "rejected"
        self.counters.queued(name)
        try:
            future = self._executor.submit(self._run, name, job, request_id)
        except RuntimeError:  # the executor was shut down (process exit, pool replaced)
            self.counters.dropped(name)
            self._slots.release()
            logger.warning(
                "hookpipe: handler %r job rejected: the pool is shut down (request %s)",
                name,
                request_id,
                extra={"request_id": request_id},
            )
            return "rejected"
        with self._idle:
            self._futures.add(future)
        future.add_done_callback(lambda f: self._done(f, name))
        return "queued"

    def _reject(self, name: str, request_id: str, why: str) -> None:
        self.counters.rejected(name)
        logger.warning(
            "hookpipe: handler %r job rejected: %s (ON_FULL=%r, %d running + %d queued "
            "allowed; request %s)",
            name,
            why,
            self.on_full,
            self.max_workers,
            self.max_queue,
            request_id,
            extra={"request_id": request_id},
        )

    def _run(self, name: str, job: Job, request_id: str) -> None:
        self.counters.started(name)
        _run_counted(name, job, self.counters, request_id)

    def _done(self, future: Future[None], name: str) -> None:
        with self._idle:
            self._futures.discard(future)
            self._idle.notify_all()
        if future.cancelled():  # cancelled while queued: _run never ran
            self.counters.dropped(name)
            logger.warning("hookpipe: handler %r job dropped: the pool was shut down", name)
        self._slots.release()

    def state(self) -> dict[str, Any]:
        """The pool as ``describe()["pool"]`` shows it."""
        totals = self.counters.totals()
        return {
            "pid": os.getpid(),
            "max_workers": self.max_workers,
            "max_queue": self.max_queue,
            "on_full": self.on_full,
            "block_timeout_s": self.block_timeout,
            "workers": self._threads,
            "running": totals["running"],
            "queue_depth": totals["queued"],
            "submitted": totals["submitted"],
            "succeeded": totals["succeeded"],
            "failed": totals["failed"],
            "rejected": totals["rejected"],
            "closed": self._closed,
        }

    def close(self) -> None:
        """Take no more jobs; the queued ones still run (a pool being replaced)."""
        self._closed = True
        self._executor.shutdown(wait=False)

    def drain(self, timeout: float) -> bool:
        """Take no more jobs, wait up to ``timeout`` s for the queued and running ones,
        then drop (count as rejected) what is still queued. True if nothing was left.

        A job already running when the time is up is not interrupted (Python cannot stop
        a thread); Python's own exit waits for it.
        """
        self.close()
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._futures:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._idle.wait(left)
            pending = list(self._futures)
        for future in pending:
            future.cancel()  # only succeeds for jobs that have not started
        return not pending


def run_inline(name: str, job: Job, counters: Counters, *, request_id: str = "-") -> None:
    """Run ``job`` now, in this thread, counted like a pool job (never raises)."""
    counters.started_inline(name)
    # In the request's thread the connection is the request's (maybe inside a
    # transaction): Django closes it at the end of the request, not us.
    _run_counted(name, job, counters, request_id, pool_thread=False)


def _run_counted(
    name: str, job: Job, counters: Counters, request_id: str, *, pool_thread: bool = True
) -> None:
    ok = False
    start = time.perf_counter()
    try:
        # A pool thread lives long: close its connection when Django would close a
        # request's (CONN_MAX_AGE, or a broken one), before and after each job.
        if pool_thread:
            close_old_connections()
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
                close_old_connections()
        except Exception:  # a broken connection must not lose the count
            logger.exception("hookpipe: closing database connections after %r failed", name)
        counters.finished(name, ok, time.perf_counter() - start)


# ------------------------------------------------------------ process-wide


_lock = threading.Lock()
_pool: HandlerPool | None = None
#: Pools replaced by a settings change: their queued jobs still run and are drained.
_retired: list[HandlerPool] = []
_counters = Counters()
_shut_down = False
_exit_hook_registered = False


def counters() -> Counters:
    """This process's handler counters."""
    return _counters


def current_pool() -> HandlerPool | None:
    """The pool if this process has started one, else ``None``; never starts it."""
    return _pool


def get_pool(settings: Mapping[str, Any]) -> HandlerPool:
    """This process's pool for ``settings`` (``HOOKPIPE["THREAD_POOL"]`` normalised),
    started on first use. New settings (``override_settings``) start a new pool; the old
    one finishes its queued jobs."""
    global _pool
    wanted = (settings["MAX_WORKERS"], settings["MAX_QUEUE"], settings["ON_FULL"])
    pool = _pool
    if pool is not None and pool.settings == wanted:
        return pool
    with _lock:
        if _pool is not None and _pool.settings == wanted:
            return _pool
        if _pool is not None:
            _pool.close()
            _retired.append(_pool)
        _pool = HandlerPool(*wanted, counters=_counters)
        if _shut_down:
            _pool.close()  # after shutdown(): reject, do not start threads again
        _register_exit_hook()
        return _pool


def shutdown(timeout: float | None = None) -> dict[str, dict[str, Any]]:
    """Drain this process's pools (bounded by ``timeout`` in total, default
    :data:`DRAIN_TIMEOUT`) and return the final counters by handler name. Later
    submissions are rejected. Safe to call twice, and in a process that never started a
    pool."""
    global _shut_down
    if timeout is None:
        timeout = DRAIN_TIMEOUT
    with _lock:
        _shut_down = True
        pools = [*_retired, *([_pool] if _pool is not None else [])]
    deadline = time.monotonic() + timeout
    for pool in pools:
        pool.drain(max(0.0, deadline - time.monotonic()))
    return {name: _counters.snapshot(name) for name in _counters.names()}


def _at_exit() -> None:
    if _pool is None or _shut_down:
        return
    final = shutdown()
    logger.info("hookpipe: thread pool drained at exit (pid %s): %s", os.getpid(), final)


def _register_exit_hook() -> None:
    # ThreadPoolExecutor joins its threads at exit with no time limit, in a hook that
    # runs before atexit handlers. threading's own exit hooks run last-registered
    # first, so registering ours there (after concurrent.futures registered its own)
    # drains with a bound first. Fall back to atexit where that API is missing.
    global _exit_hook_registered
    if _exit_hook_registered:
        return
    _exit_hook_registered = True
    register: Callable[[Callable[[], None]], object] | None = getattr(
        threading, "_register_atexit", None
    )
    if register is None:  # pragma: no cover - CPython 3.9+ has it
        import atexit

        atexit.register(_at_exit)
        return
    with contextlib.suppress(RuntimeError):  # the interpreter is already exiting
        register(_at_exit)


def _after_fork_in_child() -> None:
    """In a forked child: forget the parent's pools, locks and counters."""
    global _lock, _pool, _retired, _counters, _shut_down
    _lock = threading.Lock()
    _pool = None
    _retired = []
    _counters = Counters()
    _shut_down = False


os.register_at_fork(after_in_child=_after_fork_in_child)


def reset_for_tests(pools: Iterable[HandlerPool] = ()) -> None:
    """Drop the pool and zero the counters (tests only; jobs still running keep going)."""
    global _pool, _retired, _counters, _shut_down
    with _lock:
        for pool in [*pools, *_retired, *([_pool] if _pool else [])]:
            pool.close()
        _pool = None
        _retired = []
        _counters = Counters()
        _shut_down = False
