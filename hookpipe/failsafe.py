"""The failsafe (from Duck): whatever a plugin raises, the client gets the response
Django itself would give for it, and the log says which plugin it was.

Tweens and chain handlers (:mod:`hookpipe.pipeline`), responders (:mod:`hookpipe.plugins.dispatch`)
and hook methods (:mod:`hookpipe.hooks`) all end here, so every kind of plugin fails
the same way: 404/403/400/500 from Django's own ``response_for_exception``, the
project's error views, the technical page under ``DEBUG``, and the exception re-raised
to the server under ``DEBUG_PROPAGATE_EXCEPTIONS``.
"""

from __future__ import annotations

import logging

from django.core.handlers.exception import response_for_exception
from django.http import HttpRequest, HttpResponseBase

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
    """
    try:
        raise exc
    except Exception:
        return response_for_exception(request, exc)


def failsafe_response(
    request: HttpRequest, exc: Exception, what: str, name: str
) -> HttpResponseBase:
    """:func:`django_response` for ``exc``, raised by the ``what`` called ``name``, with a
    log line that names it (the traceback goes to ``django.request``, as usual)."""
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
