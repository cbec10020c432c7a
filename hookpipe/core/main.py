"""MAIN, the innermost link: the hookpipe core between the tweens and the rest of Django."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponseBase

from ..context import RequestContext
from ..failsafe import failsafe_response
from ..hooks import HookRuntime, State
from ..plugins.base import ResponderImplementation
from ..plugins.dispatch import Answer
from ..steps import run_async, run_sync
from .chain import guard
from .ordering import MAIN

# MAIN: the hookpipe core, the innermost link. With global hooks it runs on_route. Then
# the handlers and responders (hookpipe.plugins.dispatch), when any are configured: handlers get
# the request, and the first responder that wants it answers. Otherwise the request goes
# on to the rest of Django (routing, process_view -> before hooks, the view,
# process_exception -> on_error hooks), and on_error gets a routing error. Last, the
# after hooks run on the final response: the global ones, or without global hooks those
# of a view whose own hooks made a state in process_view. A responder's error before its
# first chunk goes to on_error (state.view is the responder), then the failsafe.
# Hook errors are handled inside the hooks runtime (hookpipe.hooks); nothing it runs
# lets a hook's exception out. Without plugins, ``plugins`` is None: one attribute read.
# Which of the two MAINs a pipeline uses (with or without global hooks) is decided when
# it is built.
#
# Each MAIN is written twice, sync and async, side by side, where the hook phases are
# written once (hookpipe.steps): MAIN runs on every request, and written as steps it
# cost every request some 6,500 instructions more (1.7 % of plain Django's request, an
# empty HOOKPIPE then past its guard of 2 %; bench/RESULTS.md, issue 18). The tests
# run every behaviour of both through the same requests, under WSGI and ASGI.


def _main_sync(request: HttpRequest) -> HttpResponseBase:
    """MAIN without global hooks."""
    ctx: RequestContext = request.hookpipe  # type: ignore[attr-defined]
    ctx.state = None  # a tween may call the handler twice
    plugins = ctx.pipeline.plugins
    if plugins is not None:
        answer = plugins.run_sync(request)
        if answer is not None:
            return answered_sync(request, answer, ctx.pipeline.hooks, None)
    response: HttpResponseBase = ctx.below_sync(request)
    made = ctx.state  # by process_view, for a view with hooks
    if made is None:
        return response
    ctx.state = None  # see _main_hooked_sync
    return run_sync(HookRuntime.leave, made, response)


def _main_hooked_sync(request: HttpRequest) -> HttpResponseBase:
    """MAIN with global hooks."""
    ctx: RequestContext = request.hookpipe  # type: ignore[attr-defined]
    pipeline = ctx.pipeline
    hooks: HookRuntime = pipeline.hooks
    state = ctx.state = State(request, hooks.globals)
    # Without on_route methods the state starts past on_route (see State): no call.
    response = run_sync(hooks.enter, state) if hooks.routes else None
    if response is None:
        plugins = pipeline.plugins
        answer = None if plugins is None else plugins.run_sync(request)
        if answer is None:
            response = ctx.below_sync(request)
            if state.view is None and response.status_code >= 400:  # did routing fail?
                response = run_sync(hooks.routed, state, response)
        else:
            response = answered_sync(request, answer, hooks, state)
    # The state is done with. Dropping it breaks the cycle request -> context -> state
    # -> request, so that the request is freed when the server lets go of it, not by a
    # later garbage collection (which a cycle per request keeps busy).
    ctx.state = None
    return run_sync(hooks.leave, state, response)


async def _main_async(request: HttpRequest) -> HttpResponseBase:
    """MAIN without global hooks, for async callers."""
    ctx: RequestContext = request.hookpipe  # type: ignore[attr-defined]
    ctx.state = None
    plugins = ctx.pipeline.plugins
    if plugins is not None:
        answer = await plugins.run_async(request)
        if answer is not None:
            return await answered_async(request, answer, ctx.pipeline.hooks, None)
    response: HttpResponseBase = await ctx.below_async(request)
    made = ctx.state
    if made is None:
        return response
    ctx.state = None  # see _main_hooked_sync
    return await run_async(HookRuntime.leave, made, response)


async def _main_hooked_async(request: HttpRequest) -> HttpResponseBase:
    """MAIN with global hooks, for async callers."""
    ctx: RequestContext = request.hookpipe  # type: ignore[attr-defined]
    pipeline = ctx.pipeline
    hooks: HookRuntime = pipeline.hooks
    state = ctx.state = State(request, hooks.globals)
    response = await run_async(hooks.enter, state) if hooks.routes else None
    if response is None:
        plugins = pipeline.plugins
        answer = None if plugins is None else await plugins.run_async(request)
        if answer is None:
            response = await ctx.below_async(request)
            if state.view is None and response.status_code >= 400:
                response = await run_async(hooks.routed, state, response)
        else:
            response = await answered_async(request, answer, hooks, state)
    ctx.state = None  # see _main_hooked_sync
    return await run_async(hooks.leave, state, response)


# MAIN is guarded like a tween, under its own name: an error of hookpipe's own (a body
# the client broke off while it was read, say) is logged as MAIN's, not as the innermost
# tween's, which only called it, and the tweens above still get a response.
main_sync = guard(_main_sync, False, "hookpipe", MAIN)
main_hooked_sync = guard(_main_hooked_sync, False, "hookpipe", MAIN)
main_async = guard(_main_async, True, "hookpipe", MAIN)
main_hooked_async = guard(_main_hooked_async, True, "hookpipe", MAIN)


# ------------------------------------------- a request the plugins answered


def answered_sync(
    request: HttpRequest, answer: Answer, hooks: HookRuntime, state: State | None
) -> HttpResponseBase:
    """The response to a request the plugins answered (a responder, or the 413).

    A responder stands for the view: ``on_error`` hooks (with ``state.view`` set to
    it) may answer its error, else the failsafe does."""
    responder = answer.responder
    if state is not None and responder is not None:
        state.view = responder  # type: ignore[assignment]  # the responder stands for the view
    if answer.error is None:
        return answer.response  # type: ignore[return-value]
    if state is not None:
        response = run_sync(hooks.failed, state, answer.error)
        if response is not None:
            return response
    return failsafe_response(request, answer.error, "responder", _responder_name(responder))


async def answered_async(
    request: HttpRequest, answer: Answer, hooks: HookRuntime, state: State | None
) -> HttpResponseBase:
    responder = answer.responder
    if state is not None and responder is not None:
        state.view = responder  # type: ignore[assignment]  # the responder stands for the view
    if answer.error is None:
        return answer.response  # type: ignore[return-value]
    if state is not None:
        response = await run_async(hooks.failed, state, answer.error)
        if response is not None:
            return response
    return await sync_to_async(failsafe_response, thread_sensitive=False)(
        request, answer.error, "responder", _responder_name(responder)
    )


def _responder_name(responder: ResponderImplementation | None) -> str:
    return responder.name if responder is not None else "-"
