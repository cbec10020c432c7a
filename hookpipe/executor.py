"""The bounded thread pool that runs thread-safe handlers, its counters and its shutdown.

One pool per process, created on the first handler job (so ``gunicorn --preload``
starts no thread in the master) from ``HOOKPIPE["THREAD_POOL"]``:

* at most ``MAX_WORKERS`` jobs run at once and at most ``MAX_QUEUE`` more wait. The
  pool is a :class:`queue.SimpleQueue` of jobs and up to ``MAX_WORKERS`` threads,
  started as the jobs need them; a count of the jobs queued or running, kept under the
  pool's lock, is the bound. (A ``ThreadPoolExecutor`` with a semaphore in front did
  the same with several times the locking per job: a future, its condition, a done
  callback, the semaphore's condition. Every request with a matching handler pays for
  a submission, so it is kept to one lock here and one put.)
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
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
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


#: A queued job: handler name, the job, the request id.
_Job = tuple[str, Job, str]


class HandlerPool:
    """Up to ``max_workers`` threads that run queued jobs, with a bound on running +
    waiting jobs and a policy for when it is reached. Use :func:`get_pool`; tests may
    build their own."""

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
        self._limit = max_workers + max_queue
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        #: Guards the fields below. ``_changed`` is notified when a job ends or the pool
        #: closes, for submitters that wait for room (``"block"``) and for ``drain``.
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._pending = 0  # queued + running
        self._threads = 0  # alive
        self._started = 0  # ever, to number them
        self._waiting = 0  # threads waiting on _changed: notify only when some do
        self._closed = False

    @property
    def settings(self) -> tuple[int, int, str]:
        return self.max_workers, self.max_queue, self.on_full

    def submit(self, name: str, job: Job, *, request_id: str = "-") -> Outcome:
        """Run ``job`` (no arguments, result ignored) for handler ``name``.

        Returns ``"queued"`` (it will run in the pool), ``"rejected"`` (it will not run;
        logged and counted) or ``"inline"`` (it already ran, in this thread). Never raises
        what the job raises: that is logged with the handler's name.
        """
        start = -1  # the number of a thread to start, if any
        with self._lock:
            why = self._take_room()
            if not why:
                self._pending += 1
                # Enough threads for every pending job, up to max_workers: each pending
                # job is then taken by a thread that is idle or about to be.
                if self._pending > self._threads < self.max_workers:
                    start = self._started
                    self._threads += 1
                    self._started += 1
        if why == "inline":
            run_inline(name, job, self.counters, request_id=request_id)
            return "inline"
        if why:
            self._reject(name, request_id, why)
            return "rejected"
        self.counters.queued(name)  # before the put: a job is counted before it starts
        self._jobs.put((name, job, request_id))
        if start >= 0:
            thread = threading.Thread(target=self._work, name=f"hookpipe-handler_{start}")
            thread.start()
        return "queued"

    def _take_room(self) -> str:
        """With the lock held: ``""`` if a job may be queued now, else why not (or
        ``"inline"``), waiting up to ``block_timeout`` for room when ``ON_FULL`` says so."""
        if self._closed:  # shut down: do not wait for room that may never come
            return "the pool is shut down"
        if self._pending < self._limit:
            return ""
        if self.on_full == "inline":
            return "inline"
        if self.on_full != "block":
            return "the pool is full"
        deadline = time.monotonic() + self.block_timeout
        self._waiting += 1
        try:
            while self._pending >= self._limit and not self._closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    return "the pool is full"
                self._changed.wait(left)
        finally:
            self._waiting -= 1
        return "the pool is shut down" if self._closed else ""

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

    def _work(self) -> None:
        """A pool thread: run jobs until it takes the stop mark (see :meth:`close`)."""
        try:
            while True:
                item = self._jobs.get()
                if item is None:
                    return
                name, job, request_id = item
                try:
                    self.counters.started(name)
                    _run_counted(name, job, self.counters, request_id)
                finally:
                    self._job_ended()
        finally:
            with self._lock:
                self._threads -= 1

    def _job_ended(self) -> None:
        with self._lock:
            self._pending -= 1
            if self._waiting:
                self._changed.notify_all()

    def state(self) -> dict[str, Any]:
        """The pool as ``describe()["pool"]`` shows it."""
        totals = self.counters.totals()
        return {
            "pid": os.getpid(),
            "max_workers": self.max_workers,
            "max_queue": self.max_queue,
            "on_full": self.on_full,
            "block_timeout_s": self.block_timeout,
            "workers": self._started,
            "running": totals["running"],
            "queue_depth": totals["queued"],
            "submitted": totals["submitted"],
            "succeeded": totals["succeeded"],
            "failed": totals["failed"],
            "rejected": totals["rejected"],
            "closed": self._closed,
        }

    def close(self) -> None:
        """Take no more jobs; the queued ones still run (a pool being replaced), then
        the threads stop."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            threads = self._threads
            self._changed.notify_all()
        for _ in range(threads):  # after every queued job: one stop mark per thread
            self._jobs.put(None)

    def drain(self, timeout: float) -> bool:
        """Take no more jobs, wait up to ``timeout`` s for the queued and running ones,
        then drop (count as rejected) what is still queued. True if nothing was left.

        A job already running when the time is up is not interrupted (Python cannot stop
        a thread); Python's own exit waits for it.
        """
        self.close()
        deadline = time.monotonic() + timeout
        with self._lock:
            self._waiting += 1
            try:
                while self._pending:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._changed.wait(left)
            finally:
                self._waiting -= 1
            if not self._pending:
                return True
        self._drop_queued()
        return False

    def _drop_queued(self) -> None:
        """Take the jobs nobody started off the queue and count them as rejected."""
        marks = 0
        while True:
            try:
                item = self._jobs.get_nowait()
            except queue.Empty:
                break
            if item is None:
                marks += 1
                continue
            name = item[0]
            self.counters.dropped(name)
            logger.warning("hookpipe: handler %r job dropped: the pool was shut down", name)
            self._job_ended()
        for _ in range(marks):  # the threads still need theirs
            self._jobs.put(None)


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
    # Python joins the pool's threads at exit with no time limit, before atexit
    # handlers run; threading's own exit hooks run before that join, so registering
    # ours there drains with a bound first (and gives the threads their stop marks).
    # Fall back to atexit where that API is missing.
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
