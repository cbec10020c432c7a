"""The demo's tweens: one of each kind hookpipe knows, wired together in settings.HOOKPIPE.

Every tween adds its label to the ``X-Demo-Trace`` response header on the way out,
in front of what the tweens below it wrote, so the header reads outermost first and
shows the chain a response went through: ``timing, request-id, api-key, layer:outer,
layer:inner, interface`` for a page, only the first three for a request that api-key
turned away.
"""

from __future__ import annotations

import hmac
import logging
import os
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponseBase, JsonResponse
from django.utils.decorators import async_only_middleware

logger = logging.getLogger(__name__)

TRACE_HEADER = "X-Demo-Trace"

Handler = Callable[[HttpRequest], Any]


def add_trace(response: HttpResponseBase, label: str) -> None:
    """Put ``label`` in front of the trace the tweens below this one wrote."""
    below = response.headers.get(TRACE_HEADER)
    response.headers[TRACE_HEADER] = f"{label}, {below}" if below else label


# ------------------------------------------------------------------ (a) timing


def timing(handler: Handler, registry: Any) -> Callable[[HttpRequest], HttpResponseBase]:
    """Adds ``Server-Timing: hookpipe;dur=<ms>``: the time spent below this tween.

    For a streamed response that is the time until the response object was returned,
    not until its last chunk was sent.
    """
    logger.info("timing tween built in pid %d", os.getpid())

    def timing_tween(request: HttpRequest) -> HttpResponseBase:
        start = time.perf_counter()
        response: HttpResponseBase = handler(request)
        elapsed_ms = (time.perf_counter() - start) * 1000
        entry = f'hookpipe;dur={elapsed_ms:.2f};desc="hookpipe chain"'
        previous = response.headers.get("Server-Timing")
        response.headers["Server-Timing"] = f"{previous}, {entry}" if previous else entry
        # Which gunicorn worker answered: the admin's fleet section lists them by pid.
        response.headers["X-Demo-Pid"] = str(os.getpid())
        add_trace(response, "timing")
        return response

    return timing_tween


# ----------------------------------------------------- (b) API key, over MAIN


def api_key(
    handler: Handler, registry: Any, *, prefix: str = "/api/", setting: str = "DEMO_API_KEY"
) -> Callable[[HttpRequest], HttpResponseBase]:
    """Turns away requests under ``prefix`` that lack the right ``X-Api-Key`` header.

    The key is read from ``settings.<setting>`` once, when the chain is built; the
    answer is a 401 with a JSON body, and the tweens below never see the request.
    A factory returning ``handler`` leaves its tween out: with no key configured
    there is nothing to check.
    """
    key = getattr(registry.settings, setting, "")
    if not key:
        logger.warning("api-key tween left out: settings.%s is empty", setting)
        return handler
    expected = key.encode()

    def api_key_tween(request: HttpRequest) -> HttpResponseBase:
        if request.path.startswith(prefix):
            given = request.headers.get("X-Api-Key", "").encode()
            if not hmac.compare_digest(given, expected):
                response: HttpResponseBase = JsonResponse(
                    {
                        "error": "unauthorized",
                        "detail": f"Requests under {prefix} need a valid X-Api-Key header.",
                    },
                    status=401,
                )
                add_trace(response, "api-key")
                return response
        response = handler(request)
        add_trace(response, "api-key")
        return response

    return api_key_tween


# ------------------------------------------- (c) one factory, used twice by name


def layer(
    handler: Handler, registry: Any, *, label: str
) -> Callable[[HttpRequest], HttpResponseBase]:
    """A plain onion layer. Settings use it twice, as "layer-outer" and "layer-inner",
    with a different ``label`` option each time; both show up in the trace."""
    trace_label = f"layer:{label}"

    def layer_tween(request: HttpRequest) -> HttpResponseBase:
        # What the view sees: the layers it went through, outermost first.
        request.demo_layers = [*getattr(request, "demo_layers", []), label]  # type: ignore[attr-defined]
        response: HttpResponseBase = handler(request)
        add_trace(response, trace_label)
        return response

    return layer_tween


# ------------------------------------------------- (d) Tangled-style chain handler

#: An incoming X-Request-Id is kept only if it looks like an id, so that it can be
#: logged and echoed without escaping.
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def request_id(app: Any, request: HttpRequest, next_handler: Handler) -> HttpResponseBase:
    """Gives every request an id, ``request.request_id``, echoed as ``X-Request-Id``.

    A well-formed incoming ``X-Request-Id`` (from a proxy) is kept; anything else is
    replaced by a fresh one.
    """
    incoming = request.headers.get("X-Request-Id", "")
    rid = incoming if REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
    request.request_id = rid  # type: ignore[attr-defined]
    response: HttpResponseBase = next_handler(request)
    response.headers["X-Request-Id"] = rid
    add_trace(response, "request-id")
    return response


# ------------------------------------------------------------- (e) async tween


# Marked as Django marks an async-only middleware factory: hookpipe then knows, before
# the factory runs, that its tween is async (docs: Performance).
@async_only_middleware
def interface(
    handler: Callable[[HttpRequest], Awaitable[HttpResponseBase]], registry: Any
) -> Callable[[HttpRequest], Awaitable[HttpResponseBase]]:
    """An ``async def`` tween: says which server interface carried the request.

    Under ASGI it runs on the server's event loop. Under WSGI hookpipe calls it through
    asgiref's ``async_to_sync``, which starts a short-lived event loop (in a helper
    thread) for each request: it works, but a WSGI project pays for it, so keep
    async tweens for ASGI projects. Its ``handler`` is awaitable either way.
    """

    async def interface_tween(request: HttpRequest) -> HttpResponseBase:
        request.demo_interface = "asgi" if isinstance(request, ASGIRequest) else "wsgi"  # type: ignore[attr-defined]
        response = await handler(request)
        response.headers["X-Demo-Interface"] = request.demo_interface  # type: ignore[attr-defined]
        add_trace(response, "interface")
        return response

    return interface_tween
