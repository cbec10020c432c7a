"""The two shapes a streamed body takes: :class:`SyncStream` for a WSGI server and
:class:`AsyncStream` for an ASGI one, each reading a *source* (see
:mod:`hookpipe.streaming.bridges`) batch by batch.

An error after the first chunk is logged with the responder's name (:class:`Context`)
and ends the stream cleanly; the source is closed in every case."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Final, Protocol

logger = logging.getLogger("hookpipe")


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


# -------------------------------------------------------------------- streams


class SyncStream:
    """Content for a WSGI ``StreamingHttpResponse``: a sync iterator over the source."""

    def __init__(
        self,
        take: Callable[[], list[Any]],
        close: Callable[[], None] | None,
        context: Context,
        first: Any = NOTHING,
    ) -> None:
        self._take = take
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
                    batch = self._take()
                except Exception as exc:
                    self._context.failed(exc, chunks)
                    return
                if not batch:
                    return
                for chunk in batch:
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


class AsyncSource(Protocol):
    """What :class:`AsyncStream` reads: the next chunks, at least one (``[]`` at the
    end), and two ways to close it, from the loop or from sync code."""

    async def atake(self) -> list[Any]: ...

    async def aclose(self) -> None: ...

    def close(self) -> None: ...


class AsyncStream:
    """Content for an ASGI ``StreamingHttpResponse``: an async iterator over the source.

    It has no ``__iter__``: Django tries ``iter()`` first to tell the two kinds apart.
    """

    def __init__(self, source: AsyncSource, context: Context, first: Any = NOTHING) -> None:
        self._source = source
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
                    batch = await self._source.atake()
                except Exception as exc:
                    self._context.failed(exc, chunks)
                    return
                if not batch:
                    return
                for chunk in batch:
                    chunks += 1
                    yield chunk
        finally:
            if self._claim():
                try:
                    await self._source.aclose()
                except Exception as exc:
                    self._context.close_failed(exc)

    def _claim(self) -> bool:
        with self._lock:
            if self._closed:
                return False
            self._closed = True
            return True

    def close(self) -> None:
        """From ``response.close()`` (sync, in a thread): close a source the server never
        finished reading (usually the iteration above has closed it already)."""
        if not self._claim():
            return
        try:
            self._source.close()
        except Exception as exc:
            self._context.close_failed(exc)
