"""A bounded buffer of chunks between a source in one thread and a reader in another.

Crossing between sync and async code costs a thread hop (tens of microseconds), and a
stream of small chunks paid one per chunk. Here the source is read in a loop of its own
(in a thread, or on an event loop of its own) that puts chunks in the buffer, and the
reader takes *everything that is there* at each wake-up: at full speed that is many
chunks per hop, and a slow source costs no more than before.

* **Bounded size**: the source waits while :data:`LIMIT` bytes are waiting (one chunk
  always fits in an empty buffer), so a fast source cannot outrun a slow client.
* **Bounded latency**: a chunk is never held back to fill a batch. The reader takes what
  is there as soon as it looks, and a reader that is waiting is woken by the first
  chunk put.

The reader may be sync (:meth:`ChunkBuffer.take`, a WSGI server's thread) or async
(:meth:`ChunkBuffer.atake`, on the server's event loop); the source side is always
sync code (:meth:`ChunkBuffer.put`). A source that must not hold its thread for long
while the buffer is full (the request's thread under ASGI, see ``ThreadPump``) waits
for :meth:`ChunkBuffer.room` a little, then lets the thread go and waits for
:meth:`ChunkBuffer.drained` on the loop instead.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from typing import Any, Final

#: Bytes (or characters, for ``str`` chunks) that may wait in the buffer.
LIMIT: Final = 1024 * 1024


class Finished(Exception):
    """The reader is gone (:meth:`ChunkBuffer.cancel`): the source should stop."""


class ChunkBuffer:
    """Chunks from one source to one reader; see the module docstring."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        #: The reader's event loop, for :meth:`atake`; ``None`` for a sync reader.
        self._loop = loop
        self._ready = threading.Condition(threading.Lock())
        self._chunks: deque[Any] = deque()
        self._size = 0
        self._ended = False
        self._error: BaseException | None = None
        self._cancelled = False
        self._waiter: asyncio.Future[None] | None = None
        self._room: asyncio.Future[None] | None = None

    # ---------------------------------------------------------- the source's side

    def put(self, chunk: Any) -> None:
        """Add ``chunk``, waiting while the buffer is full; raise :class:`Finished` if
        the reader has gone."""
        with self._ready:
            while self._size >= LIMIT and not self._cancelled:
                self._ready.wait()
            if self._cancelled:
                raise Finished
            self._chunks.append(chunk)
            self._size += len(chunk)
            self._wake()

    @property
    def full(self) -> bool:
        return self._size >= LIMIT

    def room(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for room; True if there is room for the next
        chunk, False if the time is up or the reader has gone."""
        with self._ready:
            self._ready.wait_for(lambda: self._size < LIMIT or self._cancelled, timeout)
            return self._size < LIMIT and not self._cancelled

    async def drained(self) -> None:
        """On the loop: wait until the buffer has room again (or the reader is gone)."""
        if self._loop is None:
            raise RuntimeError("this ChunkBuffer has no event loop to wait on")
        while True:
            with self._ready:
                if self._size < LIMIT or self._cancelled:
                    return
                room = self._room = self._loop.create_future()
            await room

    def end(self, error: BaseException | None = None) -> None:
        """No more chunks; ``error`` is what the source raised, if it did."""
        with self._ready:
            self._ended = True
            self._error = error
            self._wake()

    def _room_made(self) -> None:
        """With the lock held: wake a source waiting in :meth:`drained`."""
        room, self._room = self._room, None
        if room is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(_resolve, room)

    def _wake(self) -> None:
        """With the lock held: wake the reader if it waits."""
        self._ready.notify_all()
        waiter, self._waiter = self._waiter, None
        if waiter is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(_resolve, waiter)

    # ---------------------------------------------------------- the reader's side

    def _batch(self) -> list[Any] | None:
        """With the lock held: every chunk waiting (the source may go on), or ``None``
        if there is none yet. At the end: ``[]``, or the source's error, raised."""
        if self._chunks:
            batch = list(self._chunks)
            self._chunks.clear()
            self._size = 0
            self._ready.notify_all()
            self._room_made()
            return batch
        if self._ended:
            if self._error is not None:
                raise self._error
            return []
        return None

    def take(self) -> list[Any]:
        """The chunks waiting, at least one, waiting for them; ``[]`` at the end."""
        with self._ready:
            while True:
                batch = self._batch()
                if batch is not None:
                    return batch
                self._ready.wait()

    async def atake(self) -> list[Any]:
        """:meth:`take` for a reader on the event loop given to the constructor."""
        if self._loop is None:
            raise RuntimeError("this ChunkBuffer has no event loop to wait on")
        while True:
            with self._ready:
                batch = self._batch()
                if batch is not None:
                    return batch
                waiter = self._waiter = self._loop.create_future()
            await waiter

    def cancel(self) -> None:
        """The reader is gone: the source's next :meth:`put` raises :class:`Finished`."""
        with self._ready:
            self._cancelled = True
            self._chunks.clear()
            self._size = 0
            self._ready.notify_all()
            self._room_made()

    @property
    def cancelled(self) -> bool:
        return self._cancelled


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
