"""A part of the request path written once and run from sync code or from async code.

Hooks may be ``def`` or ``async def``, and the same rules (which hook runs next, what
its answer means, what its error does) hold under WSGI and ASGI. So the rules are
written once, as a generator of *steps*: it yields each call it needs made, as a tuple
``(function, args, mode)``, and gets back the call's result, or has the call's
exception raised where it yielded. ``mode`` is how ``function`` is written:

* :data:`ASYNC`: ``async def``; its result is awaited;
* :data:`SYNC`: ``def``, user code: from async code it runs in the thread Django runs
  sync code in (``sync_to_async``'s default, ``thread_sensitive=True``);
* :data:`BLOCKING`: ``def``, hookpipe's own blocking call that touches nothing bound to
  a thread: from async code it runs in any worker thread, as Django's own exception
  handling does.

Two drivers make the calls: :func:`run_sync` from sync code, :func:`run_async` from a
coroutine. A driver that has crossed into the other mode makes every following call
of that mode on that side before it crosses back: five sync hooks in a row under ASGI
cost one thread hop, not five.

The calls are plain tuples, and the drivers one loop each, because this runs several
times per request: a step costs about 0.13 µs this way, three times that with a named
tuple and a function per step (``bench/RESULTS.md``, issue 18).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any, Final, Literal, TypeVar

from asgiref.sync import async_to_sync, sync_to_async

T = TypeVar("T")

Mode = Literal["async", "sync", "blocking"]
ASYNC: Final = "async"
SYNC: Final = "sync"
BLOCKING: Final = "blocking"

#: A call a step needs made: ``(function, args, mode)``.
Call = tuple[Callable[..., Any], tuple[Any, ...], Mode]

#: A part of the request path: yields calls, gets their results, returns a ``T``.
Steps = Generator[Call, Any, T]


class _Done:
    """What a driver's other side returns when the steps ended there."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def _sync_calls(steps: Steps[Any], call: Call) -> Call | _Done:
    """Make ``call`` and the sync calls after it in this thread (of one mode, SYNC or
    BLOCKING); the first call of another mode, or the end."""
    first_mode = call[2]
    try:
        while True:
            function, args, mode = call
            if mode != first_mode:
                return call
            try:
                result = function(*args)
            except Exception as error:
                call = steps.throw(error)
            else:
                call = steps.send(result)
    except StopIteration as end:
        return _Done(end.value)


async def _async_calls(steps: Steps[Any], call: Call) -> Call | _Done:
    """Await ``call`` and the async calls after it; the first sync call, or the end."""
    try:
        while True:
            function, args, mode = call
            if mode != ASYNC:
                return call
            try:
                result = await function(*args)
            except Exception as error:
                call = steps.throw(error)
            else:
                call = steps.send(result)
    except StopIteration as end:
        return _Done(end.value)


def _first(steps: Steps[Any]) -> Call | _Done:
    try:
        return next(steps)
    except StopIteration as end:
        return _Done(end.value)


def run_sync(steps: Steps[T]) -> T:
    """Run ``steps`` from sync code: what they return, or the exception they raise."""
    call = _first(steps)
    while not isinstance(call, _Done):
        if call[2] == ASYNC:
            call = async_to_sync(_async_calls)(steps, call)
        else:
            call = _sync_calls(steps, call)
    return call.value  # type: ignore[no-any-return]


async def run_async(steps: Steps[T]) -> T:
    """Run ``steps`` from a coroutine: what they return, or the exception they raise."""
    call = _first(steps)
    while not isinstance(call, _Done):
        mode = call[2]
        if mode == ASYNC:
            call = await _async_calls(steps, call)
        else:
            hop = sync_to_async(_sync_calls, thread_sensitive=mode == SYNC)
            call = await hop(steps, call)
    return call.value  # type: ignore[no-any-return]
