"""What the benchmark variants are made of: a trivial view, pass-through tweens, hooks
that do nothing, and the same pieces written as plain Django middleware.

The pieces do no work of their own, so that what the variants measure is the machinery
that calls them: a tween passes the request on, a hook's ``before`` and ``after`` return
at once, a middleware's ``__call__`` passes the request on and its ``process_view``
returns ``None``. Each piece only looks whether the request is a *traced* one (a
``bench.trace`` list in ``request.META``, which only :func:`bench.run.verify` sends) and
then notes that it ran, so the benchmark can check, before it measures, that every
variant runs the pieces it claims to and that C and D run the same ones. On a measured
request that look is one dictionary lookup per piece, the same in every variant.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from asgiref.sync import markcoroutinefunction
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.urls import path
from django.utils.decorators import async_only_middleware
from django.utils.module_loading import import_string

from hookpipe import Hook, State

Handler = Callable[[HttpRequest], HttpResponseBase]

#: The ``request.META`` key of a traced request: a list the pieces append their names to.
TRACE = "bench.trace"


def view(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"ok", content_type="text/plain")


async def async_view(request: HttpRequest) -> HttpResponse:
    """:func:`view` as ``async def`` (the all-async ASGI variants)."""
    return HttpResponse(b"ok", content_type="text/plain")


urlpatterns = [
    path("", view),
    path("async/", async_view),
    # The path of the prefilter-matching variants (bench/plugins.py, MATCHED_PREFIX).
    path("m/", view),
]

#: Django's ``startproject`` middleware, which the ASGI mode variants (G-*) put above
#: hookpipe or above the plain middleware.
STARTPROJECT = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]


def passthrough(handler: Handler, registry: Any, n: int = 0) -> Handler:
    """A tween factory: a tween that passes every request on, untouched."""
    name = f"tween-{n}"

    def tween(request: HttpRequest) -> HttpResponseBase:
        trace = request.META.get(TRACE)
        if trace is not None:
            trace.append(name)
        return handler(request)

    return tween


@async_only_middleware
def passthrough_async(handler: Any, registry: Any, n: int = 0) -> Any:
    """:func:`passthrough` as an ``async def`` tween (for the ASGI variants)."""
    name = f"tween-{n}"

    async def tween(request: HttpRequest) -> HttpResponseBase:
        trace = request.META.get(TRACE)
        if trace is not None:
            trace.append(name)
        return await handler(request)  # type: ignore[no-any-return]

    return tween


class Noop(Hook):
    """A global hook with a ``before`` and an ``after`` that do nothing."""

    def __init__(self, n: int = 0) -> None:
        self.before_name = f"before-{n}"
        self.after_name = f"after-{n}"

    def before(self, state: State) -> None:
        trace = state.request.META.get(TRACE)
        if trace is not None:
            trace.append(self.before_name)

    def after(self, state: State) -> None:
        trace = state.request.META.get(TRACE)
        if trace is not None:
            trace.append(self.after_name)


class AsyncNoop(Noop):
    """:class:`Noop` with ``async def`` methods (for the ASGI variants)."""

    async def before(self, state: State) -> None:  # type: ignore[override]
        super().before(state)

    async def after(self, state: State) -> None:  # type: ignore[override]
        super().after(state)


class PassthroughMiddleware:
    """A tween written as a plain Django middleware (variant D)."""

    n = 0

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response
        self.name = f"tween-{self.n}"

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        trace = request.META.get(TRACE)
        if trace is not None:
            trace.append(self.name)
        return self.get_response(request)


class HookMiddleware:
    """A hook written as a plain Django middleware: ``before`` is ``process_view`` (after
    routing, like a hook's), ``after`` runs on the way out."""

    n = 0

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response
        self.before_name = f"before-{self.n}"
        self.after_name = f"after-{self.n}"

    def process_view(self, request: HttpRequest, *args: Any) -> None:
        trace = request.META.get(TRACE)
        if trace is not None:
            trace.append(self.before_name)

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        trace = request.META.get(TRACE)
        if trace is not None:
            trace.append(self.after_name)
        return response


class DispatchMiddleware(HookMiddleware):
    """The innermost hook middleware, which also asks the plugins by hand.

    It is what a project would write without hookpipe to do what variant C's handlers
    and responders do for a request none of them wants: ask each of them, in order,
    whether it wants the request. It asks the very same plugins (``bench.plugins``,
    made once), and before routing, like hookpipe's ``MAIN``; the body is empty.
    """

    plugins: Sequence[str] = ()

    def __init__(self, get_response: Handler) -> None:
        super().__init__(get_response)
        self.asks = tuple(import_string(path)().handles for path in self.plugins)

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        for handles in self.asks:
            if handles(request, b""):
                raise AssertionError("the benchmark's plugins never match")
        return super().__call__(request)


# Distinct classes, so that Django's middleware list holds distinct entries. Django runs
# process_view from the outermost middleware in, and the "after" part from the inside
# out, as hookpipe runs before hooks in order and after hooks in reverse.
for _i in range(5):
    globals()[f"Passthrough{_i}"] = type(f"Passthrough{_i}", (PassthroughMiddleware,), {"n": _i})
    globals()[f"Hook{_i}"] = type(f"Hook{_i}", (HookMiddleware,), {"n": _i})


class AsyncPassthroughMiddleware(PassthroughMiddleware):
    """:class:`PassthroughMiddleware` as an async-only middleware (variant G-Da)."""

    sync_capable = False
    async_capable = True

    def __init__(self, get_response: Any) -> None:
        super().__init__(get_response)
        markcoroutinefunction(self)

    async def __call__(self, request: HttpRequest) -> HttpResponseBase:  # type: ignore[override]
        trace = request.META.get(TRACE)
        if trace is not None:
            trace.append(self.name)
        return await self.get_response(request)  # type: ignore[no-any-return]


class AsyncHookMiddleware(HookMiddleware):
    """:class:`HookMiddleware` as an async-only middleware with an async
    ``process_view`` (variant G-Da)."""

    sync_capable = False
    async_capable = True

    def __init__(self, get_response: Any) -> None:
        super().__init__(get_response)
        markcoroutinefunction(self)

    async def process_view(self, request: HttpRequest, *args: Any) -> None:  # type: ignore[override]
        super().process_view(request, *args)

    async def __call__(self, request: HttpRequest) -> HttpResponseBase:  # type: ignore[override]
        response = await self.get_response(request)
        trace = request.META.get(TRACE)
        if trace is not None:
            trace.append(self.after_name)
        return response  # type: ignore[no-any-return]


for _i in range(5):
    globals()[f"AsyncPassthrough{_i}"] = type(
        f"AsyncPassthrough{_i}", (AsyncPassthroughMiddleware,), {"n": _i}
    )
    globals()[f"AsyncHook{_i}"] = type(f"AsyncHook{_i}", (AsyncHookMiddleware,), {"n": _i})


class Dispatch4(DispatchMiddleware):
    """``Hook4`` that also asks the reference pipeline's 10 handlers and 5 responders."""

    n = 4
    plugins = (
        *(f"bench.plugins.Handler{i}" for i in range(10)),
        *(f"bench.plugins.Responder{i}" for i in range(5)),
    )
