"""Tweens and chain handlers with type annotations that ``mypy --strict`` accepts."""

from __future__ import annotations

import time
from collections.abc import Sequence

from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse

from hookpipe import AsyncTween, Registry, Tween, context_of

# -- a sync tween factory --------------------------------------------------------------


def timing_factory(handler: Tween, registry: Registry) -> Tween:
    def timing_tween(request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        response = handler(request)
        response["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
        return response

    return timing_tween


# -- an async one, with an option and the typed request.hookpipe -----------------------


def request_id_factory(
    handler: AsyncTween, registry: Registry, header: str = "X-Request-Id"
) -> AsyncTween:
    async def request_id_tween(request: HttpRequest) -> HttpResponseBase:
        response = await handler(request)
        response[header] = context_of(request).request_id  # not request.hookpipe
        return response

    return request_id_tween


# -- class style: the class is the factory ---------------------------------------------


class MaintenanceTween:
    def __init__(
        self, handler: Tween, registry: Registry, allow: Sequence[str] = ("/admin/",)
    ) -> None:
        self.handler = handler
        self.enabled = bool(getattr(registry.settings, "MAINTENANCE_MODE", False))
        self.allow = tuple(allow)

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if self.enabled and not request.path.startswith(self.allow):
            return HttpResponse("Back soon.", status=503, headers={"Retry-After": "120"})
        return self.handler(request)


# -- chain handlers --------------------------------------------------------------------


def require_api_key(app: Registry, request: HttpRequest, next_handler: Tween) -> HttpResponseBase:
    if request.path.startswith("/api/"):
        keys = getattr(app.settings, "API_KEYS", ())
        if request.headers.get("X-Api-Key") not in keys:
            return JsonResponse({"error": "missing or unknown API key"}, status=401)
    return next_handler(request)


async def async_require_api_key(
    app: Registry, request: HttpRequest, next_handler: AsyncTween
) -> HttpResponseBase:
    if request.path.startswith("/api/"):
        keys = getattr(app.settings, "API_KEYS", ())
        if request.headers.get("X-Api-Key") not in keys:
            return JsonResponse({"error": "missing or unknown API key"}, status=401)
    return await next_handler(request)
