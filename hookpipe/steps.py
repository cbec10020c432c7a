"""A part of the request path written once and run from sync code or from async code.

Hooks may be ``def`` or ``async def``, and the same rules (which hook runs next, what
its answer means, what its error does) hold under WSGI and ASGI. So the rules are
written once, as a generator of *steps*: it yields each call it needs made
(:class:`Call`) and gets back the call's result, or has the call's exception thrown in
where it yielded. Two drivers make the calls:

* :func:`run_sync`, from sync code, calls a sync function directly and an ``async
  def`` one through ``async_to_sync``;
* :func:`run_async`, from a coroutine, awaits an ``async def`` function and runs a
  sync one through ``sync_to_async``.

A driver that has crossed into the other mode makes every following call of that mode
on the same side before it crosses back: five sync hooks in a row under ASGI cost one
thread hop, not five.

The cost: one generator step per call, measured in ``bench/RESULTS.md`` (issue 18).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any, NamedTuple, TypeVar

from asgiref.sync import async_to_sync, sync_to_async

T = TypeVar("T")


class Call(NamedTuple):
    """A call a step needs made: ``fn(*args)``, in the mode ``fn`` is written in."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    #: ``fn`` is ``async def``: its result is awaited.
    is_async: bool
    #: For a sync ``fn`` run from async code: ``sync_to_async``'s ``thread_sensitive``.
    #: User code (hooks) keeps Django's default, True; hookpipe's own blocking calls
    #: that touch no thread-bound state say False and do not wait for that one thread.
    thread_sensitive: bool = True


#: A part of the request path: yields calls, gets their results, returns a ``T``.
Steps = Generator[Call, Any, T]


class _Done(NamedTuple):
    value: Any


def _resume(steps: Steps[Any], result: Any = None, error: Exception | None = None) -> Call | _Done:
    """The next call ``steps`` asks for once given ``result`` (or ``error``), or its end."""
    try:
        if error is not None:
            return steps.throw(error)
        return steps.send(result)
    except StopIteration as end:
        return _Done(end.value)


def _sync_calls(steps: Steps[Any], call: Call | _Done) -> Call | _Done:
    """Make ``call`` and the sync calls after it (with the same ``thread_sensitive``)
    in this thread; stop at the first other call or at the end."""
    if isinstance(call, Call):
        sensitive = call.thread_sensitive
        while isinstance(call, Call) and not call.is_async and call.thread_sensitive == sensitive:
            try:
                result = call.fn(*call.args)
            except Exception as error:
                call = _resume(steps, error=error)
            else:
                call = _resume(steps, result)
    return call


async def _async_calls(steps: Steps[Any], call: Call | _Done) -> Call | _Done:
    """Await ``call`` and the async calls after it; stop at the first sync call or at the end."""
    while isinstance(call, Call) and call.is_async:
        try:
            result = await call.fn(*call.args)
        except Exception as error:
            call = _resume(steps, error=error)
        else:
            call = _resume(steps, result)
    return call


def run_sync(steps: Steps[T]) -> T:
    """Run ``steps`` from sync code; what they return, or the exception they raise."""
    call = _resume(steps)
    while isinstance(call, Call):
        if call.is_async:
            call = async_to_sync(_async_calls)(steps, call)
        else:
            call = _sync_calls(steps, call)
    return call.value  # type: ignore[no-any-return]


async def run_async(steps: Steps[T]) -> T:
    """Run ``steps`` from a coroutine; what they return, or the exception they raise."""
    call = _resume(steps)
    while isinstance(call, Call):
        if call.is_async:
            call = await _async_calls(steps, call)
        else:
            hop = sync_to_async(_sync_calls, thread_sensitive=call.thread_sensitive)
            call = await hop(steps, call)
    return call.value  # type: ignore[no-any-return]
