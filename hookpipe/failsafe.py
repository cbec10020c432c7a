"""The failsafe (from Duck): whatever a plugin raises, the client gets the response
Django itself would give for it, and the log says which plugin it was.

Tweens and chain handlers (:mod:`hookpipe.core`), responders (:mod:`hookpipe.plugins.dispatch`)
and hook methods (:mod:`hookpipe.hooks`) all end here, so every kind of plugin fails
the same way: 404/403/400/500 from Django's own ``response_for_exception``, the
project's error views, the technical page under ``DEBUG``, and the exception re-raised
to the server under ``DEBUG_PROPAGATE_EXCEPTIONS``.

One exception is the client's doing, not the plugin's: ``RequestDataTooBig``, which
Django raises wherever a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` is read (a tween
reading ``request.body``, or a chunked body under ASGI, whose size only shows when it
is read). It gets the same 413 as hookpipe's own body check (:func:`too_large`), and
the log line names no plugin as its cause.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.handlers.exception import response_for_exception
from django.http import HttpRequest, HttpResponse, HttpResponseBase

logger = logging.getLogger("hookpipe")


class NotAResponse(TypeError):
    """A tween, chain handler or hook method returned (or, in ``after``, set
    ``state.response`` to) something that is not an ``HttpResponse``."""


def django_response(request: HttpRequest, exc: Exception) -> HttpResponseBase:
    """The response Django gives for ``exc``.

    Django reads ``sys.exc_info()`` rather than its argument for the ``DEBUG`` page and
    for ``DEBUG_PROPAGATE_EXCEPTIONS``, so the exception is made current first: callers
    may hold an exception that is no longer being handled (a responder's error carried
    back to ``MAIN``, a hook's error handed to ``on_error`` first).

    ``RequestDataTooBig`` is a 413 (Django's own answer for it is a 400).
    """
    if isinstance(exc, RequestDataTooBig):
        return too_large(request, None)
    try:
        raise exc
    except Exception:
        return response_for_exception(request, exc)


def failsafe_response(
    request: HttpRequest, exc: Exception, what: str, name: str
) -> HttpResponseBase:
    """:func:`django_response` for ``exc``, raised by the ``what`` called ``name``, with a
    log line that names it (the traceback goes to ``django.request``, as usual)."""
    if isinstance(exc, RequestDataTooBig):
        return too_large(request, None)  # the client's body: no plugin is to blame
    response = django_response(request, exc)
    level = logging.ERROR if response.status_code >= 500 else logging.WARNING
    logger.log(
        level,
        "%s %r raised %s: %s (%s %s -> %s)",
        what,
        name,
        type(exc).__name__,
        exc,
        request.method,
        request.path,
        response.status_code,
    )
    return response


def too_large(request: HttpRequest, length: int | None) -> HttpResponse:
    """The 413 for a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (``length`` bytes, or
    ``None`` when a body sent without a Content-Length was cut off at the limit), with
    a log line."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    size = f"{length} bytes" if length is not None else "a body sent without a Content-Length"
    # request.hookpipe is read directly: hookpipe.context and this module are
    # independent layers. A request that never reached the pipeline has no id.
    rid = str(getattr(getattr(request, "hookpipe", None), "request_id", "-"))
    logger.warning(
        "hookpipe: %s %s refused with 413: %s, over DATA_UPLOAD_MAX_MEMORY_SIZE (%s bytes) "
        "(request %s)",
        request.method,
        request.path,
        size,
        limit,
        rid,
        extra={"request_id": rid},
    )
    if length is None:
        text = f"Request body too large: this server accepts at most {limit} bytes"
    else:
        text = f"Request body too large: {length} bytes; this server accepts at most {limit} bytes"
    return HttpResponse(
        f"{text} (DATA_UPLOAD_MAX_MEMORY_SIZE).\n",
        status=413,
        content_type="text/plain; charset=utf-8",
    )
