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

A function that makes steps takes a :class:`Caller` as its last argument, which the
driver keeps up to date: while it is sync code that resumes the steps (``caller.is_sync``),
they may call a sync function themselves rather than yield it, which saves a generator
round trip per call on the most common path (sync hooks under WSGI).

The calls are plain tuples, not named ones, because a named tuple is built by a Python
function: three times the cost of a step (``bench/RESULTS.md``, issue 18).
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


class Caller:
    """Who resumes the steps now: sync code (in the thread Django runs sync code in), or
    a coroutine. The drivers flip it as they cross."""

    __slots__ = ("is_sync",)

    def __init__(self, is_sync: bool) -> None:
        self.is_sync = is_sync


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


def run_sync(make: Callable[..., Steps[T]], *args: Any) -> T:
    """Run ``make(*args, caller)`` from sync code: what the steps return, or the
    exception they raise."""
    caller = Caller(True)
    steps = make(*args, caller)
    try:
        call: Call | _Done = next(steps)
    except StopIteration as end:  # no call yielded: the usual case
        return end.value  # type: ignore[no-any-return]
    while not isinstance(call, _Done):
        if call[2] == ASYNC:
            caller.is_sync = False
            call = async_to_sync(_async_calls)(steps, call)
            caller.is_sync = True
        else:
            call = _sync_calls(steps, call)
    return call.value  # type: ignore[no-any-return]


async def run_async(make: Callable[..., Steps[T]], *args: Any) -> T:
    """Run ``make(*args, caller)`` from a coroutine: what the steps return, or the
    exception they raise."""
    caller = Caller(False)
    steps = make(*args, caller)
    try:
        call: Call | _Done = next(steps)
    except StopIteration as end:
        return end.value  # type: ignore[no-any-return]
    while not isinstance(call, _Done):
        mode = call[2]
        if mode == ASYNC:
            call = await _async_calls(steps, call)
        else:
            # In Django's sync thread (SYNC), the steps may call sync hooks themselves;
            # in any other thread (BLOCKING) they yield them.
            caller.is_sync = mode == SYNC
            try:
                call = await sync_to_async(_sync_calls, thread_sensitive=caller.is_sync)(
                    steps, call
                )
            finally:
                caller.is_sync = False
    return call.value  # type: ignore[no-any-return]
