"""The snapshot a pool handler gets, taken in two halves (issue 12): what the request's
thread must take it takes at once, the rest is made in the pool's thread, and the
result is the same as a snapshot made at once from the live request."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.http import HttpRequest, HttpResponseBase
from django.test import AsyncClient, AsyncRequestFactory, Client, RequestFactory, override_settings
from django.test.utils import CaptureQueriesContext

from hookpipe import RequestSnapshot
from hookpipe.jobs import process_pool
from hookpipe.plugins.snapshot import PendingSnapshot
from tests.conftest import Fetch
from tests.testapp import plugins as tp

P = "tests.testapp.plugins."

AWKWARD = [
    ("/plain/", ""),
    ("/with space/and%20escape", ""),
    ("/ünïcode/路径", "q=ü&x=a b"),
    ("/semi;colon/@/!$&'()*+,=", "a=1&a=2&b=%2F"),
    ("/q", "raw=%E2%9C%93&iri=✓"),
    ("/trailing-no-slash", "empty="),
]


def wsgi_request(path: str, query: str) -> HttpRequest:
    request = RequestFactory().get(path)
    # As a WSGI server hands it over: the bytes read as ISO-8859-1.
    request.META["QUERY_STRING"] = query.encode().decode("iso-8859-1")
    return request


def asgi_request(path: str, query: str) -> HttpRequest:
    request = AsyncRequestFactory().get(path)
    request.META["QUERY_STRING"] = query
    return request


@pytest.mark.parametrize("make", [wsgi_request, asgi_request], ids=["wsgi", "asgi"])
@pytest.mark.parametrize(("path", "query"), AWKWARD)
def test_the_full_path_is_djangos_own(make: object, path: str, query: str) -> None:
    request = make(path, query)  # type: ignore[operator]
    snapshot = PendingSnapshot(request, b"", "rid").get()
    assert snapshot.full_path == request.get_full_path()
    assert snapshot.path == request.path


def test_what_changes_after_the_snapshot_was_taken_is_not_seen() -> None:
    # A later middleware (or the view) may rewrite META, e.g. REMOTE_ADDR behind a proxy;
    # the handler sees the request as it was when the handlers were asked.
    request = RequestFactory().post(
        "/hook?a=1", data=b"{}", content_type="application/json", HTTP_X_SIGNATURE="s1"
    )
    pending = PendingSnapshot(request, b"{}", "rid")
    request.META["REMOTE_ADDR"] = "10.9.9.9"
    request.META["HTTP_X_SIGNATURE"] = "changed"
    request.META["QUERY_STRING"] = "a=2"
    request.path = "/elsewhere"
    snapshot = pending.get()
    assert snapshot.remote_addr == "127.0.0.1"
    assert snapshot.headers["X-Signature"] == "s1"
    assert snapshot.full_path == "/hook?a=1"
    assert snapshot.query == (("a", "1"),)
    assert snapshot.path == "/hook"


def test_it_holds_what_django_says_of_the_live_request() -> None:
    request = RequestFactory().put(
        "/x/ÿ?k=v&k=w", data=b"body", content_type="text/plain", HTTP_ACCEPT="*/*"
    )
    made = PendingSnapshot(request, b"body", "rid").get()
    # Each field against Django's own answer for the live request.
    assert made.method == request.method
    assert made.path == request.path
    assert made.full_path == request.get_full_path()
    assert made.query == tuple((k, v) for k, vs in request.GET.lists() for v in vs)
    assert dict(made.headers) == dict(request.headers)
    assert made.remote_addr == request.META["REMOTE_ADDR"]
    assert made.scheme == request.scheme
    assert (made.content, made.user_id, made.request_id) == (b"body", None, "rid")
    assert RequestSnapshot.from_request(request, b"body", "rid") == made


@pytest.fixture
def made_in(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the threads that made a snapshot, one per snapshot made."""
    threads: list[str] = []
    make = PendingSnapshot._make

    def watched(self: PendingSnapshot) -> RequestSnapshot:
        threads.append(threading.current_thread().name)
        return make(self)

    monkeypatch.setattr(PendingSnapshot, "_make", watched)
    return threads


def test_every_get_gives_the_same_snapshot_even_from_several_threads(
    made_in: list[str],
) -> None:
    pending = PendingSnapshot(RequestFactory().get("/"), b"", "rid")
    start = threading.Barrier(8)
    got: list[RequestSnapshot] = []

    def ask() -> None:
        start.wait()
        got.append(pending.get())

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert len(got) == 8
    assert all(snapshot is got[0] for snapshot in got)
    assert len(made_in) == 1


@pytest.fixture
def _pool() -> Iterator[None]:
    tp.reset()
    process_pool.reset_for_tests()
    yield
    process_pool.shutdown(5)
    process_pool.reset_for_tests()
    tp.reset()


@pytest.mark.usefixtures("_pool")
@override_settings(HOOKPIPE={"HANDLERS": [P + "Recorder"]})
def test_through_a_request_the_pool_thread_makes_the_snapshot(
    fetch: Fetch, made_in: list[str]
) -> None:
    fetch("/webhooks/in?id=7", method="post", data=b"{}", content_type="application/json")
    assert tp.DONE["recorder"].wait(5)
    [(snapshot, _, thread)] = tp.SEEN["recorder"]
    assert made_in == [thread]
    assert thread.startswith("hookpipe-handler")
    assert snapshot.full_path == "/webhooks/in?id=7"


def test_the_header_names_are_djangos() -> None:
    request = RequestFactory().get("/", HTTP_X_HUB_SIGNATURE_256="sha256=1", CONTENT_LENGTH="0")
    snapshot = PendingSnapshot(request, b"", "rid").get()
    assert dict(snapshot.headers) == dict(request.headers)
    assert snapshot.headers["x-hub-signature-256"] == "sha256=1"


# A snapshot never loads what the request has not loaded (issue 20): reading
# request.user for user_id loaded the session, which made every response
# "Vary: Cookie" and cost a logged-in client two queries.


def logged_in(kind: str, django_user_model: Any) -> tuple[Any, Any]:
    """A client of ``kind`` (``"wsgi"``/``"asgi"``) logged in, and its user."""
    account = django_user_model.objects.create_user("someone", "", "pw")
    client = Client()
    client.force_login(account)
    if kind == "wsgi":
        return client, account
    aclient = AsyncClient()
    aclient.cookies = client.cookies
    return aclient, account


def send(client: Any, path: str) -> HttpResponseBase:
    """A webhook-like POST through ``client``."""
    post = client.post
    if isinstance(client, AsyncClient):
        post = async_to_sync(post)
    return post(path, data=b"{}", content_type="application/json")  # type: ignore[no-any-return]


@pytest.mark.django_db
@pytest.mark.usefixtures("_pool")
@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_a_handler_does_not_load_the_session_the_view_did_not_load(
    kind: str, django_user_model: Any
) -> None:
    client, _ = logged_in(kind, django_user_model)
    # /webhooks/accept answers without touching the session or the user.
    with override_settings(HOOKPIPE={}), CaptureQueriesContext(connection) as without:
        plain = send(client, "/webhooks/accept")
    with (
        override_settings(HOOKPIPE={"HANDLERS": [P + "Recorder"]}),
        CaptureQueriesContext(connection) as with_handler,
    ):
        response = send(client, "/webhooks/accept")
        assert tp.DONE["recorder"].wait(5)
    assert (plain.status_code, response.status_code) == (202, 202)
    assert "Vary" not in plain
    assert "Vary" not in response
    assert len(with_handler) == len(without) == 0
    [(snapshot, _, _)] = tp.SEEN["recorder"]
    assert snapshot.user_id is None  # not loaded, so not known


@pytest.mark.django_db
@pytest.mark.usefixtures("_pool")
@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_a_user_the_request_loaded_is_in_the_snapshot(kind: str, django_user_model: Any) -> None:
    client, account = logged_in(kind, django_user_model)
    pipeline = {"TWEENS": ["tests.testapp.tweens.authenticates"], "HANDLERS": [P + "Recorder"]}
    with override_settings(HOOKPIPE=pipeline):
        response = send(client, "/webhooks/accept")
        assert tp.DONE["recorder"].wait(5)
    assert response.status_code == 202
    assert response["Vary"] == "Cookie"  # the tween loaded the session, not hookpipe
    [(snapshot, _, _)] = tp.SEEN["recorder"]
    assert snapshot.user_id == account.pk
