"""The sources the two streams read, and the bridges between sync and async code.

* Of the server's own kind, a source is read directly, one chunk per step, as Django
  would (:class:`DirectSync`, :class:`DirectAsync`).
* **Async under WSGI**: the source is driven on one event loop of its own, in one thread
  of its own, for the whole stream (:class:`LoopDriver`): its first chunk is one step of
  that loop, then a loop there reads the rest into a bounded buffer
  (:mod:`hookpipe.streaming.buffer`).
* **Sync under ASGI**: the first chunk is pulled with ``sync_to_async`` (thread-sensitive:
  within Django's per-request thread); then calls there read the rest into a bounded
  buffer (:class:`ThreadPump`), so the event loop never blocks.

Across modes the reader takes every chunk waiting at each wake-up: many chunks per
thread hop at full speed, never a chunk held back to fill a batch.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Final

from asgiref.sync import async_to_sync, sync_to_async

from .buffer import ChunkBuffer, Finished
from .streams import END, Context, anext_or_end

logger = logging.getLogger("hookpipe")

#: Seconds closing an async source under WSGI may take before it is abandoned.
CLOSE_TIMEOUT: Final = 5.0
#: Seconds a sync source under ASGI waits, in the request's thread, for the reader to
#: make room in a full buffer before it lets the thread go (:class:`ThreadPump`).
ROOM_WAIT: Final = 0.02


# What the two streams read from: ``take()`` (sync) or ``atake()`` (async) returns the
# next chunks, at least one, ``[]`` at the end, and raises what the source raised.


class DirectSync:
    """A sync iterator read by sync code: one chunk per take."""

    def __init__(self, iterator: Iterator[Any]) -> None:
        self._iterator = iterator
        close = getattr(iterator, "close", None)
        self.close: Callable[[], None] | None = close if callable(close) else None

    def take(self) -> list[Any]:
        chunk = next(self._iterator, END)
        return [] if chunk is END else [chunk]


class DirectAsync:
    """An async iterator read on the server's event loop: one chunk per take."""

    def __init__(self, iterator: AsyncIterator[Any]) -> None:
        self._iterator = iterator
        aclose = getattr(iterator, "aclose", None)
        self._aclose = aclose if callable(aclose) else None

    async def atake(self) -> list[Any]:
        chunk = await anext_or_end(self._iterator)
        return [] if chunk is END else [chunk]

    async def aclose(self) -> None:
        if self._aclose is not None:
            await self._aclose()

    def close(self) -> None:
        if self._aclose is not None:
            async_to_sync(self._aclose)()


class ThreadPump:
    """A sync iterator read for an ASGI server, in the request's thread (thread-sensitive:
    where its database connection lives), up to a full buffer per call; the event loop
    takes what is there.

    A call waits at most :data:`ROOM_WAIT` for room in a full buffer, then returns, to
    be called again once the reader has made room: Django's own calls for this request
    (``response.close()``) queue behind it, so the thread must come free. Calls in that
    thread never overlap, so the source is only ever touched by one of them (and closed
    once).
    """

    def __init__(self, iterator: Iterator[Any], context: Context) -> None:
        self._iterator = iterator
        self._context = context
        self._buffer: ChunkBuffer | None = None
        self._task: asyncio.Future[None] | None = None
        self._source_closed = False

    def _fill(self, buffer: ChunkBuffer) -> bool:
        """In the request's thread: read until the buffer is full (True: there is more)
        or the source ends (False; closed)."""
        if buffer.cancelled:
            return False
        error: Exception | None = None
        try:
            for chunk in self._iterator:
                buffer.put(chunk)
                # At full speed the reader makes room within this wait, and the stream
                # goes on in this one call; past it, the thread is let go (see above).
                if buffer.full and not buffer.room(ROOM_WAIT):
                    return not buffer.cancelled
        except Finished:
            return False
        except Exception as exc:
            error = exc
        self._close_source()
        buffer.end(error)
        return False

    async def _pump(self, buffer: ChunkBuffer) -> None:
        fill = sync_to_async(self._fill, thread_sensitive=True)
        while await fill(buffer):
            await buffer.drained()

    def _close_source(self) -> None:
        if self._source_closed:
            return
        self._source_closed = True
        close = getattr(self._iterator, "close", None)
        if callable(close):
            try:
                close()
            except Exception as exc:
                self._context.close_failed(exc)

    async def atake(self) -> list[Any]:
        if self._buffer is None:
            self._buffer = ChunkBuffer(asyncio.get_running_loop())
            self._task = asyncio.ensure_future(self._pump(self._buffer))
        return await self._buffer.atake()

    async def aclose(self) -> None:
        """The reader is done: stop the pump, then close the source."""
        if self._buffer is not None:
            self._buffer.cancel()
            await self._task  # type: ignore[misc]
        if not self._source_closed:  # the pump closes a source it read to the end
            await sync_to_async(self._close_source, thread_sensitive=True)()

    def close(self) -> None:
        """From ``response.close()``, in the request's thread: no fill runs meanwhile."""
        if self._buffer is not None:
            self._buffer.cancel()
        self._close_source()


# ----------------------------------------------------------- async under WSGI


class LoopDriver:
    """Drives one async iterator on an event loop and thread kept for the whole stream.

    Every step (the first chunk, the loop that reads the rest into a bounded buffer, and
    the final ``aclose()``) runs on the same loop, so a source that holds loop-bound
    resources (a client session, a lock) works. The first chunk is awaited from sync
    code (``pull``) or from another event loop (``apull``); the rest is taken by the
    server's thread (``take``).
    """

    def __init__(self, source: AsyncIterator[Any]) -> None:
        self._source = source
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hookpipe-stream")
        self._runner = asyncio.Runner()
        self._closed = False
        self._lock = threading.Lock()
        self._buffer: ChunkBuffer | None = None

    def _step(self) -> Any:
        return self._runner.run(anext_or_end(self._source))

    def pull(self) -> Any:
        return self._executor.submit(self._step).result()

    async def apull(self) -> Any:
        return await asyncio.wrap_future(self._executor.submit(self._step))

    def _pump(self, buffer: ChunkBuffer) -> None:
        self._runner.run(_pump_async(self._source, buffer))

    def take(self) -> list[Any]:
        if self._buffer is None:
            self._buffer = ChunkBuffer()
            self._executor.submit(self._pump, self._buffer)
        return self._buffer.take()

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
        if self._buffer is not None:
            self._buffer.cancel()  # the pump stops at its next chunk
        future: Future[None] = self._executor.submit(self._finish)
        self._executor.shutdown(wait=False)
        try:
            future.result(timeout=CLOSE_TIMEOUT)
        except FutureTimeout:
            logger.warning("hookpipe: an async stream did not close within %s s", CLOSE_TIMEOUT)


async def _pump_async(source: AsyncIterator[Any], buffer: ChunkBuffer) -> None:
    # put() blocks this loop while the buffer is full: the loop is this stream's own.
    try:
        async for chunk in source:
            buffer.put(chunk)
    except Finished:
        return
    except Exception as exc:
        buffer.end(exc)
        return
    buffer.end()


async def _await(awaitable: Awaitable[Any]) -> Any:
    return await awaitable
