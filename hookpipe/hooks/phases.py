"""The hook phases, each written once as steps (:mod:`hookpipe.steps`) that run under
WSGI and ASGI alike.

While sync code runs it (``caller.is_sync``), a phase calls a sync hook itself instead
of yielding the call to the driver: that is every hook of a WSGI request with sync
hooks, the common case, where a yield per hook cost a request with five hooks some
35,000 instructions (``bench/RESULTS.md``, issue 18). Everything else is yielded.

``on_route`` and ``before`` stop at the first hook that answers or raises
(:func:`forward`); ``on_error`` asks the hooks the request reached until one answers
(:func:`on_error`); ``after`` runs, in reverse, the hooks the request pairs with, and
hands an error in one of them to ``on_error`` before the next one runs (:func:`after`).

A hook that raises is logged with its name and handled like a view error: ``on_error``
hooks may answer, else Django's own exception handling does.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
from django.http import Http404, HttpResponseBase

from ..context import mark_raised
from ..failsafe import NotAResponse, django_response
from ..steps import BLOCKING, Caller, Steps
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


def _not_a_response(method: HookMethod, result: Any) -> NotAResponse:
    """An ``on_route``, ``before`` or ``on_error`` method returned neither a response
    nor None."""
    return NotAResponse(
        f"hook {method.label} returned {type(result).__name__}; it must be an "
        "HttpResponse (or None)."
    )


def _check_after(state: State, method: HookMethod, previous: HttpResponseBase | None) -> None:
    """An ``after`` method may replace ``state.response``, with a response only."""
    if state.response is not previous and not isinstance(state.response, HttpResponseBase):
        bad, state.response = state.response, previous
        raise NotAResponse(
            f"hook {method.label} set state.response to {type(bad).__name__}; it must be an "
            "HttpResponse (or None)."
        )


def _mark_entered(state: State, method: HookMethod) -> None:
    """``method``'s hook, and the hooks before it, were entered (``on_route`` /
    ``before``): :func:`reached` and :func:`paired` read this. Written when a phase
    stops early; a phase that completes is marked whole by its caller."""
    if method.phase == "before":
        state._before_done = method.position + 1
    else:
        state._route_done = method.position + 1


def forward(
    state: State, program: Program, caller: Caller
) -> Steps[tuple[HttpResponseBase | None, Exception | None]]:
    """``on_route`` / ``before``: (the first response, or the first error, or neither)."""
    for method in program.methods:
        try:
            if caller.is_sync and not method.is_async:
                result = method.fn(state)
            else:
                result = yield method.fn, (state,), method.mode
            if result is not None and not isinstance(result, HttpResponseBase):
                raise _not_a_response(method, result)
        except Exception as failure:
            _mark_entered(state, method)
            _log_failure(state, method, failure)
            return None, failure
        if result is not None:
            _mark_entered(state, method)
            return result, None
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


def on_error(state: State, exc: Exception, caller: Caller) -> Steps[HttpResponseBase | None]:
    """``on_error`` for ``exc``: the first response a reached hook gives, or None. A hook
    that raises is logged and the next one is asked about the original error."""
    state.exception = exc
    mark_raised(state.request)
    for method in reached(state, state._list.on_error).methods:
        try:
            if caller.is_sync and not method.is_async:
                result = method.fn(state, exc)
            else:
                result = yield method.fn, (state, exc), method.mode
            if result is not None and not isinstance(result, HttpResponseBase):
                raise _not_a_response(method, result)
        except Exception as failure:
            _log_failure(state, method, failure)
            continue
        if result is not None:
            return result
    return None


def error_response(state: State, exc: Exception, caller: Caller) -> Steps[HttpResponseBase]:
    """``on_error``'s response to ``exc``, else Django's."""
    response = yield from on_error(state, exc, caller)
    if response is None:
        response = yield django_response, (state.request, exc), BLOCKING
    return response


def after(state: State, response: HttpResponseBase, caller: Caller) -> Steps[HttpResponseBase]:
    """``after``, on ``response``: every paired hook (see :func:`paired`), in reverse. An
    error is handled like a view error, and the hooks after it see the response that
    handling produced. Returns the final response."""
    state.response = response
    for method in paired(state).methods:
        previous = state.response
        try:
            if caller.is_sync and not method.is_async:
                method.fn(state)
            else:
                yield method.fn, (state,), method.mode
            if state.response is not previous:
                _check_after(state, method, previous)
        except Exception as failure:
            _log_failure(state, method, failure)
            state.response = yield from error_response(state, failure, caller)
    return state.response
