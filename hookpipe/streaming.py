"""A responder's output as a response, streamed chunk by chunk whatever the server.

``respond()`` may return a response (used as is), ``bytes``/``str`` (one
``HttpResponse``), or an iterable or async iterable of chunks. Chunks are streamed
with a ``StreamingHttpResponse`` whose content matches how the server reads it:

* **WSGI** reads a sync iterator. A sync source is passed through. An async source is
  driven on one event loop of its own, in one thread of its own, for the whole stream;
  each chunk the server asks for is one step of that loop (``_LoopDriver``).
* **ASGI** reads an async iterator. An async source is passed through. A sync source is
  pulled one chunk at a time with ``sync_to_async`` (thread-sensitive: within Django's
  per-request thread), so the event loop never blocks and nothing is buffered.

Django would otherwise consume a mismatched iterator whole before sending a byte (with
a warning); here nothing is buffered.

Errors: the first chunk is pulled before the response is returned (``prime``), so an
error in ``respond()`` or in the first chunk is raised to the caller (the pipeline runs
``on_error`` hooks and the failsafe). An error after that is logged with the
responder's name and ends the stream cleanly: the server finishes the response and the
client sees a shorter body (HTTP/1.1 has no way to flag an error after the headers and
some of the body are sent). The source is closed in every case.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Final, cast

from asgiref.sync import async_to_sync, sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import (
    FileResponse,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    StreamingHttpResponse,
)

logger = logging.getLogger("hookpipe")

#: Seconds closing an async source under WSGI may take before it is abandoned.
CLOSE_TIMEOUT: Final = 5.0


class _Sentinel:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


#: What a pull returns when the source has no more chunks.
END: Final[Any] = _Sentinel("END")
#: ``first`` of a stream that was not primed.
NOTHING: Final[Any] = _Sentinel("NOTHING")


class NotStreamable(TypeError):
    """``respond()`` returned something that is neither a response nor chunks."""


def wants_async(request: HttpRequest) -> bool:
    """Whether the server reads the response asynchronously (ASGI) or not (WSGI)."""
    return isinstance(request, ASGIRequest)


def is_async_iterable(value: Any) -> bool:
    return hasattr(value, "__aiter__")


def _next_or_end(iterator: Iterator[Any]) -> Any:
    # StopIteration cannot cross a thread hop (asyncio refuses to put it in a Future).
    return next(iterator, END)


async def _anext_or_end(iterator: AsyncIterator[Any]) -> Any:
    try:
        return await iterator.__anext__()
    except StopAsyncIteration:
        return END


class Context:
    """Who is streaming, for log lines and counters."""

    __slots__ = ("name", "on_error", "request_id")

    def __init__(
        self,
        name: str,
        request_id: str = "-",
        on_error: Callable[[Exception], None] | None = None,
    ) -> None:
        self.name = name
        self.request_id = request_id
        #: Called with a mid-stream error, after it is logged (counters).
        self.on_error = on_error

    def failed(self, exc: Exception, chunks: int) -> None:
        logger.error(
            "hookpipe: responder %r raised %s mid-stream after %d chunk(s) (request %s); "
            "the response was cut short: %s",
            self.name,
            type(exc).__name__,
            chunks,
            self.request_id,
            exc,
            exc_info=exc,
            extra={"request_id": self.request_id},
        )
        if self.on_error is not None:
            try:
                self.on_error(exc)
            except Exception:
                logger.exception("hookpipe: counting a stream error failed")

    def close_failed(self, exc: Exception) -> None:
        logger.error(
            "hookpipe: closing the output of responder %r raised %s: %s (request %s)",
            self.name,
            type(exc).__name__,
            exc,
            self.request_id,
            exc_info=exc,
            extra={"request_id": self.request_id},
        )


# ----------------------------------------------------------- async under WSGI


class _LoopDriver:
    """Drives one async iterator on an event loop and thread kept for the whole stream.

    Every step (each chunk, and the final ``aclose()``) runs on the same loop, so a
    source that holds loop-bound resources (a client session, a lock) works. Callers
    wait on the step from sync code (``pull``) or from another event loop (``apull``).
    """

    def __init__(self, source: AsyncIterator[Any]) -> None:
        self._source = source
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hookpipe-stream")
        self._runner = asyncio.Runner()
        self._closed = False
        self._lock = threading.Lock()

    def _step(self) -> Any:
        return self._runner.run(_anext_or_end(self._source))

    def pull(self) -> Any:
        return self._executor.submit(self._step).result()

    async def apull(self) -> Any:
        return await asyncio.wrap_future(self._executor.submit(self._step))

    def _finish(self) -> None:
        try:
            aclose = getattr(self._source, "aclose", None)
            if aclose is not None:
                self._runner.run(_await(aclose()))
        finally:
            self._runner.close()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        future: Future[None] = self._executor.submit(self._finish)
        self._executor.shutdown(wait=False)
        try:
            future.result(timeout=CLOSE_TIMEOUT)
        except FutureTimeout:
            logger.warning("hookpipe: an async stream did not close within %s s", CLOSE_TIMEOUT)


async def _await(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


# -------------------------------------------------------------------- streams


class SyncStream:
    """Content for a WSGI ``StreamingHttpResponse``: a sync iterator over the source."""

    def __init__(
        self,
        pull: Callable[[], Any],
        close: Callable[[], None] | None,
        context: Context,
        first: Any = NOTHING,
    ) -> None:
        self._pull = pull
        self._close = close
        self._context = context
        self._first = first
        self._closed = False
        self._lock = threading.Lock()

    def __iter__(self) -> Iterator[Any]:
        return self._chunks()

    def _chunks(self) -> Iterator[Any]:
        chunks = 0
        try:
            if self._first is not NOTHING:
                if self._first is END:
                    return
                chunks += 1
                yield self._first
            while True:
                try:
                    chunk = self._pull()
                except Exception as exc:
                    self._context.failed(exc, chunks)
                    return
                if chunk is END:
                    return
                chunks += 1
                yield chunk
        finally:
            self.close()

    def close(self) -> None:
        """Close the source once; Django calls it from ``response.close()``."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if self._close is not None:
            try:
                self._close()
            except Exception as exc:
                self._context.close_failed(exc)


class AsyncStream:
    """Content for an ASGI ``StreamingHttpResponse``: an async iterator over the source.

    It has no ``__iter__``: Django tries ``iter()`` first to tell the two kinds apart.
    """

    def __init__(
        self,
        apull: Callable[[], Awaitable[Any]],
        aclose: Callable[[], Awaitable[None]] | None,
        close: Callable[[], None] | None,
        context: Context,
        first: Any = NOTHING,
    ) -> None:
        self._apull = apull
        self._aclose = aclose
        self._close = close
        self._context = context
        self._first = first
        self._closed = False
        self._lock = threading.Lock()

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[Any]:
        chunks = 0
        try:
            if self._first is not NOTHING:
                if self._first is END:
                    return
                chunks += 1
                yield self._first
            while True:
                try:
                    chunk = await self._apull()
                except Exception as exc:
                    self._context.failed(exc, chunks)
                    return
                if chunk is END:
                    return
                chunks += 1
                yield chunk
        finally:
            if self._claim():
                await self._close_async()

    def _claim(self) -> bool:
        with self._lock:
            if self._closed:
                return False
            self._closed = True
            return True

    async def _close_async(self) -> None:
        try:
            if self._aclose is not None:
                await self._aclose()
            elif self._close is not None:
                await sync_to_async(self._close, thread_sensitive=True)()
        except Exception as exc:
            self._context.close_failed(exc)

    def close(self) -> None:
        """From ``response.close()`` (sync, in a thread): close a source the server never
        finished reading (usually the iteration above has closed it already)."""
        if not self._claim():
            return
        try:
            if self._close is not None:
                self._close()
            elif self._aclose is not None:
                async_to_sync(self._aclose)()
        except Exception as exc:
            self._context.close_failed(exc)


# -------------------------------------------------------- building a response


def _sync_close(source: Any) -> Callable[[], None] | None:
    close = getattr(source, "close", None)
    return close if callable(close) else None


def _async_close(source: Any) -> Callable[[], Awaitable[None]] | None:
    aclose = getattr(source, "aclose", None)
    return aclose if callable(aclose) else None


def _from_sync(
    iterator: Iterator[Any], to_async: bool, context: Context, first: Any
) -> SyncStream | AsyncStream:
    close = _sync_close(iterator)
    if not to_async:
        return SyncStream(lambda: _next_or_end(iterator), close, context, first)
    pull = sync_to_async(_next_or_end, thread_sensitive=True)
    return AsyncStream(lambda: pull(iterator), None, close, context, first)


def _from_async(
    iterator: AsyncIterator[Any],
    to_async: bool,
    context: Context,
    first: Any,
    driver: _LoopDriver | None,
) -> SyncStream | AsyncStream:
    if to_async:
        return AsyncStream(
            lambda: _anext_or_end(iterator), _async_close(iterator), None, context, first
        )
    driver = driver or _LoopDriver(iterator)
    return SyncStream(driver.pull, driver.close, context, first)


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
                first = async_to_sync(_anext_or_end)(iterator)
                return self._response(_from_async(iterator, True, self.context, first, None))
            driver = _LoopDriver(iterator)
            try:
                first = driver.pull()
            except BaseException:
                driver.close()
                raise
            return self._response(_from_async(iterator, False, self.context, first, driver))
        iterator = iter(result)
        first = _next_or_end(iterator)
        return self._response(_from_sync(iterator, self.to_async, self.context, first))

    # Called on an event loop: async MAIN.
    async def build_async(self, result: Any) -> HttpResponseBase:
        simple = self._simple(result)
        if simple is not None:
            return simple
        if is_async_iterable(result):
            iterator = result.__aiter__()
            if self.to_async:
                first = await _anext_or_end(iterator)
                return self._response(_from_async(iterator, True, self.context, first, None))
            driver = _LoopDriver(iterator)
            try:
                first = await driver.apull()
            except BaseException:
                driver.close()
                raise
            return self._response(_from_async(iterator, False, self.context, first, driver))
        iterator = iter(result)
        first = await sync_to_async(_next_or_end, thread_sensitive=True)(iterator)
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
