"""Retries, dead jobs and replay (DESIGN.md, "Failures and recovery"): a task
handler's failing job runs again with backoff up to its limit; a job out of attempts
is dead, listed with its error by the admin and the command; a replay runs it again
with its request id.

Through real requests to a handler on the database backend, a real ``db_worker`` run
in this process until no job is ready, the command, and the admin with a user who has
(or lacks) the replay permission."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission, User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client, override_settings

from hookpipe.models import DeadJob
from tests.testapp import plugins as tp

P = "tests.testapp.plugins."
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("flaky"),
]
DEAD_URL = "/admin/hookpipe/deadjob/"


@pytest.fixture
def flaky() -> Iterator[None]:
    tp.reset()
    tp.FLAKY_FAILURES[0] = 0
    with override_settings(HOOKPIPE={"HANDLERS": [P + "FlakyTask"]}):
        yield
    tp.reset()


def deliver() -> None:
    response = Client().post("/webhooks/accept", data=b"{}", content_type="a/b")
    assert response.status_code == 202


def run_worker_until_idle(limit: float = 10.0) -> None:
    """Run db_worker batches until no task is READY (retries are deferred 50 ms, 100 ms...)."""
    from django_tasks_db.models import DBTaskResult

    deadline = time.monotonic() + limit
    while DBTaskResult.objects.filter(status="READY").exists():
        assert time.monotonic() < deadline, "tasks still READY"
        call_command(
            "db_worker", "--batch", "--backend", "db", "--queue-name", "*", "--no-startup-delay"
        )
        time.sleep(0.05)


def statuses() -> list[str]:
    from django_tasks_db.models import DBTaskResult

    return sorted(DBTaskResult.objects.values_list("status", flat=True))


def test_a_job_that_fails_twice_then_succeeds_runs_three_times() -> None:
    tp.FLAKY_FAILURES[0] = 2
    deliver()
    run_worker_until_idle()
    runs = tp.SEEN["flaky-task"]
    assert len(runs) == 3
    assert len(set(runs)) == 1  # the same request id on every attempt
    assert statuses() == ["FAILED", "FAILED", "SUCCESSFUL"]
    assert DeadJob.objects.count() == 0


def test_a_job_out_of_attempts_is_dead_listed_and_replayed_with_its_request_id() -> None:
    tp.FLAKY_FAILURES[0] = 3
    deliver()
    run_worker_until_idle()
    assert len(tp.SEEN["flaky-task"]) == 3
    [job] = DeadJob.objects.all()
    assert (job.handler, job.attempts, job.replayed_at) == ("flaky-task", 3, None)
    assert job.error == "RuntimeError: flaky failure 3"
    assert job.request_id == tp.SEEN["flaky-task"][0]

    out = io.StringIO()
    call_command("hookpipe", "--dead", stdout=out)
    assert "1 dead task job:" in out.getvalue()
    assert f"{job.pk:>6}  flaky-task  request {job.request_id}  3 attempts" in out.getvalue()

    out = io.StringIO()
    call_command("hookpipe", "--replay", str(job.pk), stdout=out)
    assert "1 dead job replayed." in out.getvalue()
    run_worker_until_idle()
    assert tp.SEEN["flaky-task"][-1] == job.request_id  # the 4th call succeeds
    assert len(tp.SEEN["flaky-task"]) == 4
    job.refresh_from_db()
    assert job.replayed_at is not None
    assert "(manage.py hookpipe)" in job.replayed_by

    out = io.StringIO()
    call_command("hookpipe", "--replay", "all", stdout=out)  # nothing is dead any more
    assert "0 dead jobs replayed." in out.getvalue()
    call_command("hookpipe", "--dead", stdout=(out := io.StringIO()))
    assert out.getvalue().startswith("No dead task jobs.")


def test_replay_refuses_an_unknown_id() -> None:
    with pytest.raises(CommandError, match="No dead job with id 999"):
        call_command("hookpipe", "--replay", "999")
    with pytest.raises(CommandError, match="dead job ids"):
        call_command("hookpipe", "--replay", "first")


def staff(*perms: str) -> Client:
    user = User.objects.create_user("operator", password="x", is_staff=True)
    for codename in perms:
        user.user_permissions.add(Permission.objects.get(codename=codename))
    client = Client()
    client.force_login(user)
    return client


def test_the_admin_lists_dead_jobs_and_replays_them_with_the_permission() -> None:
    tp.FLAKY_FAILURES[0] = 3
    deliver()
    run_worker_until_idle()
    [job] = DeadJob.objects.all()

    viewer = staff("view_deadjob")
    page = viewer.get(DEAD_URL)
    assert page.status_code == 200
    assert b"RuntimeError: flaky failure 3" in page.content
    assert b"replay_selected" not in page.content  # no permission, no action
    refused = viewer.post(
        DEAD_URL, {"action": "replay_selected", "_selected_action": [job.pk]}, follow=True
    )
    assert refused.status_code == 200
    job.refresh_from_db()
    assert job.replayed_at is None

    User.objects.all().delete()
    operator = staff("view_deadjob", "replay_deadjob")
    assert b"replay_selected" in operator.get(DEAD_URL).content
    done = operator.post(
        DEAD_URL, {"action": "replay_selected", "_selected_action": [job.pk]}, follow=True
    )
    assert b"1 dead job replayed." in done.content
    job.refresh_from_db()
    assert job.replayed_by == "operator (admin)"
    [entry] = LogEntry.objects.filter(object_id=str(job.pk))
    assert entry.get_change_message() == "Replayed as a new task job."
    run_worker_until_idle()
    assert len(tp.SEEN["flaky-task"]) == 4


@override_settings(HOOKPIPE={"HANDLERS": [{"class": P + "FlakyTask", "TASK_MAX_ATTEMPTS": 1}]})
def test_one_attempt_means_no_retry() -> None:
    tp.FLAKY_FAILURES[0] = 1
    deliver()
    run_worker_until_idle()
    assert len(tp.SEEN["flaky-task"]) == 1
    assert DeadJob.objects.get().attempts == 1
