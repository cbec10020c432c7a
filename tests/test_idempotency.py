"""Idempotency keys (DESIGN.md, "Idempotency keys"): a task handler's delivery whose key
is stored already is neither stored nor run again, also when two copies arrive at
once; the view learns it from ``request.hookpipe``; a job that could not be stored
leaves no key behind.

Through real requests (WSGI and ASGI); the race through two real threads, each with
its own client and database connection: the first copy is held in the view, past the
handler's check, while the second is stored."""

from __future__ import annotations

import datetime
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connections
from django.test import Client, override_settings

from hookpipe.checks import check_hookpipe
from hookpipe.models import DeliveryKey
from hookpipe.tasks import runner
from tests.conftest import Fetch
from tests.testapp import plugins as tp
from tests.testapp import views

P = "tests.testapp.plugins."
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fresh() -> Iterator[None]:
    tp.reset()
    runner.reset_counters()
    yield
    tp.reset()


def keyed(*entries: Any, **extra: Any) -> Any:
    return override_settings(HOOKPIPE={"HANDLERS": list(entries) or [P + "KeyedTask"], **extra})


def deliver(fetch: Fetch, msg_id: str | None, path: str = "/webhooks/accept") -> Any:
    headers = {} if msg_id is None else {"webhook-id": msg_id}
    return fetch(path, method="post", data=b"{}", content_type="a/b", headers=headers)


def jobs(response: Any) -> dict[str, str]:
    return json.loads(response.content)["jobs"]  # type: ignore[no-any-return]


def runs() -> int:
    return len(tp.SEEN["keyed-task"])


@keyed()
def test_a_redelivery_is_neither_stored_nor_run_again(fetch: Fetch) -> None:
    first = deliver(fetch, "msg_1")
    again = deliver(fetch, "msg_1")
    other = deliver(fetch, "msg_2")
    assert jobs(first) == {"keyed-task": "pending"}
    assert jobs(again) == {"keyed-task": "duplicate"}
    assert jobs(other) == {"keyed-task": "pending"}
    assert runs() == 2  # the immediate backend runs each stored job at once
    counts = runner.counters().snapshot("keyed-task")
    assert (counts["enqueued"], counts["duplicates"]) == (2, 1)
    assert sorted(DeliveryKey.objects.values_list("key", flat=True)) == ["msg_1", "msg_2"]


@keyed()
def test_a_delivery_without_the_header_is_stored_every_time(fetch: Fetch) -> None:
    deliver(fetch, None)
    deliver(fetch, None)
    assert runs() == 2
    assert DeliveryKey.objects.count() == 0


@keyed(P + "BodyKeyedTask")
def test_a_key_from_the_body_dedupes_on_the_database_engine(fetch: Fetch) -> None:
    from django_tasks_db.models import DBTaskResult

    for body in (b'{"id": "evt_1", "n": 1}', b'{"id": "evt_1", "n": 2}', b'{"id": "evt_2"}'):
        response = fetch("/webhooks/accept", method="post", data=body, content_type="a/b")
        assert response.status_code == 202
    assert DBTaskResult.objects.count() == 2
    call_command(
        "db_worker", "--batch", "--backend", "db", "--queue-name", "*", "--no-startup-delay"
    )
    assert tp.SEEN["body-keyed-task"] == [b'{"id": "evt_1", "n": 1}', b'{"id": "evt_2"}']


@keyed()
def test_two_copies_in_flight_at_once_are_stored_once() -> None:
    # The first copy passes the handler's check (its key is not stored yet) and waits in
    # the view, unanswered. The second copy, from another thread, passes the same check,
    # is answered and stored. Then the first is answered: its key is taken by now.
    views.ENTERED.clear()
    views.RELEASE.clear()
    answers: dict[str, Any] = {}

    def send(name: str, *extra: tuple[str, str]) -> None:
        client = Client(raise_request_exception=False)
        headers = {"webhook-id": "msg_race", **dict(extra)}
        answers[name] = client.post(
            "/webhooks/held", data=b"{}", content_type="a/b", headers=headers
        )

    def send_and_hold() -> None:
        try:
            send("held", ("X-Hold", "1"))
        finally:
            # Django ignores close() on an in-memory SQLite database (the last connection
            # would take the database with it); this thread's own connection is closed
            # here, as the main thread's keeps the database alive.
            if (raw := connections["default"].connection) is not None:
                raw.close()

    held = threading.Thread(target=send_and_hold)
    held.start()
    try:
        assert views.ENTERED.wait(10)  # past the handler's check, in the view
        send("second")
    finally:
        views.RELEASE.set()
        held.join(30)
    assert jobs(answers["held"]) == jobs(answers["second"]) == {"keyed-task": "pending"}
    assert answers["held"].status_code == answers["second"].status_code == 202
    assert runs() == 1
    counts = runner.counters().snapshot("keyed-task")
    assert (counts["enqueued"], counts["duplicates"]) == (1, 1)
    assert DeliveryKey.objects.count() == 1


@keyed(TASK_RUNNER={"IDEMPOTENCY_KEEP": 3600})
def test_a_key_is_kept_for_its_time_then_taken_over(fetch: Fetch) -> None:
    deliver(fetch, "msg_old")
    DeliveryKey.objects.update(stored_at=datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC))
    again = deliver(fetch, "msg_old")
    assert jobs(again) == {"keyed-task": "pending"}
    assert runs() == 2
    assert DeliveryKey.objects.get().stored_at.year > 2020


@keyed({"class": P + "KeyedTask", "TASK_BACKEND": "gone"})
def test_a_job_that_could_not_be_stored_leaves_no_key(fetch: Fetch) -> None:
    refused = deliver(fetch, "msg_503")
    assert refused.status_code == 503
    assert DeliveryKey.objects.count() == 0
    with keyed():
        retried = deliver(fetch, "msg_503")
    assert jobs(retried) == {"keyed-task": "pending"}
    assert runs() == 1


@pytest.mark.parametrize("value", [42, "", ["webhook-id"]])
def test_a_bad_key_header_is_a_check_error(value: Any) -> None:
    with keyed({"class": P + "KeyedTask", "TASK_IDEMPOTENCY_KEY": value}):
        errors = [e for e in check_hookpipe() if e.id == "hookpipe.E050"]
    assert len(errors) == 1
    assert "TASK_IDEMPOTENCY_KEY must be a header name or None" in errors[0].msg
