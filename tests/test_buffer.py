"""The bounded buffer between a stream's source and its reader
(:mod:`hookpipe.streaming.buffer`): order, bound, end, errors, a reader gone."""

from __future__ import annotations

import asyncio
import threading

import pytest

from hookpipe.streaming import buffer
from hookpipe.streaming.buffer import ChunkBuffer, Finished


def test_the_reader_takes_every_chunk_waiting_in_order_then_the_end() -> None:
    chunks = ChunkBuffer()
    for chunk in (b"a", b"b", b"c"):
        chunks.put(chunk)
    assert chunks.take() == [b"a", b"b", b"c"]
    chunks.end()
    assert chunks.take() == []


def test_a_full_buffer_holds_the_source_until_the_reader_takes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(buffer, "LIMIT", 2)
    chunks = ChunkBuffer()
    chunks.put(b"ab")  # full now
    assert chunks.full
    assert not chunks.room(0.01)
    put = threading.Thread(target=chunks.put, args=(b"c",))
    put.start()
    put.join(0.1)
    assert put.is_alive()  # waiting for room
    assert chunks.take() == [b"ab"]
    put.join(5)
    assert chunks.take() == [b"c"]


def test_the_sources_error_reaches_the_reader_after_the_chunks_before_it() -> None:
    chunks = ChunkBuffer()
    chunks.put(b"a")
    chunks.end(RuntimeError("broken"))
    assert chunks.take() == [b"a"]
    with pytest.raises(RuntimeError, match="broken"):
        chunks.take()


def test_when_the_reader_is_gone_the_source_is_told_to_stop() -> None:
    chunks = ChunkBuffer()
    chunks.put(b"a")
    chunks.cancel()
    assert chunks.cancelled
    with pytest.raises(Finished):
        chunks.put(b"b")


async def test_an_async_reader_is_woken_by_a_chunk_put_in_a_thread() -> None:
    chunks = ChunkBuffer(asyncio.get_running_loop())
    threading.Timer(0.05, chunks.put, args=(b"late",)).start()
    assert await asyncio.wait_for(chunks.atake(), 5) == [b"late"]


async def test_drained_waits_until_the_reader_has_made_room(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(buffer, "LIMIT", 1)
    chunks = ChunkBuffer(asyncio.get_running_loop())
    chunks.put(b"a")
    waiting = asyncio.ensure_future(chunks.drained())
    await asyncio.sleep(0.01)
    assert not waiting.done()
    assert await chunks.atake() == [b"a"]
    await asyncio.wait_for(waiting, 5)
