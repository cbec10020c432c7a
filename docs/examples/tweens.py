"""Tween factories and chain handlers shown in the hookpipe documentation.

The pages include these functions with ``literalinclude``, so what a reader sees is
what was run. Each one is plain Python: no hookpipe import is needed to write a tween.
"""

import hmac
import time
import uuid

from django.http import HttpResponse, JsonResponse

# -- closure style, sync -----------------------------------------------------------


def request_id_factory(handler, registry, header="X-Request-Id"):
    # Called once per build of the chain: do the set-up work here, not per request.
    meta_key = "HTTP_" + header.upper().replace("-", "_")

    def request_id_tween(request):
        # On the way in: reuse the caller's id or make one up.
        request_id = request.META.get(meta_key) or uuid.uuid4().hex
        request.request_id = request_id
        response = handler(request)  # everything below this tween
        # On the way out: tell the caller which id was used.
        response[header] = request_id
        return response

    return request_id_tween


# -- closure style, leaving itself out -----------------------------------------------


def timing_factory(handler, registry):
    if not registry.settings.DEBUG:
        # Returning the handler unchanged leaves this tween out of the chain:
        # production requests do not pay for it at all.
        return handler

    def timing_tween(request):
        started = time.perf_counter()
        response = handler(request)
        elapsed_ms = (time.perf_counter() - started) * 1000
        response["Server-Timing"] = f"app;dur={elapsed_ms:.1f}"
        return response

    return timing_tween


# -- class style, sync ---------------------------------------------------------------


class MaintenanceTween:
    """The class is the factory; each instance is the tween."""

    def __init__(self, handler, registry, allow=("/admin/",)):
        self.handler = handler
        self.enabled = getattr(registry.settings, "MAINTENANCE_MODE", False)
        self.allow = tuple(allow)

    def __call__(self, request):
        if self.enabled and not request.path.startswith(self.allow):
            # Answer without calling the handler: nothing below this tween runs.
            return HttpResponse("Back soon.", status=503, headers={"Retry-After": "120"})
        return self.handler(request)


# -- async -----------------------------------------------------------------------------


def async_timing_factory(handler, registry):
    # The factory itself is always plain (sync) code; the tween it returns is async.
    async def timing_tween(request):
        started = time.perf_counter()
        response = await handler(request)  # an async tween awaits its handler
        elapsed_ms = (time.perf_counter() - started) * 1000
        response["Server-Timing"] = f"app;dur={elapsed_ms:.1f}"
        return response

    return timing_tween


class AsyncMaintenanceTween(MaintenanceTween):
    """Class style, async: only ``__call__`` changes."""

    async def __call__(self, request):
        if self.enabled and not request.path.startswith(self.allow):
            return HttpResponse("Back soon.", status=503, headers={"Retry-After": "120"})
        return await self.handler(request)


# -- chain handlers (Tangled style) ----------------------------------------------------


def require_api_key(app, request, next_handler):
    if request.path.startswith("/api/"):
        keys = getattr(app.settings, "API_KEYS", ())
        given = request.headers.get("X-Api-Key", "").encode()
        # compare_digest, not `in` or `==`: as slow for a wrong key as for a right one,
        # so the time of an answer tells an attacker nothing about the keys.
        if not any(hmac.compare_digest(given, key.encode()) for key in keys):
            return JsonResponse({"error": "missing or unknown API key"}, status=401)
    return next_handler(request)


async def async_require_api_key(app, request, next_handler):
    if request.path.startswith("/api/"):
        keys = getattr(app.settings, "API_KEYS", ())
        given = request.headers.get("X-Api-Key", "").encode()
        if not any(hmac.compare_digest(given, key.encode()) for key in keys):
            return JsonResponse({"error": "missing or unknown API key"}, status=401)
    return await next_handler(request)
