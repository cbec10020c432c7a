"""The links of the chain: each tween guarded, adapted once for sync and async callers.

Each link knows whether its tween is sync or async and how to be called from either
side. A link calls the next one directly when both are of the same kind, so a run of
sync tweens costs one thread hop in total, not one per tween. Whatever a tween does,
the tween above it gets a response (:func:`guard`, the failsafe)."""

from __future__ import annotations

import types
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import async_to_sync, iscoroutinefunction, sync_to_async
from django.http import HttpRequest, HttpResponseBase

from ..failsafe import NotAResponse, failsafe_response

SyncHandler = Callable[[HttpRequest], HttpResponseBase]
AsyncHandler = Callable[[HttpRequest], Awaitable[HttpResponseBase]]


def is_async_tween(obj: Any) -> bool:
    if iscoroutinefunction(obj):
        return True
    # A class-style tween: an instance whose __call__ is ``async def``.
    if isinstance(obj, types.FunctionType | types.MethodType):
        return False
    return iscoroutinefunction(type(obj).__call__)


class Link:
    """One position in the chain, callable from sync code and from async code.

    ``call_sync`` and ``call_async`` are what a caller of each kind calls: a tween
    guarded (see :func:`guard`) and adapted, once, for callers of the other kind.
    """

    __slots__ = ("call_async", "call_sync", "name")

    def __init__(self, name: str, call_sync: SyncHandler, call_async: AsyncHandler) -> None:
        self.name = name
        self.call_sync = call_sync
        self.call_async = call_async

    @classmethod
    def around(
        cls, name: str, tween: Callable[[HttpRequest], Any], is_async: bool, what: str
    ) -> Link:
        """A link for ``tween``, guarded, and adapted once, here, for callers of the other
        kind."""
        call = guard(tween, is_async, what, name)
        if is_async:
            return cls(name, async_to_sync(call), call)
        return cls(name, call, sync_to_async(call, thread_sensitive=True))


def handler_below(
    below: Link, chain: bool = False
) -> tuple[Callable[..., Any], Callable[[bool], None]]:
    """The ``handler`` (or ``next_handler``) a tween receives: the rest of the chain,
    and the function that binds it once the tween is known to be sync or async.

    Bound, calling it never switches threads unless the next link is of the other kind.
    It is a plain function rather than an object with ``__call__``, which Python calls
    several times slower, since every request calls it once per tween.

    With ``chain`` (the ``next_handler`` of a chain handler) it also accepts Tangled's
    form, ``next_handler(app, request)``, whose second argument is the request.
    """
    call: Callable[[HttpRequest], Any] = below.call_sync

    def handler(request: HttpRequest) -> Any:
        return call(request)

    def next_handler(request: Any, tangled_request: Any = None) -> Any:
        return call(request if tangled_request is None else tangled_request)

    def bind(is_async: bool) -> None:
        nonlocal call
        call = below.call_async if is_async else below.call_sync

    chosen = next_handler if chain else handler
    # Its repr: <function <hookpipe handler for 'auth'> at 0x...>.
    chosen.__qualname__ = f"<hookpipe handler for {below.name!r}>"
    return chosen, bind


def not_a_response(what: str, name: str, response: Any) -> NotAResponse:
    return NotAResponse(
        f"{what} {name!r} returned {type(response).__name__} instead of an "
        "HttpResponse; it must return the handler's response or its own."
    )


def guard(call: Callable[..., Any], is_async: bool, what: str, name: str) -> Any:
    """Wrap one tween so that whatever it does, the tween above it gets a response."""
    if is_async:

        async def guarded_async(request: HttpRequest) -> HttpResponseBase:
            try:
                response = await call(request)
                if not isinstance(response, HttpResponseBase):
                    raise not_a_response(what, name, response)
                return response
            except Exception as exc:
                return await sync_to_async(failsafe_response, thread_sensitive=False)(
                    request, exc, what, name
                )

        return guarded_async

    def guarded(request: HttpRequest) -> HttpResponseBase:
        try:
            response = call(request)
            if not isinstance(response, HttpResponseBase):
                raise not_a_response(what, name, response)
            return response
        except Exception as exc:
            return failsafe_response(request, exc, what, name)

    return guarded


def chain_handler_tween(fn: Any, app: object, downstream: Callable[..., Any]) -> Any:
    """Adapt a Tangled-style ``fn(app, request, next_handler)`` to a tween.

    ``downstream`` comes from ``handler_below(..., chain=True)``: ``fn`` may call it as
    ``next_handler(request)`` or, as Tangled does, ``next_handler(app, request)``."""
    if is_async_tween(fn):

        async def chain_tween_async(request: HttpRequest) -> Any:
            return await fn(app, request, downstream)

        return chain_tween_async

    def chain_tween(request: HttpRequest) -> Any:
        return fn(app, request, downstream)

    return chain_tween
