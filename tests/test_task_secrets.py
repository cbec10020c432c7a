"""Nothing secret at rest (DESIGN.md): a stored task job keeps no cookie, credential,
signature, token or API key of its request, unless its handler names the header; and
a task worker applies the snapshot's size bound again, whoever wrote the job.

Through real requests (WSGI and ASGI) to a handler on the database backend: the row's
stored arguments are read as text, then a real ``db_worker`` runs the job."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from django.core.management import call_command
from django.test import RequestFactory, override_settings

from hookpipe import build_plugin, run_handlers
from tests.conftest import Fetch
from tests.testapp import plugins as tp

P = "tests.testapp.plugins."
pytestmark = pytest.mark.django_db(transaction=True)

SECRETS = {
    "Cookie": "sessionid=SESSION-abc123",
    "Authorization": "Bearer AUTH-tok",
    "X-Hub-Signature-256": "sha256=SIG-deadbeef",
    "X-Api-Key": "APIKEY-42",
    "Proxy-Authorization": "Basic PROXY-cred",
}
KEPT = {"X-Webhook-Token": "KEPT-token", "X-Event": "VISIBLE-push"}


@pytest.fixture(autouse=True)
def _fresh() -> Iterator[None]:
    tp.reset()
    yield
    tp.reset()


def stored_rows() -> list[str]:
    from django_tasks_db.models import DBTaskResult

    return [json.dumps(row.args_kwargs) for row in DBTaskResult.objects.all()]


def run_worker() -> None:
    call_command(
        "db_worker", "--batch", "--backend", "db", "--queue-name", "*", "--no-startup-delay"
    )


@override_settings(HOOKPIPE={"HANDLERS": [P + "StoredTask"]})
def test_a_stored_job_keeps_no_secret_but_what_its_handler_names(fetch: Fetch) -> None:
    response = fetch(
        "/webhooks/accept?access_token=QUERY-secret&page=2",
        method="post",
        data=b'{"n": 1}',
        content_type="application/json",
        headers={**SECRETS, **KEPT},
    )
    assert response.status_code == 202
    [row] = stored_rows()
    for value in [*SECRETS.values(), "QUERY-secret"]:
        assert value.split()[-1].split("=")[-1] not in row
    for value in [*KEPT.values(), "page"]:
        assert value in row
    run_worker()
    [(headers, query)] = tp.SEEN["stored-task"]
    assert headers["X-Webhook-Token"] == "KEPT-token"
    assert headers["X-Event"] == "VISIBLE-push"
    assert not {name.lower() for name in SECRETS} & {name.lower() for name in headers}
    assert query == {"page": "2"}


@override_settings(
    HOOKPIPE={"HANDLERS": [P + "StoredTask"], "TASK_RUNNER": {"MAX_SNAPSHOT_BYTES": 4096}}
)
def test_the_worker_refuses_a_job_over_its_bound(fetch: Fetch) -> None:
    from django_tasks_db.models import DBTaskResult

    # Stored by a web process with a larger bound (a deploy that changed it, or a job
    # written into the store by something else): the worker's own bound holds.
    with override_settings(
        HOOKPIPE={"HANDLERS": [P + "StoredTask"], "TASK_RUNNER": {"MAX_SNAPSHOT_BYTES": 10**6}}
    ):
        response = fetch("/webhooks/accept", method="post", data=b"x" * 8000, content_type="a/b")
    assert response.status_code == 202
    run_worker()
    assert tp.SEEN["stored-task"] == []
    [row] = DBTaskResult.objects.all()
    assert row.status == "FAILED"
    assert "over this worker's HOOKPIPE['TASK_RUNNER']['MAX_SNAPSHOT_BYTES'] (4096)" in (
        row.traceback
    )


def test_the_test_helper_gives_a_task_handler_what_its_worker_would_get() -> None:
    request = RequestFactory().post(
        "/webhooks/accept", data=b"{}", content_type="a/b", headers={**SECRETS, **KEPT}
    )
    with override_settings(HOOKPIPE={"HANDLERS": [P + "StoredTask"]}):
        jobs = run_handlers(request, [build_plugin(tp.StoredTask)])
    [job] = list(jobs)
    names = {name.lower() for name, _ in job.request.headers.items()}
    assert "x-webhook-token" in names
    assert not {name.lower() for name in SECRETS} & names
