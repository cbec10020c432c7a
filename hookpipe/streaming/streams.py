"""The two shapes a streamed body takes, and the bridges between sync and async sources.

* **WSGI** reads a sync iterator (:class:`SyncStream`). An async source is driven on one
  event loop of its own, in one thread of its own, for the whole stream; each chunk the
  server asks for is one step of that loop (:class:`LoopDriver`).
* **ASGI** reads an async iterator (:class:`AsyncStream`). A sync source is pulled one
  chunk at a time with ``sync_to_async`` (thread-sensitive: within Django's per-request
  thread), so the event loop never blocks and nothing is buffered.

An error after the first chunk is logged with the responder's name (:class:`Context`)
and ends the stream cleanly; the source is closed in every case."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Final

from asgiref.sync import async_to_sync, sync_to_async

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


def next_or_end(iterator: Iterator[Any]) -> Any:
    # StopIteration cannot cross a thread hop (asyncio refuses to put it in a Future).
    return next(iterator, END)


async def anext_or_end(iterator: AsyncIterator[Any]) -> Any:
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


class LoopDriver:
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
        return self._runner.run(anext_or_end(self._source))

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
