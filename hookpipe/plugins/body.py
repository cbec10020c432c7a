"""The request body as handlers and responders get it: read once, bounded by
``DATA_UPLOAD_MAX_MEMORY_SIZE`` (413 over it, :func:`hookpipe.failsafe.too_large`).

A body may come without a Content-Length (``Transfer-Encoding: chunked``):

* under ASGI the server hands Django the whole body, and Django checks its size when
  it is read;
* under WSGI, Django reads no body without a Content-Length. A server that de-chunks
  the body and ends ``wsgi.input`` where the body ends says so with
  ``wsgi.input_terminated`` (gunicorn, and the WSGI spec's 1.0.1 amendments); hookpipe
  then reads the body from there, bounded by the same limit, and Django's
  ``request.body`` and ``request.POST`` see it too. Without that promise the end of the
  body cannot be found safely, and the request is refused with 411 (Length Required):
  a plugin never gets an empty ``content`` for a request that had a body.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.handlers.wsgi import LimitedStream, WSGIRequest
from django.http import HttpRequest, HttpResponse
from django.http.request import RawPostDataException

from ..context import request_id
from ..failsafe import too_large

logger = logging.getLogger("hookpipe")


def accept_chunked(request: HttpRequest) -> None:
    """For a WSGI request with ``Transfer-Encoding``: if it is chunked and the server
    ends ``wsgi.input`` where the body ends, let ``request.body`` read it there.

    Called when the request enters the pipeline, so that tweens, hooks and views see
    the body as plugins do. Django's stream for such a request is cut at its
    Content-Length, 0; this one stops one byte past ``DATA_UPLOAD_MAX_MEMORY_SIZE``, so
    that a body over the limit is seen (``RequestDataTooBig``, a 413) without being
    read whole."""
    meta = request.META
    if (
        isinstance(request, WSGIRequest)
        and meta.get("wsgi.input_terminated")
        and not meta.get("CONTENT_LENGTH")
        and "chunked" in meta["HTTP_TRANSFER_ENCODING"].lower()
    ):
        request._stream = _ChunkedBody(  # type: ignore[assignment]
            meta["wsgi.input"], settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        )


class _ChunkedBody(LimitedStream):
    """``wsgi.input`` of a chunked request, up to ``limit`` bytes: reading a byte more
    raises ``RequestDataTooBig``, the error Django raises for a body over the limit.

    Django 5.2 reads one byte past the limit and raises it itself; Django 6.x reads such
    a stream to its end and checks nothing, so a plain bound would cut the body short
    without a word."""

    def __init__(self, stream: Any, limit: int | None) -> None:
        super().__init__(stream, sys.maxsize if limit is None else limit + 1)
        self._allowed = limit
        self._seen = 0

    def read(self, size: int | None = -1, /) -> bytes:
        return self._checked(super().read(size))

    def readline(self, size: int | None = -1, /) -> bytes:
        return self._checked(super().readline(size))

    def _checked(self, data: bytes) -> bytes:
        self._seen += len(data)
        if self._allowed is not None and self._seen > self._allowed:
            raise RequestDataTooBig("Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE.")
        return data


def read_content(request: HttpRequest) -> bytes | HttpResponse:
    """The body, read once; a 413 response if it is over the limit, a 411 if it is
    chunked and the WSGI server cannot say where it ends."""
    meta = request.META
    try:
        declared = int(meta.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    chunked = False
    if declared <= 0 and isinstance(request, WSGIRequest):
        # Django reads no body from a WSGI request without a Content-Length; the
        # common GET costs nothing (not even the setting below: a settings read is a
        # Python call of Django's LazySettings). A chunked one is read where the server
        # ends it (accept_chunked has pointed request.body there).
        if "chunked" not in meta.get("HTTP_TRANSFER_ENCODING", "").lower():
            return b""
        if not meta.get("wsgi.input_terminated"):
            return _length_required(request)
        chunked = True
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if limit is not None and declared > limit:
        return too_large(request, declared)
    try:
        content = request.body
    except RequestDataTooBig:
        # A body without a Content-Length (chunked), over the limit once read.
        return too_large(request, None)
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
    if limit is not None and len(content) > limit:
        # A body without a Content-Length, from a stream Django did not bound (an ASGI
        # body it cannot seek in; Django 6.x reads such a stream whole).
        return too_large(request, len(content))
    if chunked:
        # The body's length is known now; request.POST (multipart) reads it here.
        meta["CONTENT_LENGTH"] = str(len(content))
    return content


def _length_required(request: HttpRequest) -> HttpResponse:
    rid = request_id(request)
    logger.warning(
        "hookpipe: %s %s refused with 411: a chunked body, and the WSGI server does not "
        "set wsgi.input_terminated to say where it ends (request %s)",
        request.method,
        request.path,
        rid,
        extra={"request_id": rid},
    )
    return HttpResponse(
        "A request body needs a Content-Length here: this server cannot read a chunked body.\n",
        status=411,
        content_type="text/plain; charset=utf-8",
    )
