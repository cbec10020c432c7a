"""How long each plugin takes, per process, in fixed buckets: opt in, zero cost when off.

With ``HOOKPIPE["METRICS"]["DURATIONS"] = True`` the pipeline is built with its pieces
wrapped in a timer (:func:`timed`): each tween and chain handler, MAIN, each hook
method, each responder's answer; a handler job's duration, measured anyway for its
percentiles (:mod:`hookpipe.jobs.counters`), is also put in a bucket. Without it
nothing is wrapped: the chain is the one built without metrics, and no request pays a
branch for it (a handler job pays one attribute test, in its own thread).

Each series is a histogram the Prometheus way: a count per upper bound (``le``),
cumulative when read, a sum and a count. Every process uses the same bounds
(:data:`BUCKETS`), so the records the processes publish (:mod:`hookpipe.fleet`) add
up bucket by bucket into the fleet's histogram, which percentiles cannot do.

What a series times (``kind``, ``plugin``, ``phase``):

* ``tween``, by name, ``call``: the tween *including everything it wraps*: the tweens
  inside it, MAIN and the view. Its own time is its series minus the next one inside.
* ``main``, ``hookpipe.MAIN``, ``call``: MAIN (hooks, handlers, responders, the rest of
  Django and the view), so that the innermost tween's own time can be found too.
* ``hook``, the hook's class path, ``on_route``/``before``/``after``/``on_error``.
* ``responder``, by name, ``respond``: ``respond()`` and the response built with its
  first chunk; the rest of a streamed body is sent after and is not included.
* ``handler``, by name, ``handle``: a pool or inline job, in the thread that runs it.
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_left
from collections.abc import Callable, Mapping
from typing import Any, Final

#: Upper bounds in seconds, ``+Inf`` implied. From 100 µs (a tween that does little)
#: to 10 s (a slow view under a tween); fixed, so that every process's add up.
BUCKETS: Final = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
#: The ``le`` labels, in order, ``+Inf`` last: the keys of a published ``"buckets"``.
LE: Final = (*(repr(b) for b in BUCKETS), "+Inf")

#: The attribute a timed wrapper carries: the series it feeds (tests look for it).
MARK: Final = "__hookpipe_timed__"


#: Durations a series keeps unfolded at most (see :class:`Histogram`).
FOLD_AT: Final = 4096


class Histogram:
    """One series: a count per bucket, a sum and a count.

    A request only appends its duration to ``pending`` (one C call, atomic, no lock:
    a lock and the bucket search cost a request three times as much); the durations are
    put into their buckets when the series is read (:meth:`snapshot`), which the
    fleet's publisher does every ``PUBLISH_EVERY`` seconds, or by the request that
    finds :data:`FOLD_AT` of them waiting, so that a process nobody reads holds at most
    that many per series.
    """

    __slots__ = ("_counts", "_lock", "_sum", "pending")

    def __init__(self) -> None:
        self.pending: list[float] = []
        self._lock = threading.Lock()  # one reader folds at a time
        self._counts = [0] * len(LE)
        self._sum = 0.0

    def observe(self, seconds: float) -> None:
        pending = self.pending
        pending.append(seconds)
        if len(pending) >= FOLD_AT and self._lock.acquire(blocking=False):
            try:
                self._fold()
            finally:
                self._lock.release()

    def _fold(self) -> None:
        pending = self.pending
        # Copy, then delete what was copied: each is one atomic list operation, and an
        # append in between lands after them, to be folded next time.
        n = len(pending)
        taken = pending[:n]
        del pending[:n]
        counts = self._counts
        for seconds in taken:
            # bisect_left: a value equal to a bound goes into that bound's bucket (le).
            counts[bisect_left(BUCKETS, seconds)] += 1
        self._sum += sum(taken)

    def snapshot(self) -> dict[str, Any]:
        """``{"buckets": {le: cumulative count}, "sum": seconds, "count": n}``."""
        with self._lock:
            self._fold()
            counts, total = list(self._counts), self._sum
        buckets, running = {}, 0
        for le, n in zip(LE, counts, strict=True):
            running += n
            buckets[le] = running
        return {"buckets": buckets, "sum": total, "count": running}


class Durations:
    """The series of one process, by (kind, plugin, phase); kept across rebuilds."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._series: dict[tuple[str, str, str], Histogram] = {}
        #: Set by each pipeline build: whether handler jobs go into buckets too.
        self.handlers = False

    def series(self, kind: str, plugin: str, phase: str) -> Histogram:
        key = (kind, plugin, phase)
        with self._lock:
            found = self._series.get(key)
            if found is None:
                found = self._series[key] = Histogram()
            return found

    def observe_handler(self, name: str, seconds: float) -> None:
        self.series("handler", name, "handle").observe(seconds)

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """What a process publishes: ``"kind plugin phase"`` -> its series, labelled."""
        with self._lock:
            items = list(self._series.items())
        return {
            " ".join(key): {"kind": key[0], "plugin": key[1], "phase": key[2], **h.snapshot()}
            for key, h in sorted(items)
        }


_store = Durations()


def store() -> Durations:
    """This process's series."""
    return _store


def timed(fn: Callable[..., Any], series: Histogram, is_async: bool) -> Callable[..., Any]:
    """``fn`` timed into ``series`` (wall clock, the exception path included).

    Built once per pipeline build; the wrapper is what the chain or the hook runner
    calls instead of ``fn``. An async wrapper for an async ``fn``, so that callers still
    see a coroutine function."""
    observe, clock = series.pending.append, time.perf_counter
    wrapper: Callable[..., Any]
    if is_async:

        async def timed_async(*args: Any) -> Any:
            start = clock()
            try:
                return await fn(*args)
            finally:
                observe(clock() - start)

        wrapper = timed_async
    else:

        def timed_sync(*args: Any) -> Any:
            start = clock()
            try:
                return fn(*args)
            finally:
                observe(clock() - start)

        wrapper = timed_sync
    setattr(wrapper, MARK, series)
    wrapper.__qualname__ = f"<timed {getattr(fn, '__qualname__', type(fn).__name__)}>"
    return wrapper


def timed_by_plugin(
    fn: Callable[..., Any], series: Mapping[int, Histogram], is_async: bool
) -> Callable[..., Any]:
    """``fn(request, plugin, ...)`` timed into ``series[id(plugin)]``: one wrapper for
    the answer of every responder, which is chosen per request."""
    clock = time.perf_counter
    wrapper: Callable[..., Any]
    if is_async:

        async def timed_async(request: Any, plugin: Any, *args: Any) -> Any:
            start = clock()
            try:
                return await fn(request, plugin, *args)
            finally:
                series[id(plugin)].pending.append(clock() - start)

        wrapper = timed_async
    else:

        def timed_sync(request: Any, plugin: Any, *args: Any) -> Any:
            start = clock()
            try:
                return fn(request, plugin, *args)
            finally:
                series[id(plugin)].pending.append(clock() - start)

        wrapper = timed_sync
    setattr(wrapper, MARK, series)
    return wrapper


def is_timed(fn: Any) -> bool:
    return hasattr(fn, MARK)


def forget_after_fork() -> None:
    """A new process counts from zero, like its counters (the process's fork handler
    calls this): a new store rather than a cleared one, whose lock another thread of
    the parent may have held at the fork."""
    global _store
    _store = Durations()
