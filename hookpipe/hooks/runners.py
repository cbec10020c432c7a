"""Calling a compiled program's methods, across sync and async, and handling their errors.

A runner calls ``methods[start:end]``, all of one kind, and stops at the first response
(``on_route``, ``before``, ``on_error``) or the first error (``on_route``, ``before``,
``after``). It returns (where to go on from, response, error). The drivers below
(:func:`forward_sync`, :func:`on_error_sync`, :func:`after_sync` and their async twins)
walk a program run by run, calling each run directly or across one sync/async switch,
which is how five sync hooks under ASGI cost one thread hop per phase, not five.

A program with no async method, run from sync code (every request under WSGI with sync
hooks), skips the runs: :func:`forward_sync`, :func:`on_error_sync` and
:func:`after_sync` walk it in one plain loop that does, method by method, exactly what
the general runner does, with less bookkeeping: which hooks were entered is written
when the loop stops early, not before every call (see :func:`_mark_entered`).

A hook that raises is logged with its name and handled like a view error: ``on_error``
hooks may answer, else Django's own exception handling does.
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync, sync_to_async
from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
from django.http import Http404, HttpResponseBase

from ..context import mark_raised
from ..failsafe import NotAResponse, django_response
from .api import State
from .compiled import HookList, HookMethod, Program

logger = logging.getLogger("hookpipe")

_CLIENT_ERRORS = (Http404, PermissionDenied, BadRequest, SuspiciousOperation)


def _log_failure(state: State, method: HookMethod, exc: Exception) -> None:
    request = state.request
    args = (method.label, type(exc).__name__, exc, request.method, request.path)
    if isinstance(exc, _CLIENT_ERRORS):
        logger.warning("hook %s raised %s: %s (%s %r)", *args)
    else:
        logger.error("hook %s raised %s: %s (%s %r)", *args, exc_info=exc)


def _not_a_response(method: HookMethod, value: Any, what: str) -> NotAResponse:
    return NotAResponse(
        f"hook {method.label} {what} {type(value).__name__}; it must be an HttpResponse (or None)."
    )


Outcome = tuple[int, HttpResponseBase | None, Exception | None]


def _check_after(state: State, method: HookMethod, previous: HttpResponseBase | None) -> None:
    """An ``after`` method may replace ``state.response``, with a response only."""
    if state.response is not previous and not isinstance(state.response, HttpResponseBase):
        bad, state.response = state.response, previous
        raise _not_a_response(method, bad, "set state.response to")


def _run_sync(
    state: State, methods: tuple[HookMethod, ...], start: int, end: int, exc: Exception | None
) -> Outcome:
    phase = methods[start].phase  # a run never spans two phases
    for i in range(start, end):
        method = methods[i]
        result = None
        try:
            if phase == "after":
                previous = state.response
                method.fn(state)
                _check_after(state, method, previous)
                continue
            if phase == "before":
                state._before_done = method.position + 1  # entered
                result = method.fn(state)
            elif phase == "on_route":
                state._route_done = method.position + 1
                result = method.fn(state)
            else:
                result = method.fn(state, exc)
            if result is not None and not isinstance(result, HttpResponseBase):
                raise _not_a_response(method, result, "returned")
        except Exception as error:
            _log_failure(state, method, error)
            if phase == "on_error":
                continue  # keep the original error; the next on_error hook may answer
            return i + 1, None, error
        if result is not None:
            return i + 1, result, None
    return end, None, None


async def _run_async(
    state: State, methods: tuple[HookMethod, ...], start: int, end: int, exc: Exception | None
) -> Outcome:
    phase = methods[start].phase
    for i in range(start, end):
        method = methods[i]
        result = None
        try:
            if phase == "after":
                previous = state.response
                await method.fn(state)
                _check_after(state, method, previous)
                continue
            if phase == "before":
                state._before_done = method.position + 1
                result = await method.fn(state)
            elif phase == "on_route":
                state._route_done = method.position + 1
                result = await method.fn(state)
            else:
                result = await method.fn(state, exc)
            if result is not None and not isinstance(result, HttpResponseBase):
                raise _not_a_response(method, result, "returned")
        except Exception as error:
            _log_failure(state, method, error)
            if phase == "on_error":
                continue
            return i + 1, None, error
        if result is not None:
            return i + 1, result, None
    return end, None, None


def _segment_sync(state: State, program: Program, i: int, exc: Exception | None) -> Outcome:
    if program.methods[i].is_async:
        return async_to_sync(_run_async)(state, program.methods, i, program.ends[i], exc)
    return _run_sync(state, program.methods, i, program.ends[i], exc)


async def _segment_async(state: State, program: Program, i: int, exc: Exception | None) -> Outcome:
    if program.methods[i].is_async:
        return await _run_async(state, program.methods, i, program.ends[i], exc)
    return await sync_to_async(_run_sync, thread_sensitive=True)(
        state, program.methods, i, program.ends[i], exc
    )


def _mark_entered(state: State, method: HookMethod) -> None:
    """``method``'s hook, and the hooks before it, were entered (on_route / before).

    The plain loops call this only when they stop at ``method``; when a phase completes,
    its caller marks every hook entered at once.
    """
    if method.phase == "before":
        state._before_done = method.position + 1
    else:
        state._route_done = method.position + 1


def forward_sync(
    state: State, program: Program
) -> tuple[HttpResponseBase | None, Exception | None]:
    """on_route / before: stop at the first response or error."""
    if program.all_sync:
        for method in program.methods:
            try:
                result = method.fn(state)
                if result is not None and not isinstance(result, HttpResponseBase):
                    raise _not_a_response(method, result, "returned")
            except Exception as failure:
                _mark_entered(state, method)
                _log_failure(state, method, failure)
                return None, failure
            if result is not None:
                _mark_entered(state, method)
                return result, None
        return None, None
    i, n = 0, len(program.methods)
    while i < n:
        i, response, error = _segment_sync(state, program, i, None)
        if response is not None or error is not None:
            return response, error
    return None, None


async def forward_async(
    state: State, program: Program
) -> tuple[HttpResponseBase | None, Exception | None]:
    i, n = 0, len(program.methods)
    while i < n:
        i, response, error = await _segment_async(state, program, i, None)
        if response is not None or error is not None:
            return response, error
    return None, None


def reached(state: State, program: Program) -> Program:
    """``program`` (the request's on_error), limited to the hooks the request reached:
    those whose ``on_route`` or ``before`` was called, or would have been had the hook
    defined one (hooks after one that answered or raised were not reached)."""
    hook_list: HookList = state._list
    n = hook_list.count
    route, before = state._route_done, state._before_done
    if before >= n or (hook_list.is_global and route >= n):
        return program  # the common case: everybody was reached
    return program.keep(lambda m: m.position < before or m.gposition < route)


def paired(state: State) -> Program:
    """The request's ``after`` program: a hook that defines ``on_route`` or ``before``
    only if one of them ran, a hook that defines neither always.

    The two usual ends of a request use a list compiled ahead; only a request where an
    ``on_route`` or ``before`` answered or raised filters per request.
    """
    hook_list: HookList = state._list
    n = hook_list.count
    route, before = state._route_done, state._before_done
    if before >= n:  # every before ran (so every on_route did: routing was reached)
        return hook_list.after_routed
    if before == 0 and hook_list.is_global and route >= n:
        return hook_list.after_unrouted
    return hook_list.after.keep(lambda m: m.paired(route, before))


def on_error_sync(state: State, exc: Exception) -> HttpResponseBase | None:
    state.exception = exc
    mark_raised(state.request)
    program = reached(state, state._list.on_error)
    if program.all_sync:
        for method in program.methods:
            try:
                result = method.fn(state, exc)
                if result is not None and not isinstance(result, HttpResponseBase):
                    raise _not_a_response(method, result, "returned")
            except Exception as failure:
                _log_failure(state, method, failure)
                continue  # keep the original error; the next on_error hook may answer
            if result is not None:
                return result
        return None
    i, n = 0, len(program.methods)
    while i < n:
        i, response, _ = _segment_sync(state, program, i, exc)
        if response is not None:
            return response
    return None


async def on_error_async(state: State, exc: Exception) -> HttpResponseBase | None:
    state.exception = exc
    mark_raised(state.request)
    program = reached(state, state._list.on_error)
    i, n = 0, len(program.methods)
    while i < n:
        i, response, _ = await _segment_async(state, program, i, exc)
        if response is not None:
            return response
    return None


def error_response_sync(state: State, exc: Exception) -> HttpResponseBase:
    return on_error_sync(state, exc) or django_response(state.request, exc)


async def error_response_async(state: State, exc: Exception) -> HttpResponseBase:
    response = await on_error_async(state, exc)
    if response is None:
        response = await sync_to_async(django_response, thread_sensitive=False)(state.request, exc)
    return response


def after_sync(state: State, response: HttpResponseBase) -> HttpResponseBase:
    """after, on ``response``: every paired hook runs (see :func:`paired`), in reverse;
    an error is handled like a view error and the remaining hooks see the response that
    handling produced. Returns the final response."""
    state.response = response
    hook_list: HookList = state._list
    # The usual end of a request, every before ran, is paired()'s first answer: here
    # without the call.
    routed = state._before_done >= hook_list.count
    program = hook_list.after_routed if routed else paired(state)
    if program.all_sync:
        for method in program.methods:
            previous = state.response
            try:
                method.fn(state)
                if state.response is not previous:
                    _check_after(state, method, previous)
            except Exception as failure:
                _log_failure(state, method, failure)
                state.response = error_response_sync(state, failure)
        return state.response
    i, n = 0, len(program.methods)
    while i < n:
        i, _, error = _segment_sync(state, program, i, None)
        if error is not None:
            state.response = error_response_sync(state, error)
    # The runners only ever replace it with a response.
    return state.response


async def after_async(state: State, response: HttpResponseBase) -> HttpResponseBase:
    state.response = response
    program = paired(state)
    i, n = 0, len(program.methods)
    while i < n:
        i, _, error = await _segment_async(state, program, i, None)
        if error is not None:
            state.response = await error_response_async(state, error)
    return state.response
