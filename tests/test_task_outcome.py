"""A task handler's job and the request's outcome (DESIGN.md, "A 2xx means stored"),
through real requests under WSGI and ASGI: a job is stored only when the request
succeeds and its transaction committed, whichever opened it (``ATOMIC_REQUESTS``,
``TransactionHook``, an atomic tween); a worker then reads the row the view wrote; a
rolled-back request stores nothing; nothing raises from ``on_commit``; the view reads
what became of each job in ``request.hookpipe``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connections, transaction
from django.test import Client, override_settings

from hookpipe.jobs import process_pool as executor
from hookpipe.tasks import runner
from tests.conftest import Fetch
from tests.testapp import plugins as tp
from tests.testapp.models import Delivery

P = "tests.testapp.plugins."

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fresh() -> Iterator[None]:
    tp.reset()
    runner.reset_counters()
    yield
    executor.shutdown(5.0)
    executor.reset_for_tests()
    tp.reset()


@pytest.fixture(params=["ATOMIC_REQUESTS", "TransactionHook", "atomic tween"])
def in_a_transaction(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """The view's writes in a transaction, opened by each of the three ways."""
    way: str = request.param
    config: dict[str, Any] = {"HANDLERS": [P + "DeliveryChecker"]}
    if way == "ATOMIC_REQUESTS":
        monkeypatch.setitem(connections.settings["default"], "ATOMIC_REQUESTS", True)
    elif way == "TransactionHook":
        config["HOOKS"] = ["hookpipe.TransactionHook"]
    else:
        config["TWEENS"] = ["tests.testapp.tweens.atomic"]
    with override_settings(HOOKPIPE=config):
        yield way


def stored_jobs() -> list[Any]:
    from django_tasks_db.models import DBTaskResult

    return list(DBTaskResult.objects.all())


def post_delivery(fetch: Fetch, path: str, key: str) -> Any:
    return fetch(path, method="post", data=b"{}", content_type="a/b", headers={"X-Key": key})


def run_worker() -> None:
    call_command(
        "db_worker", "--batch", "--backend", "db", "--queue-name", "*", "--no-startup-delay"
    )


@pytest.mark.usefixtures("in_a_transaction")
def test_a_committed_request_stores_its_job_and_the_worker_reads_the_views_row(
    fetch: Fetch,
) -> None:
    response = post_delivery(fetch, "/webhooks/store", "d-1")
    assert response.status_code == 202
    assert json.loads(response.content) == {"jobs": {"delivery-checker": "pending"}}
    assert len(stored_jobs()) == 1
    run_worker()
    assert tp.SEEN["delivery-checker"] == [("d-1", True)]  # the row was there


@pytest.mark.usefixtures("in_a_transaction")
def test_a_rolled_back_request_stores_nothing(fetch: Fetch) -> None:
    response = post_delivery(fetch, "/webhooks/store?fail=1", "d-2")
    assert response.status_code == 500
    assert not Delivery.objects.exists()  # the view's row was rolled back ...
    assert stored_jobs() == []  # ... and so was its job
    assert runner.counters().snapshot("delivery-checker")["not_stored"] == 1


@override_settings(HOOKPIPE={"HANDLERS": [P + "TaskRecorder"]})
def test_a_failed_request_without_a_transaction_stores_nothing_either(fetch: Fetch) -> None:
    response = fetch("/webhooks/nowhere", method="post", data=b"x", content_type="a/b")
    assert response.status_code == 404
    assert tp.SEEN["task-recorder"] == []
    counts = runner.counters().snapshot("task-recorder")
    assert (counts["enqueued"], counts["not_stored"]) == (0, 1)


@override_settings(HOOKPIPE={"HANDLERS": [{"class": P + "TaskRecorder", "TASK_STORE_ON": "any"}]})
def test_a_handler_may_ask_to_be_stored_whatever_the_outcome(fetch: Fetch) -> None:
    response = fetch("/webhooks/nowhere", method="post", data=b"x", content_type="a/b")
    assert response.status_code == 404
    assert len(tp.SEEN["task-recorder"]) == 1


@override_settings(HOOKPIPE={"HANDLERS": [{"class": P + "TaskRecorder", "TASK_BACKEND": "gone"}]})
def test_a_failure_after_the_commit_raises_nothing_and_later_callbacks_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    later: list[str] = []
    with transaction.atomic():  # a transaction opened above hookpipe's middleware
        response = Client().post("/webhooks/accept", b"x", content_type="a/b")
        assert response.status_code == 202
        assert json.loads(response.content) == {"jobs": {"task-recorder": "pending"}}
        transaction.on_commit(lambda: later.append("ran"))
    assert later == ["ran"]  # the project's own callback was not dropped
    counts = runner.counters().snapshot("task-recorder")
    assert (counts["enqueue_failed"], counts["enqueued"]) == (1, 0)
    assert "lost: the transaction had committed" in caplog.text


@override_settings(HOOKPIPE={"HANDLERS": [{"class": P + "TaskRecorder", "TASK_BACKEND": "gone"}]})
def test_a_view_that_answered_202_is_overruled_by_503_when_the_job_is_not_stored(
    fetch: Fetch,
) -> None:
    response = fetch("/webhooks/accept", method="post", data=b"x", content_type="a/b")
    assert response.status_code == 503
    assert response["Retry-After"] == str(runner.RETRY_AFTER)


@override_settings(HOOKPIPE={"HANDLERS": [P + "TaskRecorder", P + "Recorder"]})
def test_the_view_reads_what_became_of_each_job(fetch: Fetch) -> None:
    response = fetch("/webhooks/accept", method="post", data=b"x", content_type="a/b")
    assert response.status_code == 202
    assert json.loads(response.content) == {
        "jobs": {"task-recorder": "pending", "recorder": "pool"}
    }
    assert len(tp.SEEN["task-recorder"]) == 1  # stored (and run by the immediate backend)
