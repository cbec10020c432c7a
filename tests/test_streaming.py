"""Responder output as a response: each kind of source under each kind of server, pulled
one chunk at a time, errors before and after the first chunk, and closing.

The server is played by the test: WSGI iterates the response and calls ``close()``;
ASGI does ``async for`` over it (Django's ``ASGIHandler`` does exactly that) and then
``close()``. Warnings are errors, so Django's "must consume ... iterators" warning for a
buffered stream would fail these tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.core.signals import request_finished
from django.db import close_old_connections
from django.http import (
    FileResponse,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    StreamingHttpResponse,
)
from django.test import AsyncRequestFactory, RequestFactory

from hookpipe.streaming import buffer
from hookpipe.streaming.response import NotStreamable, Streamer
from hookpipe.streaming.streams import Context

from .test_tweens import HopCounter

Log = list[str]


@pytest.fixture(autouse=True)
def _no_connection_closing() -> Iterator[None]:
    """``response.close()`` sends ``request_finished``, whose receiver would touch the
    test database outside a request; Django's test client unplugs it the same way."""
    request_finished.disconnect(close_old_connections)
    yield
    request_finished.connect(close_old_connections)


def wsgi_request() -> HttpRequest:
    return RequestFactory().get("/stream/")


def asgi_request() -> HttpRequest:
    return AsyncRequestFactory().get("/stream/")


def streamer(request: HttpRequest, **kwargs: Any) -> Streamer:
    return Streamer(request, Context("test-responder", "rid"), **kwargs)


def sync_source(log: Log, n: int = 3, fail_at: int | None = None) -> Iterator[bytes]:
    try:
        for i in range(n):
            if i == fail_at:
                raise RuntimeError(f"failed at {i}")
            log.append(f"made {i}")
            yield f"{i};".encode()
    finally:
        log.append("closed")


async def async_source(
    log: Log, n: int = 3, fail_at: int | None = None, loops: list[Any] | None = None
) -> AsyncIterator[str]:
    try:
        for i in range(n):
            await asyncio.sleep(0)
            if loops is not None:
                loops.append((asyncio.get_running_loop(), threading.get_ident()))
            if i == fail_at:
                raise RuntimeError(f"failed at {i}")
            log.append(f"made {i}")
            yield f"{i};"
    finally:
        log.append("closed")


def consume_wsgi(response: HttpResponseBase, log: Log, stop_after: int | None = None) -> bytes:
    body = b""
    try:
        for i, chunk in enumerate(response):
            log.append(f"sent {chunk.decode()}")
            body += chunk
            if stop_after is not None and i + 1 >= stop_after:
                break
    finally:
        response.close()
    return body


async def consume_asgi(response: HttpResponseBase, log: Log) -> bytes:
    assert isinstance(response, StreamingHttpResponse)
    assert response.is_async
    body = b""
    async for chunk in response:
        log.append(f"sent {chunk.decode()}")
        body += chunk
    await sync_to_async(response.close)()
    return body


#: One chunk made, one sent: nothing is made ahead of the server asking for it.
INTERLEAVED = ["made 0", "sent 0;", "made 1", "sent 1;", "made 2", "sent 2;", "closed"]


def assert_read_ahead(log: Log, n: int = 3) -> None:
    """Across modes the rest of the stream goes through a bounded buffer: the source
    may run ahead of the server, but every chunk is made before it is sent, in order,
    and the source is closed once."""
    made = [e for e in log if e.startswith("made")]
    sent = [e for e in log if e.startswith("sent")]
    assert made == [f"made {i}" for i in range(n)]
    assert sent == [f"sent {i};" for i in range(n)]
    for i in range(n):
        assert log.index(f"made {i}") < log.index(f"sent {i};")
    assert log.count("closed") == 1


# ------------------------------------------------------------------- WSGI


def test_sync_source_under_wsgi_is_pulled_chunk_by_chunk() -> None:
    log: Log = []
    response = streamer(wsgi_request()).build_sync(sync_source(log))
    assert isinstance(response, StreamingHttpResponse)
    assert not response.is_async
    assert log == ["made 0"]  # primed: the first chunk, no more
    assert consume_wsgi(response, log) == b"0;1;2;"
    assert log == INTERLEAVED


def test_async_source_under_wsgi_runs_on_one_loop_of_its_own() -> None:
    log: Log = []
    loops: list[Any] = []
    response = streamer(wsgi_request()).build_sync(async_source(log, 3, loops=loops))
    assert isinstance(response, StreamingHttpResponse)
    assert not response.is_async
    assert log == ["made 0"]
    assert consume_wsgi(response, log) == b"0;1;2;"
    assert_read_ahead(log)
    assert len(set(loops)) == 1  # every step on the same loop, in the same thread
    [(loop, thread)] = set(loops)
    assert loop.is_closed()
    assert thread != threading.get_ident()


def test_async_source_primed_from_async_code_under_wsgi() -> None:
    """Async MAIN under WSGI (an async tween above MAIN): primed from a loop."""
    log: Log = []
    loops: list[Any] = []

    async def build() -> HttpResponseBase:
        return await streamer(wsgi_request()).build_async(async_source(log, 2, loops=loops))

    response = async_to_sync(build)()
    assert consume_wsgi(response, log) == b"0;1;"
    assert len(set(loops)) == 1


def test_sync_source_primed_from_async_code_under_wsgi() -> None:
    log: Log = []

    async def build() -> HttpResponseBase:
        return await streamer(wsgi_request()).build_async(sync_source(log))

    response = async_to_sync(build)()
    assert log == ["made 0"]
    assert consume_wsgi(response, log) == b"0;1;2;"


def test_stopping_early_closes_the_source_under_wsgi() -> None:
    for source in (sync_source, async_source):
        log: Log = []
        response = streamer(wsgi_request()).build_sync(source(log, 5))
        assert consume_wsgi(response, log, stop_after=1) == b"0;"
        assert log[-1] == "closed", source
        assert "made 4" not in log


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_across_modes_the_source_runs_ahead_by_a_bounded_buffer_only(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A buffer of 4 bytes holds two chunks of "i;": the source can be a few chunks
    # ahead of the server, never 50.
    monkeypatch.setattr(buffer, "LIMIT", 4)
    log: Log = []
    if kind == "wsgi":
        response = streamer(wsgi_request()).build_sync(async_source(log, 50))
        assert consume_wsgi(response, log, stop_after=3) == b"0;1;2;"
    else:

        async def serve() -> None:
            response = await streamer(asgi_request()).build_async(sync_source(log, 50))
            assert isinstance(response, StreamingHttpResponse)
            sent = 0
            # As Django's ASGI handler does: the iterator is closed (which stops the
            # pump) before response.close() runs in the request's thread.
            async with contextlib.aclosing(aiter(response)) as content:
                async for _chunk in content:
                    sent += 1
                    if sent == 3:
                        break
            await sync_to_async(response.close)()

        async_to_sync(serve)()
    made = [e for e in log if e.startswith("made")]
    assert len(made) <= 8
    assert log[-1] == "closed"


async def test_a_sync_source_under_asgi_crosses_threads_once_not_per_chunk(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log: Log = []
    response = await streamer(asgi_request()).build_async(sync_source(log, 100))
    with monkeypatch.context() as patch:
        counter = HopCounter(patch)
        body = await consume_asgi(response, log)
    assert body.count(b";") == 100
    # One call reads the whole rest of the stream; one more closes the response.
    assert counter.count <= 2


# ------------------------------------------------------------------- ASGI


async def test_sync_source_under_asgi_is_pulled_off_the_loop() -> None:
    log: Log = []
    threads: set[int] = set()

    def source() -> Iterator[bytes]:
        threads.add(threading.get_ident())
        yield from sync_source(log)
        threads.add(threading.get_ident())

    response = await streamer(asgi_request()).build_async(source())
    assert log == ["made 0"]
    assert await consume_asgi(response, log) == b"0;1;2;"
    assert_read_ahead(log)
    assert threading.get_ident() not in threads  # never on the event loop's thread


async def test_async_source_under_asgi() -> None:
    log: Log = []
    response = await streamer(asgi_request()).build_async(async_source(log))
    assert await consume_asgi(response, log) == b"0;1;2;"
    assert log == INTERLEAVED


@pytest.mark.parametrize("source", [sync_source, async_source])
async def test_sources_primed_from_a_thread_under_asgi(source: Any) -> None:
    """Sync MAIN under ASGI (a sync tween above MAIN): built in Django's thread."""
    log: Log = []
    response = await sync_to_async(streamer(asgi_request()).build_sync)(source(log))
    assert log == ["made 0"]
    assert await consume_asgi(response, log) == b"0;1;2;"
    if source is sync_source:
        assert_read_ahead(log)
    else:
        assert log == INTERLEAVED


# ----------------------------------------------------------------- errors


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
@pytest.mark.parametrize("source", [sync_source, async_source])
def test_an_error_in_the_first_chunk_is_raised(kind: str, source: Any) -> None:
    request = wsgi_request() if kind == "wsgi" else asgi_request()
    log: Log = []
    with pytest.raises(RuntimeError, match="failed at 0"):
        async_to_sync(streamer(request).build_async)(source(log, 3, fail_at=0))
    assert log == ["closed"]


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
@pytest.mark.parametrize("source", [sync_source, async_source])
def test_a_mid_stream_error_ends_the_stream_and_is_logged(
    kind: str, source: Any, caplog: pytest.LogCaptureFixture
) -> None:
    errors: list[Exception] = []
    request = wsgi_request() if kind == "wsgi" else asgi_request()
    built = Streamer(request, Context("feed", "r1d", errors.append))
    log: Log = []
    if kind == "wsgi":
        body = consume_wsgi(built.build_sync(source(log, 5, fail_at=2)), log)
    else:

        async def serve() -> bytes:
            response = await sync_to_async(built.build_sync)(source(log, 5, fail_at=2))
            return await consume_asgi(response, log)

        body = async_to_sync(serve)()
    assert body == b"0;1;"
    # Closed once, after the error (across modes, maybe before the last chunk is sent).
    assert log.count("closed") == 1
    assert log.index("closed") > log.index("made 1")
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.getMessage().startswith(
        "hookpipe: responder 'feed' raised RuntimeError mid-stream after 2 chunk(s) "
        "(request r1d); the response was cut short: failed at 2"
    )
    assert [str(e) for e in errors] == ["failed at 2"]


def test_an_empty_source_is_an_empty_stream() -> None:
    response = streamer(wsgi_request()).build_sync(iter(()))
    assert consume_wsgi(response, []) == b""


@pytest.mark.parametrize("bad", [None, 42, {"a": 1}, object()])
def test_what_is_not_a_response_or_chunks_is_refused(bad: Any) -> None:
    with pytest.raises(NotStreamable, match="responder 'test-responder' returned"):
        streamer(wsgi_request()).build_sync(bad)


# ------------------------------------------------------- simple answers


def test_a_response_is_used_as_is() -> None:
    response = HttpResponse("done", status=204)
    assert streamer(wsgi_request(), status=500).build_sync(response) is response


@pytest.mark.parametrize("value", [b"bytes", "text"])
def test_bytes_or_text_is_one_response(value: Any) -> None:
    response = streamer(
        wsgi_request(), content_type="text/plain", status=202, headers={"X-A": "1"}
    ).build_sync(value)
    assert isinstance(response, HttpResponse)
    assert (response.status_code, response["Content-Type"], response["X-A"]) == (
        202,
        "text/plain",
        "1",
    )
    assert response.content in (b"bytes", b"text")


def test_class_attributes_shape_a_stream() -> None:
    response = streamer(
        wsgi_request(), content_type="application/x-ndjson", status=207, headers={"X-B": "2"}
    ).build_sync(iter([b"{}\n"]))
    assert (response.status_code, response["Content-Type"], response["X-B"]) == (
        207,
        "application/x-ndjson",
        "2",
    )


async def test_an_own_sync_stream_is_matched_to_asgi() -> None:
    log: Log = []
    own = StreamingHttpResponse(sync_source(log), content_type="text/csv")
    response = await streamer(asgi_request()).build_async(own)
    assert response is own
    assert log == []  # not primed
    assert await consume_asgi(response, log) == b"0;1;2;"
    assert_read_ahead(log)


def test_an_own_async_stream_is_matched_to_wsgi() -> None:
    log: Log = []
    own = StreamingHttpResponse(async_source(log))
    response = streamer(wsgi_request()).build_sync(own)
    assert response is own
    assert not own.is_async
    assert consume_wsgi(response, log) == b"0;1;2;"


def test_an_own_stream_gets_the_mid_stream_guard() -> None:
    log: Log = []
    own = StreamingHttpResponse(sync_source(log, 3, fail_at=1))
    response = streamer(wsgi_request()).build_sync(own)
    assert consume_wsgi(response, log) == b"0;"


def test_a_file_response_keeps_sendfile_under_wsgi(tmp_path: Any) -> None:
    path = tmp_path / "data.txt"
    path.write_bytes(b"file body")
    own = FileResponse(path.open("rb"))
    response = streamer(wsgi_request()).build_sync(own)
    assert response is own
    assert own.file_to_stream is not None  # what Django hands to wsgi.file_wrapper
    assert consume_wsgi(response, []) == b"file body"


async def test_a_file_response_is_streamed_under_asgi(tmp_path: Any) -> None:
    path = tmp_path / "data.txt"
    path.write_bytes(b"file body")
    own = FileResponse(path.open("rb"))
    response = await streamer(asgi_request()).build_async(own)
    assert await consume_asgi(response, []) == b"file body"
