"""Tweens and chain handlers used by the tests. Each records what it saw in a trace
header so tests can read the chain's order from a real response."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.utils.decorators import async_only_middleware

from hookpipe import Registry

TRACE = "X-Trace"

#: Factory calls, appended as (label, registry) - lets tests count builds.
CALLS: list[tuple[str, Any]] = []


def _append(response: HttpResponseBase, label: str) -> None:
    previous = response.headers.get(TRACE)
    response.headers[TRACE] = f"{previous},{label}" if previous else label


def _enter(request: HttpRequest, label: str) -> None:
    request.META.setdefault("trace_in", []).append(label)


def labelled(handler: Any, registry: Registry, label: str = "labelled") -> Any:
    """Closure style, sync. ``label`` comes from the entry's options."""
    CALLS.append((label, registry))

    def tween(request: HttpRequest) -> HttpResponseBase:
        _enter(request, label)
        response = handler(request)
        _append(response, label)
        return response

    return tween


def first(handler: Any, registry: Registry) -> Any:
    return labelled(handler, registry, "first")


def second(handler: Any, registry: Registry) -> Any:
    return labelled(handler, registry, "second")


def third(handler: Any, registry: Registry) -> Any:
    return labelled(handler, registry, "third")


@async_only_middleware  # says so before it runs: hookpipe.core.mode
def async_labelled(handler: Any, registry: Registry, label: str = "async") -> Any:
    """Closure style, async."""
    CALLS.append((label, registry))

    async def tween(request: HttpRequest) -> HttpResponseBase:
        _enter(request, label)
        response = await handler(request)
        _append(response, label)
        return response

    return tween


class ClassTween:
    """Class style, sync: the class itself is the factory."""

    def __init__(self, handler: Any, registry: Registry, label: str = "class") -> None:
        self.handler = handler
        self.label = label
        CALLS.append((label, registry))

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        _enter(request, self.label)
        response = self.handler(request)
        _append(response, self.label)
        return response


class AsyncClassTween(ClassTween):
    async def __call__(self, request: HttpRequest) -> HttpResponseBase:  # type: ignore[override]
        _enter(request, self.label)
        response = await self.handler(request)
        _append(response, self.label)
        return response


def omitted(handler: Any, registry: Registry) -> Any:
    """Returns the handler: the tween leaves itself out of the chain."""
    CALLS.append(("omitted", registry))
    return handler


def short_circuit(handler: Any, registry: Registry, status: int = 401) -> Any:
    def tween(request: HttpRequest) -> HttpResponseBase:
        if request.GET.get("stop"):
            return HttpResponse("stopped", status=status)
        return handler(request)

    return tween


def raising(handler: Any, registry: Registry, exc: str = "boom") -> Any:
    """Raises before calling down: ``exc`` picks the exception."""
    errors = {
        "boom": RuntimeError("tween failed"),
        "404": Http404("no such thing"),
        "403": PermissionDenied("not you"),
    }

    def tween(request: HttpRequest) -> HttpResponseBase:
        raise errors[exc]

    return tween


async def _async_raise(request: HttpRequest) -> HttpResponseBase:
    raise RuntimeError("async tween failed")


def async_raising(handler: Any, registry: Registry) -> Any:
    return _async_raise


def returns_none(handler: Any, registry: Registry) -> Any:
    def tween(request: HttpRequest) -> None:
        handler(request)

    return tween


def factory_raises(handler: Any, registry: Registry) -> Any:
    raise ValueError("factory cannot start")


def not_callable_tween(handler: Any, registry: Registry) -> Any:
    return 42


def needs_option(handler: Any, registry: Registry, *, realm: str) -> Any:
    def tween(request: HttpRequest) -> HttpResponseBase:
        response = handler(request)
        response.headers["X-Realm"] = realm
        return response

    return tween


def sees_registry(handler: Any, registry: Registry) -> Any:
    def tween(request: HttpRequest) -> HttpResponseBase:
        response = handler(request)
        assert registry.pipeline is not None
        names = [t["name"] for t in registry.pipeline.describe()["tweens"]]
        response.headers["X-Tweens"] = ",".join(names)
        response.headers["X-Debug-Setting"] = str(registry.settings.DEBUG)
        return response

    return tween


def reads_body(handler: Any, registry: Registry) -> Any:
    """Reads ``request.body`` on the way in, as a signature-checking tween would."""

    def tween(request: HttpRequest) -> HttpResponseBase:
        request.META["body_length_seen"] = len(request.body)
        return handler(request)  # type: ignore[no-any-return]

    return tween


def authenticates(handler: Any, registry: Registry) -> Any:
    """Looks at ``request.user`` on the way in, as an authentication tween would: the
    request has then resolved its user before the handlers are asked."""

    def tween(request: HttpRequest) -> HttpResponseBase:
        request.META["user_seen"] = request.user.is_authenticated  # type: ignore[attr-defined]
        return handler(request)  # type: ignore[no-any-return]

    return tween


# ------------------------------------------------------------- chain handlers


def chain_marker(app: Registry, request: HttpRequest, next_handler: Any) -> HttpResponseBase:
    _enter(request, "chain")
    response: HttpResponseBase = next_handler(request)
    _append(response, "chain")
    return response


async def async_chain_marker(
    app: Registry, request: HttpRequest, next_handler: Any
) -> HttpResponseBase:
    _enter(request, "achain")
    response: HttpResponseBase = await next_handler(request)
    _append(response, "achain")
    return response


def tangled_marker(app: Registry, request: HttpRequest, next_handler: Any) -> HttpResponseBase:
    """A handler written for Tangled, as it is: it passes the app on to the next one."""
    _enter(request, "tangled")
    response: HttpResponseBase = next_handler(app, request)
    _append(response, "tangled")
    return response


async def async_tangled_marker(
    app: Registry, request: HttpRequest, next_handler: Any
) -> HttpResponseBase:
    _enter(request, "atangled")
    response: HttpResponseBase = await next_handler(app, request)
    _append(response, "atangled")
    return response


def chain_returns_none(app: Registry, request: HttpRequest, next_handler: Any) -> None:
    next_handler(request)


def chain_reads_app(app: Registry, request: HttpRequest, next_handler: Any) -> HttpResponseBase:
    response: HttpResponseBase = next_handler(request)
    response.headers["X-App-Order"] = app.pipeline.describe()["tween_order"] if app.pipeline else ""
    return response


NOT_CALLABLE = "I am a string"


def flaky(handler: Any, registry: Registry) -> Any:
    """Fails on its first build, as a factory whose database is not up yet would."""
    CALLS.append(("flaky", registry))
    if len([c for c in CALLS if c[0] == "flaky"]) == 1:
        raise ConnectionError("database not up yet")
    return labelled(handler, registry, "flaky")


def sleeping(handler: Any, registry: Registry, seconds: float = 0.03) -> Any:
    """Sleeps ``seconds`` before it passes the request on: a known time for the
    duration histograms (tests/test_durations.py)."""

    def tween(request: HttpRequest) -> HttpResponseBase:
        time.sleep(seconds)
        return handler(request)  # type: ignore[no-any-return]

    return tween


@async_only_middleware
def async_sleeping(handler: Any, registry: Registry, seconds: float = 0.03) -> Any:
    async def tween(request: HttpRequest) -> HttpResponseBase:
        await asyncio.sleep(seconds)
        return await handler(request)  # type: ignore[no-any-return]

    return tween


def atomic(handler: Any, registry: Registry) -> Any:
    """A tween that runs what is below it in one transaction, rolled back for a 5xx (as
    pyramid_tm does): the third way a view's writes go in a transaction."""
    from django.db import transaction

    def tween(request: HttpRequest) -> HttpResponseBase:
        with transaction.atomic():
            response: HttpResponseBase = handler(request)
            if response.status_code >= 500:
                transaction.set_rollback(True)
        return response

    return tween
