"""The request body as handlers and responders get it: read once, bounded by
``DATA_UPLOAD_MAX_MEMORY_SIZE`` (413 over it)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.handlers.wsgi import WSGIRequest
from django.http import HttpRequest, HttpResponse
from django.http.request import RawPostDataException

from ..context import request_id

logger = logging.getLogger("hookpipe")


def too_large(length: int, limit: int) -> HttpResponse:
    return HttpResponse(
        f"Request body too large: {length} bytes; this server accepts at most {limit} "
        "bytes (DATA_UPLOAD_MAX_MEMORY_SIZE).\n",
        status=413,
        content_type="text/plain; charset=utf-8",
    )


def read_content(request: HttpRequest) -> bytes | HttpResponse:
    """The body, read once; a 413 response if it is over the limit."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared <= 0 and isinstance(request, WSGIRequest):
        # Django reads no body from a WSGI request without a Content-Length; neither
        # do we (the common GET costs nothing). ASGI bodies may come without one.
        return b""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if limit is not None and declared > limit:
        return _refuse(request, declared, limit)
    try:
        content = request.body
    except RawPostDataException:
        # A middleware or tween above read the body as a stream (request.POST of a
        # multipart request, request.read()): it cannot be read again.
        rid = request_id(request)
        logger.warning(
            "hookpipe: the body of %s %s was already read as a stream; handlers and "
            "responders get empty content (request %s)",
            request.method,
            request.path,
            rid,
            extra={"request_id": rid},
        )
        return b""
    if limit is not None and len(content) > limit:  # a body sent without Content-Length
        return _refuse(request, len(content), limit)
    return content


def _refuse(request: HttpRequest, length: int, limit: int) -> HttpResponse:
    rid = request_id(request)
    logger.warning(
        "hookpipe: %s %s refused with 413: body of %d bytes over DATA_UPLOAD_MAX_MEMORY_SIZE "
        "(%d) (request %s)",
        request.method,
        request.path,
        length,
        limit,
        rid,
        extra={"request_id": rid},
    )
    return too_large(length, limit)
