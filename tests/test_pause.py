"""Pause and resume a task handler (DESIGN.md, "Operators"): while it is paused its
deliveries are stored and answered as usual, task workers park its jobs instead of
running them, and a resume runs each parked job once, oldest first, with its request id
and its idempotency key; switching a task handler off says first that it drops its
deliveries.

Through real requests (WSGI and ASGI) to a handler on the database backend, a real
``db_worker`` run in this process until no job is ready, the command, the admin with a
user who has (or lacks) ``hookpipe.change_pipeline``, and the metrics view."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from html import unescape
from typing import Any

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Permission, User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client, override_settings

from hookpipe.models import DeliveryKey, ParkedJob, PausedHandler
from tests.conftest import Fetch
from tests.test_retries import run_worker_until_idle, statuses
from tests.testapp import plugins as tp

P = "tests.testapp.plugins."
URL = "/admin/hookpipe/pipeline/"
PAUSE_URL = URL + "pause/"
NAME = "flaky-task"
PIPELINE = {
    "HANDLERS": [
        {"class": P + "FlakyTask", "TASK_IDEMPOTENCY_KEY": "webhook-id"},
        P + "Recorder",
    ],
    "METRICS": {"BEARER_TOKEN": "scraper"},
}

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("pipeline")]


@pytest.fixture
def pipeline() -> Iterator[None]:
    tp.reset()
    tp.FLAKY_FAILURES[0] = 0
    with override_settings(HOOKPIPE=PIPELINE):
        yield
    tp.reset()


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("hookpipe", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def deliver(fetch: Fetch, key: str) -> dict[str, Any]:
    response = fetch(
        "/webhooks/accept",
        method="post",
        data=b"{}",
        content_type="a/b",
        headers={"webhook-id": key},
    )
    assert response.status_code == 202
    jobs: dict[str, Any] = json.loads(response.content)["jobs"]
    return jobs


def parked_keys() -> list[str]:
    """The webhook-id of each parked job, in the order a resume enqueues them."""
    return [dict(job.snapshot["headers"])["Webhook-Id"] for job in ParkedJob.objects.all()]


# ----------------------------------------------------------------- behaviour


def test_paused_deliveries_are_stored_not_run_and_a_resume_runs_each_once_in_order(
    fetch: Fetch,
) -> None:
    out, _ = run("--pause", NAME)
    assert f"Task handler {NAME!r} paused" in out
    # Answered as any stored delivery: the view cannot tell a pause from a busy worker.
    assert [deliver(fetch, key)[NAME] for key in ("d1", "d2", "d3")] == ["pending"] * 3
    run_worker_until_idle()
    assert tp.SEEN[NAME] == []  # the worker ran nothing
    assert statuses() == ["SUCCESSFUL"] * 3  # the tasks ended: their jobs are parked
    assert parked_keys() == ["d1", "d2", "d3"]
    # The keys are stored with the jobs: a copy of d1 is still a duplicate.
    assert deliver(fetch, "d1")[NAME] == "duplicate"
    assert ParkedJob.objects.count() == 3

    out, _ = run("--resume", NAME)
    assert f"Task handler {NAME!r} resumed; 3 parked jobs enqueued again." in out
    request_ids = list(ParkedJob.objects.values_list("request_id", flat=True))
    assert request_ids == []  # deleted with the resume
    run_worker_until_idle()
    assert len(tp.SEEN[NAME]) == 3
    assert len(set(tp.SEEN[NAME])) == 3
    assert DeliveryKey.objects.filter(handler=NAME).count() == 3
    run_worker_until_idle()
    assert len(tp.SEEN[NAME]) == 3  # each once
    assert not PausedHandler.objects.exists()
    # Resumed, the handler runs its new deliveries at once.
    deliver(fetch, "d4")
    run_worker_until_idle()
    assert len(tp.SEEN[NAME]) == 4


def test_a_resume_runs_the_jobs_with_their_request_ids_in_arrival_order() -> None:
    run("--pause", NAME)
    for key in ("a", "b", "c", "d"):
        response = Client().post(
            "/webhooks/accept", data=b"{}", content_type="a/b", headers={"webhook-id": key}
        )
        assert response.status_code == 202
    run_worker_until_idle()
    parked = list(ParkedJob.objects.values_list("request_id", flat=True))
    assert parked_keys() == ["a", "b", "c", "d"]
    run("--resume", NAME)
    run_worker_until_idle()
    assert tp.SEEN[NAME] == parked  # in order, each with its own request id


def test_jobs_stored_before_the_pause_are_parked_when_a_worker_reaches_them() -> None:
    Client().post("/webhooks/accept", data=b"{}", content_type="a/b", headers={"webhook-id": "x"})
    run("--pause", NAME)  # the job waits on the backend: no worker took it yet
    run_worker_until_idle()
    assert tp.SEEN[NAME] == []
    assert parked_keys() == ["x"]
    run("--resume", NAME)
    run_worker_until_idle()
    assert len(tp.SEEN[NAME]) == 1


def test_a_parked_retry_resumes_as_the_attempt_it_was() -> None:
    tp.FLAKY_FAILURES[0] = 1
    Client().post("/webhooks/accept", data=b"{}", content_type="a/b", headers={"webhook-id": "r"})
    call_command("db_worker", "--batch", "--backend", "db", "--queue-name", "*")
    assert len(tp.SEEN[NAME]) == 1  # attempt 1 failed; attempt 2 waits on the backend
    run("--pause", NAME)
    run_worker_until_idle()
    [job] = ParkedJob.objects.all()
    assert job.attempt == 2
    run("--resume", NAME)
    run_worker_until_idle()
    assert len(tp.SEEN[NAME]) == 2
    assert len(set(tp.SEEN[NAME])) == 1  # the same request id


def test_a_resume_that_cannot_enqueue_a_job_leaves_the_handler_paused() -> None:
    run("--pause", NAME)
    Client().post("/webhooks/accept", data=b"{}", content_type="a/b", headers={"webhook-id": "g"})
    run_worker_until_idle()
    ParkedJob.objects.update(backend="gone")  # as if its backend alias had been removed
    with pytest.raises(CommandError, match=f"Task handler {NAME!r} stays paused: a parked job"):
        run("--resume", NAME)
    assert PausedHandler.objects.exists()
    assert ParkedJob.objects.count() == 1
    client = staff("view_pipeline", "change_pipeline")
    done = client.post(PAUSE_URL, {"name": NAME, "action": "resume"}, follow=True)
    assert f"{NAME!r} stays paused: its parked jobs could not be enqueued" in unescape(
        done.content.decode()
    )
    assert PausedHandler.objects.exists()
    assert not LogEntry.objects.exists()


# ------------------------------------------------------------------ command


def test_the_command_pauses_once_and_resumes_once() -> None:
    run("--pause", NAME)
    row = PausedHandler.objects.get()
    assert "(manage.py hookpipe)" in row.paused_by
    out, _ = run("--pause", NAME)
    assert "is already paused; nothing changed." in out
    out, _ = run("--resume", NAME)
    assert "resumed; 0 parked jobs enqueued again." in out
    out, _ = run("--resume", NAME)
    assert f"Task handler {NAME!r} was not paused; 0 parked jobs enqueued again." in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--pause", "flaky-tsak"),
            "No configured task handler is named 'flaky-tsak'. Did you "
            "mean 'flaky-task'? Task handlers: flaky-task.",
        ),
        (
            ("--resume", "nope"),
            "No configured task handler is named 'nope'. Task handlers: flaky-task.",
        ),
        (("--pause", "recorder"), "'recorder' is not a task handler (RUNNER = 'task')"),
    ],
)
def test_the_command_refuses_what_is_not_a_task_handler(
    args: tuple[str, str], message: str
) -> None:
    with pytest.raises(CommandError) as caught:
        run(*args)
    assert message in str(caught.value)
    assert not PausedHandler.objects.exists()


def test_the_command_shows_a_paused_handler_in_text_and_json() -> None:
    out, _ = run()
    assert "Paused task handlers" not in out  # nothing paused: nothing said
    run("--pause", NAME)
    Client().post("/webhooks/accept", data=b"{}", content_type="a/b", headers={"webhook-id": "j"})
    run_worker_until_idle()
    out, _ = run()
    assert "Paused task handlers (deliveries stored, not run; resume: --resume NAME):" in out
    assert f"  {NAME}: paused by " in out
    assert "; 1 parked job" in out
    [flaky, recorder] = json.loads(run("--json")[0])["handlers"]
    assert flaky["task"]["pause"]["paused"] is True
    assert flaky["task"]["pause"]["parked"] == 1
    assert "(manage.py hookpipe)" in flaky["task"]["pause"]["paused_by"]
    assert "task" not in recorder


def test_disabling_a_task_handler_warns_that_it_drops_deliveries() -> None:
    out, err = run("--disable", NAME)
    assert f"handler {NAME!r} disabled" in out
    assert "Switched off, a task handler drops its deliveries" in err
    assert "manage.py hookpipe --pause NAME" in err
    _, err = run("--disable", "recorder")  # a pool handler has nothing stored to lose
    assert err == ""
    run("--enable", NAME)


# -------------------------------------------------------------------- admin


def staff(*codenames: str) -> Client:
    user = User.objects.create_user(f"u{User.objects.count()}", password="x", is_staff=True)
    for codename in codenames:
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label="hookpipe", codename=codename)
        )
    client = Client()
    client.force_login(user)
    return client


def pause_row(html: str) -> str:
    row = html[html.index(f'data-pause="{NAME}"') :]
    return row[: row.index("</tr>")]


def test_the_admin_pauses_and_resumes_with_change_pipeline() -> None:
    client = staff("view_pipeline", "change_pipeline")
    assert 'value="pause"' in pause_row(client.get(URL).content.decode())
    response = client.post(PAUSE_URL, {"name": NAME, "action": "pause"})
    assert response.status_code == 302
    assert response["Location"] == URL + "#hp-pauses"
    row = PausedHandler.objects.get()
    assert row.paused_by == "u0 (admin)"
    [entry] = LogEntry.objects.all()
    assert entry.action_flag == CHANGE
    assert entry.get_change_message() == f"Paused the task handler {NAME!r}."

    Client().post("/webhooks/accept", data=b"{}", content_type="a/b", headers={"webhook-id": "1"})
    run_worker_until_idle()
    html = unescape(client.get(URL).content.decode())
    assert f"Paused the task handler {NAME!r}" in html  # the message after the redirect
    mine = pause_row(html)
    assert "paused</span>" in mine
    assert 'data-counter="parked">1<' in mine
    assert "by <strong>u0 (admin)</strong>" in mine
    assert 'value="resume"' in mine
    # The task handlers' counters say it too.
    counters = html[html.index('data-counters="handler:task"') :]
    flaky = counters[counters.index(f'data-row="{NAME}"') :]
    flaky = flaky[: flaky.index("</tr>")]
    assert 'data-counter="paused">paused<' in flaky
    assert 'data-counter="parked">1<' in flaky

    done = client.post(PAUSE_URL, {"name": NAME, "action": "resume"}, follow=True)
    assert f"Resumed the task handler {NAME!r}: 1 parked job enqueued again." in unescape(
        done.content.decode()
    )
    resumed = LogEntry.objects.order_by("pk").last()
    assert resumed is not None
    assert resumed.object_id == str(row.pk)
    assert resumed.get_change_message() == (
        f"Resumed the task handler {NAME!r}: 1 parked job enqueued again."
    )
    run_worker_until_idle()
    assert len(tp.SEEN[NAME]) == 1
    assert 'value="pause"' in pause_row(client.get(URL).content.decode())


def test_the_admin_shows_pauses_but_refuses_them_without_change_pipeline() -> None:
    client = staff("view_pipeline")
    html = client.get(URL).content.decode()
    assert "running" in pause_row(html)
    assert 'value="pause"' not in html
    assert "You may look but not pause" in html
    assert client.post(PAUSE_URL, {"name": NAME, "action": "pause"}).status_code == 403
    assert not PausedHandler.objects.exists()
    assert not LogEntry.objects.exists()


def test_the_admin_pause_sends_anonymous_users_to_the_login_page() -> None:
    response = Client().post(PAUSE_URL, {"name": NAME, "action": "pause"})
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert staff("change_pipeline").get(PAUSE_URL).status_code == 405  # POST only


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"name": "flaky", "action": "pause"},
            "No configured task handler is named 'flaky'. Did you mean 'flaky-task'?",
        ),
        ({"name": "recorder", "action": "pause"}, "'recorder' is not a task handler"),
        ({"name": NAME, "action": "stop"}, "action must be 'pause' or 'resume'."),
    ],
)
def test_the_admin_pause_refuses_bad_requests(data: dict[str, str], message: str) -> None:
    response = staff("view_pipeline", "change_pipeline").post(PAUSE_URL, data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not PausedHandler.objects.exists()


def test_the_admin_warns_that_a_task_handler_switched_off_drops_deliveries() -> None:
    client = staff("view_pipeline", "change_pipeline")
    html = client.get(URL).content.decode()
    switches = html[html.index('id="hp-switches"') :]
    flaky = switches[switches.index(f'data-switch="{NAME}"') :]
    assert "drops its deliveries" in flaky[: flaky.index("</tr>")]
    recorder = switches[switches.index('data-switch="recorder"') :]
    assert "drops its deliveries" not in recorder[: recorder.index("</tr>")]
    done = client.post(URL + "switch/", {"name": NAME, "action": "disable"}, follow=True)
    assert "Switched off, a task handler drops its deliveries" in done.content.decode()


# ------------------------------------------------------------------ metrics


def test_the_metrics_say_which_task_handlers_are_paused() -> None:
    from prometheus_client.parser import text_string_to_metric_families

    def samples() -> dict[tuple[str, str], float]:
        body = Client().get("/metrics/", headers={"Authorization": "Bearer scraper"})
        return {
            (s.name, s.labels["handler"]): s.value
            for family in text_string_to_metric_families(body.content.decode())
            for s in family.samples
            if "handler" in s.labels
        }

    assert samples() == {
        ("hookpipe_task_handler_paused", NAME): 0,
        ("hookpipe_task_handler_parked_jobs", NAME): 0,
    }
    run("--pause", NAME)
    for key in ("m1", "m2"):
        Client().post(
            "/webhooks/accept", data=b"{}", content_type="a/b", headers={"webhook-id": key}
        )
    run_worker_until_idle()
    assert samples() == {
        ("hookpipe_task_handler_paused", NAME): 1,
        ("hookpipe_task_handler_parked_jobs", NAME): 2,
    }
