"""A responder's output as a response, streamed chunk by chunk whatever the server.

``respond()`` may return a response (used as is), ``bytes``/``str`` (one
``HttpResponse``), or an iterable or async iterable of chunks. Chunks are streamed
with a ``StreamingHttpResponse`` whose content matches how the server reads it:

* **WSGI** reads a sync iterator. A sync source is passed through. An async source is
  driven on one event loop of its own, in one thread of its own, for the whole stream
  (``LoopDriver``).
* **ASGI** reads an async iterator. An async source is passed through. A sync source is
  read in Django's per-request thread (``ThreadPump``), so the event loop never blocks.

Across modes, the rest of the stream after its first chunk goes through a buffer of at
most 1 MiB that the server's side empties at each look (:mod:`~hookpipe.streaming.
bridges`): many chunks per thread hop, none held back. Django would otherwise consume
a mismatched iterator whole before sending a byte (with a warning).

Headers are sent with the first chunk, not before: the first chunk is pulled before the
response is returned (below), which is what lets an error there reach ``on_error``. A
responder that takes 100 ms for its first chunk gets its headers out after 100 ms, as
under WSGI servers, which send the headers with the first body bytes anyway; under ASGI
a plain ``StreamingHttpResponse`` sends them at once.

Errors: the first chunk is pulled before the response is returned (``prime``), so an
error in ``respond()`` or in the first chunk is raised to the caller (the pipeline runs
``on_error`` hooks and the failsafe). An error after that is logged with the
responder's name and ends the stream cleanly: the server finishes the response and the
client sees a shorter body (HTTP/1.1 has no way to flag an error after the headers and
some of the body are sent). The source is closed in every case."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any, cast

from asgiref.sync import async_to_sync, sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import (
    FileResponse,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    StreamingHttpResponse,
)

from .bridges import DirectAsync, DirectSync, LoopDriver, ThreadPump
from .streams import NOTHING, AsyncStream, Context, SyncStream, anext_or_end, next_or_end

logger = logging.getLogger("hookpipe")


class NotStreamable(TypeError):
    """``respond()`` returned something that is neither a response nor chunks."""


def wants_async(request: HttpRequest) -> bool:
    """Whether the server reads the response asynchronously (ASGI) or not (WSGI)."""
    return isinstance(request, ASGIRequest)


def is_async_iterable(value: Any) -> bool:
    return hasattr(value, "__aiter__")


def _from_sync(
    iterator: Iterator[Any], to_async: bool, context: Context, first: Any
) -> SyncStream | AsyncStream:
    if not to_async:
        direct = DirectSync(iterator)
        return SyncStream(direct.take, direct.close, context, first)
    return AsyncStream(ThreadPump(iterator, context), context, first)


def _from_async(
    iterator: AsyncIterator[Any],
    to_async: bool,
    context: Context,
    first: Any,
    driver: LoopDriver | None,
) -> SyncStream | AsyncStream:
    if to_async:
        return AsyncStream(DirectAsync(iterator), context, first)
    driver = driver or LoopDriver(iterator)
    return SyncStream(driver.take, driver.close, context, first)


class Streamer:
    """Turns what one responder returned into the response, for one request."""

    def __init__(
        self,
        request: HttpRequest,
        context: Context,
        *,
        content_type: str | None = None,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.request = request
        self.context = context
        self.to_async = wants_async(request)
        self.content_type = content_type
        self.status = status
        self.headers = headers or {}

    # Called from sync code: the request's thread, or a thread of Django's under ASGI.
    def build_sync(self, result: Any) -> HttpResponseBase:
        """The response for ``result``, first chunk pulled; raises what that raises."""
        simple = self._simple(result)
        if simple is not None:
            return simple
        if is_async_iterable(result):
            iterator = result.__aiter__()
            if self.to_async:
                # Thread of an ASGI request: run the step on the server's own loop.
                first = async_to_sync(anext_or_end)(iterator)
                return self._response(_from_async(iterator, True, self.context, first, None))
            driver = LoopDriver(iterator)
            try:
                first = driver.pull()
            except BaseException:
                driver.close()
                raise
            return self._response(_from_async(iterator, False, self.context, first, driver))
        iterator = iter(result)
        first = next_or_end(iterator)
        return self._response(_from_sync(iterator, self.to_async, self.context, first))

    # Called on an event loop: async MAIN.
    async def build_async(self, result: Any) -> HttpResponseBase:
        simple = self._simple(result)
        if simple is not None:
            return simple
        if is_async_iterable(result):
            iterator = result.__aiter__()
            if self.to_async:
                first = await anext_or_end(iterator)
                return self._response(_from_async(iterator, True, self.context, first, None))
            driver = LoopDriver(iterator)
            try:
                first = await driver.apull()
            except BaseException:
                driver.close()
                raise
            return self._response(_from_async(iterator, False, self.context, first, driver))
        iterator = iter(result)
        first = await sync_to_async(next_or_end, thread_sensitive=True)(iterator)
        return self._response(_from_sync(iterator, self.to_async, self.context, first))

    def _simple(self, result: Any) -> HttpResponseBase | None:
        """A response, or ``bytes``/``str``; ``None`` for chunks; raise for the rest."""
        if isinstance(result, HttpResponseBase):
            return self.adapt(result)
        if isinstance(result, bytes | bytearray | memoryview | str):
            response = HttpResponse(result, content_type=self.content_type, status=self.status)
            self._headers(response)
            return response
        if isinstance(result, Mapping) or not (
            hasattr(result, "__iter__") or is_async_iterable(result)
        ):
            raise NotStreamable(
                f"responder {self.context.name!r} returned {type(result).__name__}; "
                "respond() must return an HttpResponse, bytes or str, or an iterable or "
                "async iterable of bytes/str chunks."
            )
        return None

    def adapt(self, response: HttpResponseBase) -> HttpResponseBase:
        """A response the responder built: guard its stream, and match it to the server
        (Django would buffer a stream of the other kind). Its first chunk is not pulled
        here: an error in it is a mid-stream error."""
        if not isinstance(response, StreamingHttpResponse):
            return response
        if isinstance(response, FileResponse) and not self.to_async:
            return response  # keep the server's sendfile (wsgi.file_wrapper)
        if response.is_async:
            response.streaming_content = _from_async(
                response.streaming_content,  # type: ignore[arg-type]
                self.to_async,
                self.context,
                NOTHING,
                None,
            )
        else:
            content = cast(Iterator[Any], response.streaming_content)
            response.streaming_content = _from_sync(
                iter(content), self.to_async, self.context, NOTHING
            )
        return response

    def _response(self, content: SyncStream | AsyncStream) -> StreamingHttpResponse:
        response = StreamingHttpResponse(
            content, content_type=self.content_type, status=self.status
        )
        self._headers(response)
        return response

    def _headers(self, response: HttpResponseBase) -> None:
        for key, value in self.headers.items():
            response[key] = value
