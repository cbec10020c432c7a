"""Handing a routing error to ``on_error`` hooks, although Django never hands it on.

When URL resolution fails (``Resolver404``, a broken URLconf), Django turns the
exception into a response below this middleware and the exception object is gone.
:func:`routing_error` recovers it, on that path only, so that global ``on_error`` hooks
see routing errors like any other; a request that routed pays nothing.
"""

from __future__ import annotations

from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
from django.http import Http404, HttpResponseBase
from django.http.multipartparser import MultiPartParserError
from django.urls import get_resolver

from .api import State


def routing_error(state: State, response: HttpResponseBase) -> Exception | None:
    """The exception Django's URL resolution raised for this request, if it failed.

    Django resolves the URL in ``BaseHandler._get_response``, before any
    ``process_view``; when that raises (``Resolver404``, or a broken URLconf), the
    exception is turned into a response by ``convert_exception_to_response`` below this
    middleware, and nothing hands the exception object on. So, only on that path, we
    ask the same question again. Signs that routing failed: no ``process_view`` reached
    us (``state.view`` is None), Django never set ``request.resolver_match`` (it does as
    soon as resolution succeeds), and the response is an error. Then resolving
    ``request.path_info`` with the URLconf Django used (``request.urlconf`` if set, else
    ``ROOT_URLCONF``) raises the exception Django saw, resolution being deterministic;
    and the response must have the status Django gives that exception, which tells a
    middleware below us that answered before routing (say a 403) from Django's answer.
    A request that routed pays nothing. (Resolving ahead of Django in MAIN instead would
    cost every request a second resolution and run before middleware below us that may
    set ``request.urlconf``.)
    """
    request = state.request
    if state.view is not None or response.status_code < 400:
        return None
    if getattr(request, "resolver_match", None) is not None:
        return None  # routing worked; a middleware's process_view answered or failed
    try:
        get_resolver(getattr(request, "urlconf", None)).resolve(request.path_info)
    except Exception as exc:
        return exc if response.status_code == _django_status(exc) else None
    return None  # a middleware below answered before routing: not a routing error


def _django_status(exc: Exception) -> int:
    """The status ``response_for_exception`` gives ``exc``."""
    if isinstance(exc, Http404):
        return 404
    if isinstance(exc, PermissionDenied):
        return 403
    if isinstance(exc, BadRequest | SuspiciousOperation | MultiPartParserError):
        return 400
    return 500
