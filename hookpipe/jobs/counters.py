"""Per-handler job counters of one process: every job ends counted.

Every job is counted, per handler name, under one lock, so that at any moment::

    submitted == succeeded + failed + rejected + queued + running

A job is never silently lost: it ends succeeded, failed or rejected (which includes a
job still queued when the process drains at exit)."""

from __future__ import annotations

import math
import threading
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Any, Final

from .. import durations

#: How many recent job durations the percentiles are computed over, per handler.
DURATION_WINDOW: Final = 1000

#: What :meth:`Counters.snapshot` gives for one handler.
JOB_KEYS: Final = (
    "submitted",
    "succeeded",
    "failed",
    "rejected",
    "queued",
    "running",
    "inline",
    "duration_ms",
)
#: Of those, the ones that can be other than 0 for a handler, by where its jobs run
#: (the page, ``describe()`` and the metrics show only these). An inline handler's job
#: is never queued nor turned away (and every one counts as ``inline``). A task handler's jobs
#: are counted by its task counters; the pool's count only those that fell back to
#: the pool (``ON_ENQUEUE_ERROR = "pool"``), see :func:`job_keys`.
JOB_KEYS_BY_RUNNER: Final = {
    "pool": JOB_KEYS,
    "inline": ("submitted", "succeeded", "failed", "running", "inline", "duration_ms"),
    "task": (),
}


def job_keys(runner: str, falls_back_to_pool: bool = False) -> tuple[str, ...]:
    """The job counters that mean something for a handler run by ``runner`` (a runner
    of ``EXTRA_RUNNERS`` that this table does not know: all of them)."""
    if runner == "task" and falls_back_to_pool:
        return JOB_KEYS
    return JOB_KEYS_BY_RUNNER.get(runner, JOB_KEYS)


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
        # A handler's counts appear with its first job.
        self._counts: defaultdict[str, _Counts] = defaultdict(_Counts)

    def queued(self, name: str) -> None:
        with self._lock:
            counts = self._counts[name]
            counts.submitted += 1
            counts.queued += 1

    def rejected(self, name: str) -> None:
        with self._lock:
            counts = self._counts[name]
            counts.submitted += 1
            counts.rejected += 1

    def dropped(self, name: str) -> None:
        """A queued job that will never run (cancelled at shutdown): rejected after all."""
        with self._lock:
            counts = self._counts[name]
            counts.queued -= 1
            counts.rejected += 1

    def started(self, name: str) -> None:
        with self._lock:
            counts = self._counts[name]
            counts.queued -= 1
            counts.running += 1

    def started_inline(self, name: str) -> None:
        with self._lock:
            counts = self._counts[name]
            counts.submitted += 1
            counts.inline += 1
            counts.running += 1

    def finished(self, name: str, ok: bool, seconds: float) -> None:
        with self._lock:
            counts = self._counts[name]
            counts.running -= 1
            if ok:
                counts.succeeded += 1
            else:
                counts.failed += 1
            counts.durations.append(seconds)
        timer = durations.store()
        if timer.handlers:  # METRICS["DURATIONS"]: buckets as well (hookpipe.durations)
            timer.observe_handler(name, seconds)

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
