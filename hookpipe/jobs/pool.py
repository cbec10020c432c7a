"""The bounded thread pool that runs handler jobs off the request thread.

From ``HOOKPIPE["THREAD_POOL"]``:

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
job still queued when the process drains at exit, see
:func:`hookpipe.jobs.process_pool.shutdown`)."""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from typing import Any, Literal

from .counters import Counters
from .run import Job, run_counted, run_inline

logger = logging.getLogger("hookpipe")

#: Seconds a submission waits for a free slot when ``ON_FULL`` is ``"block"``; after
#: that the job is rejected (logged and counted). Long enough to ride out a burst,
#: short enough that a stuck pool cannot hold a request thread for good.
BLOCK_TIMEOUT = 5.0

Outcome = Literal["queued", "rejected", "inline"]


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
        #: What :func:`~hookpipe.jobs.process_pool.pool_for` compares, per submission.
        self.settings = (max_workers, max_queue, on_full)
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
        follows = False  # did the job follow the last one at once?
        try:
            while True:
                # A job that was waiting when the last one ended follows it at once: the
                # connections were just checked after that job (see run_counted).
                try:
                    item = self._jobs.get_nowait() if follows else self._jobs.get()
                except queue.Empty:
                    item, follows = self._jobs.get(), False
                if item is None:
                    return
                name, job, request_id = item
                try:
                    self.counters.started(name)
                    run_counted(name, job, self.counters, request_id, check_before=not follows)
                finally:
                    self._job_ended()
                follows = True
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
