"""Responders, through real requests under WSGI and ASGI: the first match answers, every
kind of output streams, errors go to on_error and the failsafe, finished callbacks run.

Streams are read the way the servers read them (the test clients iterate the response
and close it); warnings are errors, so a stream Django had to buffer fails the test.
"""

from __future__ import annotations

import http.client
import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from asgiref.sync import async_to_sync
from django.http import HttpResponseBase, StreamingHttpResponse
from django.test import AsyncClient, override_settings

from hookpipe.core.process import get_pipeline
from tests import live
from tests.conftest import Fetch
from tests.testapp import hooks as th
from tests.testapp import plugins as tp

P = "tests.testapp.plugins."
H = "tests.testapp.hooks."


@pytest.fixture(autouse=True)
def _fresh_records() -> Iterator[None]:
    tp.reset()
    th.EVENTS.clear()
    yield
    tp.reset()
    th.EVENTS.clear()


def responders(*names: str, **extra: Any) -> Any:
    return override_settings(HOOKPIPE={"RESPONDERS": [P + n for n in names], **extra})


def read(response: HttpResponseBase) -> bytes:
    """The whole body of a WSGI response, read as the server would (closing it)."""
    if not isinstance(response, StreamingHttpResponse):
        return response.content  # type: ignore[attr-defined, no-any-return]
    return b"".join(response.streaming_content)  # type: ignore[arg-type]


async def aread(response: HttpResponseBase) -> bytes:
    if not isinstance(response, StreamingHttpResponse):
        return response.content  # type: ignore[attr-defined, no-any-return]
    return b"".join([chunk async for chunk in response.streaming_content])  # type: ignore[union-attr]


def serve(
    fetch: Fetch,
    path: str,
    method: str = "get",
    between: Callable[[HttpResponseBase], None] | None = None,
    **kwargs: Any,
) -> tuple[HttpResponseBase, bytes]:
    """Send a request and read the whole response, the way the server would.

    Under ASGI the request and the reading share one event loop, as in a real server
    (an async generator started on a loop is closed when that loop ends).
    ``between`` sees the response before a byte of a stream was read.
    """
    if fetch.kind == "wsgi":  # type: ignore[attr-defined]
        response = fetch(path, method, **kwargs)
        if between is not None:
            between(response)
        return response, read(response)

    async def go() -> tuple[HttpResponseBase, bytes]:
        client = AsyncClient(raise_request_exception=False)
        response = await getattr(client, method)(path, **kwargs)
        if between is not None:
            between(response)
        return response, await aread(response)

    return async_to_sync(go)()


def streamed_as(fetch: Fetch, response: HttpResponseBase) -> None:
    """A stream of the kind the server reads: sync under WSGI, async under ASGI."""
    assert isinstance(response, StreamingHttpResponse)
    assert response.is_async == (fetch.kind == "asgi")  # type: ignore[attr-defined]


# -------------------------------------------------------------- streaming


@responders("Chunks")
def test_a_sync_generator_is_streamed(fetch: Fetch) -> None:
    response, body = serve(fetch, "/stream/sync")
    streamed_as(fetch, response)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["X-Accel-Buffering"] == "no"
    assert body == b"chunk 0\nchunk 1\nchunk 2\n"
    assert tp.CLOSED["chunks"].is_set()


@responders("AsyncChunks")
def test_an_async_generator_is_streamed(fetch: Fetch) -> None:
    response, body = serve(fetch, "/stream/async")
    streamed_as(fetch, response)
    assert body == b"chunk 0\nchunk 1\nchunk 2\n"
    assert tp.CLOSED["async-chunks"].is_set()


@responders("SyncReturnsAsync")
def test_a_plain_respond_may_return_an_async_iterator(fetch: Fetch) -> None:
    response, body = serve(fetch, "/stream/mixed")
    streamed_as(fetch, response)
    assert body == b"one\ntwo\nthree\n"


@pytest.mark.parametrize("responder", ["CoroutineList", "PlainReturnsCoroutine"])
def test_a_respond_giving_a_coroutine_of_a_list(fetch: Fetch, responder: str) -> None:
    with responders(responder):
        response, body = serve(fetch, "/answer/coroutine")
    assert response.status_code == 201
    assert body == b"made by a coroutine"


@responders("OwnStream")
def test_an_own_streaming_response_is_kept_and_matched_to_the_server(fetch: Fetch) -> None:
    response, body = serve(fetch, "/answer/own")
    streamed_as(fetch, response)
    assert (response.status_code, response["Content-Type"], response["X-Own"]) == (
        203,
        "text/csv",
        "1",
    )
    assert body == b"part 0\npart 1\npart 2\n"


@responders("Text")
def test_text_is_one_plain_response(fetch: Fetch) -> None:
    response, body = serve(fetch, "/answer/text")
    assert not response.streaming
    assert (response.status_code, response["Content-Type"], response["X-Text"]) == (
        202,
        "text/plain; charset=utf-8",
        "yes",
    )
    assert body == b"plain text"


@pytest.mark.django_db
@responders("UsesTheOrm")
def test_plugin_code_may_use_the_orm_and_the_user_under_asgi_too(fetch: Fetch) -> None:
    _response, body = serve(fetch, "/answer/orm")
    assert body == b"groups=0\ngroups=0\n"


# ------------------------------------------------------ who answers


@responders("Chunks", "Everything")
def test_the_first_matching_responder_answers(fetch: Fetch) -> None:
    assert serve(fetch, "/stream/sync")[1] == b"chunk 0\nchunk 1\nchunk 2\n"
    assert serve(fetch, "/anything")[1] == b"everything"


@responders("Chunks")
def test_without_a_match_django_carries_on(fetch: Fetch) -> None:
    response, _body = serve(fetch, "/")
    assert response.status_code == 200
    assert response.json() == {"trace_in": []}  # type: ignore[attr-defined]
    assert fetch("/no-such-page/").status_code == 404


@responders("ResponderHandlesRaises", "Everything")
def test_a_responder_whose_handles_raises_is_skipped(
    fetch: Fetch, caplog: pytest.LogCaptureFixture
) -> None:
    assert serve(fetch, "/x")[1] == b"everything"
    assert (
        "hookpipe: responder 'responder-handles-raises': handles() raised RuntimeError: "
        "handles failed on purpose; taken as False (GET /x, request "
    ) in caplog.text


@pytest.mark.django_db
@responders("Echo")
def test_respond_gets_the_body_and_the_request(fetch: Fetch) -> None:
    response, _body = serve(
        fetch, "/answer/echo", method="post", data=b"payload", content_type="text/plain"
    )
    data = response.json()  # type: ignore[attr-defined]
    assert data["content"] == "payload"
    assert len(data["request_id"]) == 32
    assert data["user"] is None


# ----------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("path", "responder", "error"),
    [
        ("/fail/respond", "RaisesInRespond", "ValueError: respond failed on purpose"),
        ("/fail/first", "RaisesInFirstChunk", "LookupError: first chunk failed on purpose"),
        ("/fail/none", "ReturnsNone", "NotStreamable: responder 'returns-none' returned"),
    ],
)
def test_an_error_before_the_first_chunk_goes_to_the_failsafe(
    fetch: Fetch, caplog: pytest.LogCaptureFixture, path: str, responder: str, error: str
) -> None:
    with responders(responder):
        response, _body = serve(fetch, path)
    assert response.status_code == 500
    [line] = [r.getMessage() for r in caplog.records if r.name == "hookpipe"]
    assert line.startswith(f"responder '{tp.__dict__[responder].name}' raised {error}")
    assert line.endswith(f"(GET {path} -> 500)")


@pytest.mark.parametrize("path", ["/fail/respond", "/fail/first"])
def test_debug_shows_the_responders_own_error(fetch: Fetch, path: str) -> None:
    # The error comes back to MAIN after its except block ended: the failsafe must make
    # it current again, or Django's DEBUG page shows "No exception message supplied".
    with responders("RaisesInRespond", "RaisesInFirstChunk"), override_settings(DEBUG=True):
        response, body = serve(fetch, path, HTTP_ACCEPT="text/html")
    assert response.status_code == 500
    assert b"on purpose" in body
    assert b"No exception message supplied" not in body


@responders("RaisesInRespond")
@override_settings(DEBUG_PROPAGATE_EXCEPTIONS=True)
def test_debug_propagate_exceptions_reraises_the_responders_error(fetch: Fetch) -> None:
    with pytest.raises(ValueError, match="respond failed on purpose"):
        fetch("/fail/respond")


@responders("RaisesInFirstChunk", HOOKS=[{"class": H + "Recorder", "options": {
    "label": "h", "respond_in": ["on_error"], "status": 503}}])  # fmt: skip
def test_an_error_before_the_first_chunk_goes_to_on_error_hooks(fetch: Fetch) -> None:
    response, body = serve(fetch, "/fail/first")
    assert (response.status_code, body) == (503, b"h.on_error")
    [error] = th.events("on_error")
    assert error.view == "tests.testapp.plugins.RaisesInFirstChunk"
    assert error.exc == "LookupError"
    assert th.trace() == ["h.on_route", "h.on_error", "h.after"]


@responders("Chunks", HOOKS=[H + "Recorder"])
def test_after_hooks_see_the_responders_response(fetch: Fetch) -> None:
    response, body = serve(fetch, "/stream/sync")
    assert response["X-After"] == "rec"
    [after] = th.events("after")
    assert (after.view, after.status) == ("tests.testapp.plugins.Chunks", 200)
    assert th.trace() == ["rec.on_route", "rec.after"]  # no before: no view ran
    assert body == b"chunk 0\nchunk 1\nchunk 2\n"


@pytest.mark.parametrize(("path", "name"), [("/fail/mid", "raises-mid-stream"),
                                            ("/fail/amid", "async-raises-mid-stream")])  # fmt: skip
def test_a_mid_stream_error_cuts_the_body_short_and_is_logged(
    fetch: Fetch, caplog: pytest.LogCaptureFixture, path: str, name: str
) -> None:
    with responders("RaisesMidStream", "AsyncRaisesMidStream"):
        response, body = serve(fetch, path)
    assert response.status_code == 200
    assert body in (b"first\n", b"first\nsecond\n")
    assert tp.CLOSED[name].is_set()
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.getMessage().startswith(f"hookpipe: responder {name!r} raised RuntimeError")
    assert "mid-stream after" in record.getMessage()
    assert len(record.request_id) == 32  # type: ignore[attr-defined]


# ------------------------------------------------------ finished callbacks


@responders("Chunks", "Echo", "RaisesMidStream")
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "label"),
    [("/stream/sync", "chunks"), ("/answer/echo", "echo"), ("/fail/mid", "raises-mid-stream")],
)
def test_finished_callbacks_run_after_the_last_byte(fetch: Fetch, path: str, label: str) -> None:
    def nothing_sent_yet(response: HttpResponseBase) -> None:
        if response.streaming:
            assert tp.SEEN["finished"] == []

    serve(fetch, path, between=nothing_sent_yet)
    # Once, after the stream's source was closed.
    assert tp.SEEN["finished"] == [(label, label != "echo")]


@responders("BadCallback")
def test_a_finished_callback_that_raises_is_logged(
    fetch: Fetch, caplog: pytest.LogCaptureFixture
) -> None:
    assert serve(fetch, "/answer/bad-callback")[1] == b"ok"
    assert "raised RuntimeError: callback failed on purpose (GET /answer/bad-callback" in (
        caplog.text
    )
    assert tp.SEEN["finished"] == [("bad-callback", False)]  # the next one still ran


# ------------------------------------------------------------ the body


@responders("Echo")
@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=10)
def test_a_body_over_the_limit_is_refused_before_any_plugin(
    fetch: Fetch, caplog: pytest.LogCaptureFixture
) -> None:
    response, body = serve(
        fetch, "/answer/echo", method="post", data=b"x" * 11, content_type="text/plain"
    )
    assert response.status_code == 413
    assert body == (
        b"Request body too large: 11 bytes; this server accepts at most 10 bytes "
        b"(DATA_UPLOAD_MAX_MEMORY_SIZE).\n"
    )
    assert tp.SEEN["finished"] == []  # Echo never ran
    assert "refused with 413" in caplog.text


@pytest.mark.django_db
@responders("Echo")
@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=10)
def test_a_body_at_the_limit_is_read(fetch: Fetch) -> None:
    response, _body = serve(
        fetch, "/answer/echo", method="post", data=b"x" * 10, content_type="text/plain"
    )
    assert response.json()["content"] == "x" * 10  # type: ignore[attr-defined]


@override_settings(HOOKPIPE={})
def test_without_plugins_main_skips_them(fetch: Fetch) -> None:
    assert get_pipeline().plugins is None
    assert fetch("/").status_code == 200


# --------------------------------------------------------- introspection


@responders("Chunks", "Echo", PLUGINS={"chunks": {"COUNT": 2}})
@pytest.mark.django_db
def test_describe_lists_responders_with_subconfig_and_counters(fetch: Fetch) -> None:
    serve(fetch, "/stream/sync")
    [chunks, echo] = get_pipeline().describe()["responders"]
    assert chunks["name"] == "chunks"
    assert chunks["class"] == "tests.testapp.plugins.Chunks"
    assert chunks["env_prefix"] == "HOOKPIPE_CHUNKS_"
    assert chunks["subconfig"] == {"COUNT": 2, "DELAY": 0.0}
    assert chunks["sources"] == {"COUNT": "settings", "DELAY": "default"}
    assert chunks["counters"]["answered"] >= 1
    assert chunks["async"] is False
    assert echo["counters"]["answered"] == 0


# ------------------------------------------------------------ real servers
# The demo project under gunicorn (gthread) and uvicorn: its clock responder yields ten
# ticks 100 ms apart. Each tick must reach the client when it is made, not at the end.

TICKS = 10
INTERVAL = 0.1


@dataclass(frozen=True)
class Timed:
    status: int
    headers: dict[str, str]
    lines: list[bytes]
    #: Seconds from sending the request to receiving each line.
    at: list[float]
    total: float


def timed_lines(server: live.LiveServer, path: str) -> Timed:
    """GET ``path`` and note when each line of the body arrives."""
    url = urlsplit(server.base_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=live.REQUEST_TIMEOUT)
    try:
        start = time.monotonic()
        conn.request("GET", path)
        with conn.getresponse() as response:
            lines, at = [], []
            while line := response.readline():
                at.append(time.monotonic() - start)
                lines.append(line)
            total = time.monotonic() - start
            headers = {k.lower(): v for k, v in response.getheaders()}
            return Timed(response.status, headers, lines, at, total)
    finally:
        conn.close()


@pytest.fixture(scope="module")
def demo_env(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], Path]:
    tmp_path = tmp_path_factory.mktemp("responders")
    # The pool: these tests start no task worker (tests/test_kill_runs.py does).
    env = live.project_env(tmp_path, DEMO_WEBHOOK_RUNNER="pool")
    live.manage("migrate", "--noinput", env=env)
    return env, tmp_path


@pytest.fixture(scope="module", params=["gunicorn", "uvicorn"])
def server(
    request: pytest.FixtureRequest, demo_env: tuple[dict[str, str], Path]
) -> Iterator[live.LiveServer]:
    env, tmp_path = demo_env
    start = live.gunicorn if request.param == "gunicorn" else live.uvicorn
    with start(env, tmp_path) as running:
        yield running


@pytest.mark.live
@pytest.mark.parametrize("kind", ["async", "sync"])
def test_a_live_stream_arrives_chunk_by_chunk(server: live.LiveServer, kind: str) -> None:
    timed = timed_lines(server, f"/events/clock/?n={TICKS}&interval={INTERVAL}&kind={kind}")
    assert timed.status == 200, server.log()
    assert timed.headers["content-type"] == "application/x-ndjson"
    assert "content-length" not in timed.headers
    assert [json.loads(line)["tick"] for line in timed.lines] == list(range(TICKS))
    # Nine intervals: the whole takes about 0.9 s; the first tick comes at once.
    assert timed.total >= (TICKS - 1) * INTERVAL * 0.9
    assert timed.at[0] < timed.total / 2, timed.at
    assert timed.at[0] < 0.3, timed.at
    # Every tick arrives about when it is made: never all at the end.
    spread = [round(b - a, 3) for a, b in zip(timed.at, timed.at[1:], strict=False)]
    assert max(spread) < 0.5, spread
    assert sum(1 for gap in spread if gap > INTERVAL / 2) >= TICKS - 3, spread


@pytest.mark.live
def test_a_live_feed_streams_stored_events(server: live.LiveServer) -> None:
    posted = server.get(
        "/webhooks/shop/",
        method="POST",
        body=b'{"kind": "order.paid", "order": 42}',
        headers={"Content-Type": "application/json", "X-Webhook-Token": "demo-token"},
    )
    assert posted.status == 202
    rid = posted.json()["request_id"]
    deadline = time.monotonic() + 5
    while True:  # the handler stores it in the background
        lines = [json.loads(x) for x in timed_lines(server, "/events/feed/").lines]
        found = [line for line in lines if line.get("request_id") == rid]
        if found or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert lines[0]["feed"] == "events"
    [event] = found
    assert (event["source"], event["kind"], event["payload"]["order"]) == ("shop", "order.paid", 42)
