"""The body plugins get (hookpipe/plugins/body.py), through real requests: a body over
``DATA_UPLOAD_MAX_MEMORY_SIZE`` is a 413 with or without a Content-Length, ``after``
hooks see it and no plugin is blamed; a chunked body reaches plugins whole under WSGI
and ASGI (or, where the WSGI server cannot say where it ends, is refused with 411).

The test clients cannot send ``Transfer-Encoding: chunked``, so :func:`post_chunked`
builds the request a server would hand Django for one: under WSGI no Content-Length,
``wsgi.input`` ending where the body ends and ``wsgi.input_terminated`` (as gunicorn
does); under ASGI no content-length header. Real servers are in
``test_a_chunked_upload_under_a_real_server``.
"""

from __future__ import annotations

import http.client
import io
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.http import HttpResponseBase
from django.test import AsyncClient, Client, override_settings
from django.test.client import FakePayload

from tests import live
from tests.conftest import Fetch
from tests.testapp import hooks as th
from tests.testapp import plugins as tp

P = "tests.testapp.plugins."
H = "tests.testapp.hooks."
T = "tests.testapp.tweens."
LIMIT = 10


@pytest.fixture(autouse=True)
def _fresh_records() -> Iterator[None]:
    tp.reset()
    th.EVENTS.clear()
    yield
    tp.reset()
    th.EVENTS.clear()


def pipeline(*tweens: str) -> Any:
    """Echo answers /answer/echo with the content it got; a hook records ``after``."""
    return override_settings(
        DATA_UPLOAD_MAX_MEMORY_SIZE=LIMIT,
        HOOKPIPE={
            "TWEENS": [T + t for t in tweens],
            "HOOKS": [H + "Recorder"],
            "RESPONDERS": [P + "Echo"],
        },
    )


def post_chunked(kind: str, path: str, body: bytes, terminated: bool = True) -> HttpResponseBase:
    """POST ``body`` as a server hands Django a chunked request (see the module doc)."""
    if kind == "wsgi":
        environ: dict[str, Any] = {
            "CONTENT_LENGTH": "",
            "HTTP_TRANSFER_ENCODING": "chunked",
            "wsgi.input": io.BytesIO(body),
        }
        if terminated:
            environ["wsgi.input_terminated"] = True
        client = Client(raise_request_exception=False)
        return client.generic("POST", path, b"", "text/plain", **environ)
    aclient = AsyncClient(raise_request_exception=False)
    scope = {
        "method": "POST",
        "path": path,
        "query_string": "",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"text/plain"),
            (b"transfer-encoding", b"chunked"),
        ],
        "_body_file": FakePayload(body),
    }
    return async_to_sync(aclient.request)(**scope)  # type: ignore[no-any-return]


def hookpipe_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "hookpipe"]


def assert_refused_without_blame(response: HttpResponseBase, lines: list[str]) -> None:
    assert response.status_code == 413
    assert b"Request body too large" in response.content  # type: ignore[attr-defined]
    assert any("refused with 413" in line for line in lines), lines
    # The client's body is nobody's fault in the pipeline.
    assert not [line for line in lines if " raised " in line or "tweens." in line], lines


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_over_the_limit_is_a_413_that_after_hooks_see(
    fetch: Fetch, caplog: pytest.LogCaptureFixture, chunked: bool
) -> None:
    body = b"x" * (LIMIT + 1)
    with pipeline("first", "second"), caplog.at_level(logging.WARNING, "hookpipe"):
        if chunked:
            response = post_chunked(fetch.kind, "/answer/echo", body)  # type: ignore[attr-defined]
        else:
            response = fetch("/answer/echo", "post", data=body, content_type="text/plain")
    assert_refused_without_blame(response, hookpipe_lines(caplog))
    assert [e.status for e in th.events("after")] == [413]
    assert tp.SEEN["finished"] == []  # Echo never ran


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_tween_that_reads_a_body_over_the_limit_is_not_blamed(
    fetch: Fetch, caplog: pytest.LogCaptureFixture, chunked: bool
) -> None:
    body = b"x" * (LIMIT + 1)
    with pipeline("first", "reads_body"), caplog.at_level(logging.WARNING, "hookpipe"):
        if chunked:
            response = post_chunked(fetch.kind, "/answer/echo", body)  # type: ignore[attr-defined]
        else:
            response = fetch("/answer/echo", "post", data=body, content_type="text/plain")
    assert_refused_without_blame(response, hookpipe_lines(caplog))


@pytest.mark.django_db
@pytest.mark.parametrize("size", [0, 1, LIMIT])
def test_a_chunked_body_reaches_plugins_whole(fetch: Fetch, size: int) -> None:
    body = b"y" * size
    with pipeline("reads_body"):
        response = post_chunked(fetch.kind, "/answer/echo", body)  # type: ignore[attr-defined]
    assert response.status_code == 200
    assert response.json()["content"] == body.decode()  # type: ignore[attr-defined]


def test_a_chunked_body_the_wsgi_server_cannot_end_is_a_411(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with pipeline(), caplog.at_level(logging.WARNING, "hookpipe"):
        response = post_chunked("wsgi", "/answer/echo", b"data", terminated=False)
    assert response.status_code == 411
    assert tp.SEEN["finished"] == []
    assert [e.status for e in th.events("after")] == [411]
    assert any("refused with 411" in line for line in hookpipe_lines(caplog))


# ------------------------------------------------------------------ real servers


@pytest.fixture(scope="module")
def demo_env(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], Path]:
    tmp_path = tmp_path_factory.mktemp("body")
    # The handler in the pool: it stores a delivery without a task worker running.
    env = live.project_env(tmp_path, DEMO_WORKERS="1", DEMO_WEBHOOK_RUNNER="pool")
    live.manage("migrate", "--noinput", env=env)
    return env, tmp_path


def send_chunked(server: live.LiveServer, path: str, chunks: list[bytes]) -> live.Reply:
    """POST with ``Transfer-Encoding: chunked``, as http.client sends an iterable."""
    url = server.base_url.removeprefix("http://")
    host, port = url.split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=live.REQUEST_TIMEOUT)
    try:
        conn.request(
            "POST",
            path,
            body=iter(chunks),
            headers={"Content-Type": "application/json", "X-Webhook-Token": "demo-token"},
            encode_chunked=True,
        )
        with conn.getresponse() as response:
            return live.Reply(response.status, response.headers, response.read())
    finally:
        conn.close()


def stored_payload(server: live.LiveServer, request_id: str) -> Any:
    """The payload the demo's webhook-store handler stored for ``request_id``."""
    deadline = time.monotonic() + 5
    while True:  # the handler stores it in the pool, after the response
        lines = [json.loads(x) for x in server.get("/events/feed/").text.splitlines()]
        found = [x for x in lines if x.get("request_id") == request_id]
        if found or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    [event] = found
    return event["payload"]


@pytest.fixture(scope="module", params=["gunicorn", "uvicorn"])
def server(
    request: pytest.FixtureRequest, demo_env: tuple[dict[str, str], Path]
) -> Iterator[live.LiveServer]:
    env, tmp_path = demo_env
    start = live.gunicorn if request.param == "gunicorn" else live.uvicorn
    with start(env, tmp_path) as running:
        yield running


@pytest.mark.live
def test_a_chunked_webhook_is_stored_whole(server: live.LiveServer) -> None:
    reply = send_chunked(server, "/webhooks/shop/", [b'{"kind": "chun', b'ked", "order"', b": 7}"])
    assert reply.status == 202, server.log()
    assert stored_payload(server, reply.json()["request_id"]) == {"kind": "chunked", "order": 7}


@pytest.mark.live
def test_a_chunked_body_over_the_limit_is_a_413(server: live.LiveServer) -> None:
    # The demo keeps Django's limit, 2.5 MiB: 40 chunks of 64 KiB; one more is over.
    reply = send_chunked(server, "/webhooks/shop/", [b"x" * 65536] * 41)
    assert reply.status == 413, server.log()
    assert reply.text.startswith("Request body too large")
    log = server.log()
    assert "refused with 413" in log
    assert " raised " not in log


# A plugin that needs no body (NEEDS_CONTENT = False) leaves it to the view, read by
# Django's own rules: a multipart upload's file data goes to the upload handlers and
# does not count against DATA_UPLOAD_MAX_MEMORY_SIZE.

UPLOAD = 5 * LIMIT * 1024  # a file far over the limit below


def upload(fetch: Fetch) -> HttpResponseBase:
    file = io.BytesIO(b"x" * UPLOAD)
    file.name = "report.csv"
    return fetch("/upload/", method="post", data={"report": file})


@override_settings(
    DATA_UPLOAD_MAX_MEMORY_SIZE=LIMIT * 1024, HOOKPIPE={"HANDLERS": [P + "Bodiless"]}
)
def test_an_upload_reaches_the_view_past_plugins_that_need_no_body(fetch: Fetch) -> None:
    response = upload(fetch)
    assert response.status_code == 200
    assert response.json() == {"report": UPLOAD}  # type: ignore[attr-defined]
    assert tp.SEEN["bodiless"] == [b""]  # asked, with no content


@override_settings(
    DATA_UPLOAD_MAX_MEMORY_SIZE=LIMIT * 1024,
    HOOKPIPE={"HANDLERS": [P + "Bodiless", P + "ContentWatcher"]},
)
def test_one_plugin_that_needs_the_body_has_it_read_for_all(fetch: Fetch) -> None:
    response = upload(fetch)
    assert response.status_code == 413  # read in memory, so held against the limit
    assert tp.SEEN["content-watcher"] == []


@override_settings(HOOKPIPE={"HANDLERS": [P + "Bodiless", P + "ContentWatcher"]})
def test_the_body_read_for_one_is_given_to_all(fetch: Fetch) -> None:
    fetch("/webhooks/x", method="post", data=b"abc", content_type="text/plain")
    assert tp.SEEN["bodiless"] == [b"abc"]
    assert tp.SEEN["content-watcher"] == [3]
