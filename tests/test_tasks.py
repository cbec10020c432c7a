"""Handlers that run as tasks, through real requests (WSGI and ASGI): the snapshot
crosses as JSON and comes back equal, the worker rebuilds the handler by name from its
own settings, refusals (413, 503) are counted, enqueueing waits for the commit, stale
tasks on the database backend are recovered, and the checks."""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from hookpipe import RequestSnapshot
from hookpipe.checks import check_hookpipe
from hookpipe.jobs import process_pool as executor
from hookpipe.plugins import snapshot as wire
from hookpipe.plugins.snapshot import Headers
from hookpipe.tasks import recovery, runner
from hookpipe.tasks import worker as job
from tests.conftest import Fetch
from tests.testapp import plugins as tp

P = "tests.testapp.plugins."


@pytest.fixture(autouse=True)
def _fresh() -> Iterator[None]:
    tp.reset()
    executor.reset_for_tests()
    runner.reset_counters()
    yield
    executor.shutdown(5.0)
    executor.reset_for_tests()
    tp.reset()


def ids(messages: list[Any]) -> list[str]:
    return [m.id for m in messages]


# ------------------------------------------------------------------ wire


def snapshot(content: bytes = b"\x00\xff body", **changes: Any) -> RequestSnapshot:
    values: dict[str, Any] = {
        "method": "POST",
        "path": "/webhooks/in",
        "full_path": "/webhooks/in?a=1&a=2",
        "query": (("a", "1"), ("a", "2")),
        "headers": Headers([("Content-Type", "application/octet-stream"), ("X-A", "b")]),
        "content": content,
        "remote_addr": "127.0.0.1",
        "scheme": "http",
        "user_id": 7,
        "request_id": "abc",
        **changes,
    }
    return RequestSnapshot(**values)


def test_the_wire_form_is_json_and_gives_the_snapshot_back() -> None:
    original = snapshot()
    form, size = runner.dumps(original, 10_000)
    text = json.dumps(form)
    assert size <= len(text)
    assert form["v"] == wire.WIRE_VERSION
    assert RequestSnapshot.from_wire(json.loads(text)) == original


def test_a_user_id_json_cannot_hold_travels_as_text() -> None:
    import uuid

    uid = uuid.UUID(int=5)
    assert RequestSnapshot.from_wire(snapshot(user_id=uid).to_wire()).user_id == str(uid)


def test_over_the_bound_is_refused_not_truncated() -> None:
    with pytest.raises(runner.SnapshotTooLarge) as raised:
        runner.dumps(snapshot(content=b"x" * 3000), 2000)
    assert raised.value.limit == 2000
    assert raised.value.size > 4000  # base64 of 3000 bytes, and the rest


@pytest.mark.parametrize(
    "bad",
    [[], {"v": 99}, {"v": 1, "method": "GET"}, {**snapshot().to_wire(), "content_b64": "%"}],
    ids=["not-an-object", "unknown-version", "missing-fields", "bad-base64"],
)
def test_an_unreadable_wire_form_is_a_clear_error(bad: Any) -> None:
    with pytest.raises(wire.WireError):
        RequestSnapshot.from_wire(bad)


# ------------------------------------------------------------- requests
# transaction=True: outside a transaction, as a request without ATOMIC_REQUESTS is, so
# the runner enqueues at once rather than on a commit that the test's own never makes.


def task_handlers(*entries: Any, **extra: Any) -> Any:
    return override_settings(
        HOOKPIPE={"HANDLERS": [P + e if isinstance(e, str) else e for e in entries], **extra}
    )


@pytest.mark.django_db(transaction=True)
@task_handlers("TaskRecorder", PLUGINS={"task-recorder": {"TOKEN": "s3cret"}})
def test_a_task_handler_runs_with_the_snapshot_and_its_own_config(fetch: Fetch) -> None:
    response = fetch("/webhooks/accept?x=1", method="post", data=b"\x01\x02", content_type="a/b")
    assert response.status_code == 202
    [(request, content, token)] = tp.SEEN["task-recorder"]
    assert isinstance(request, RequestSnapshot)
    assert (request.method, request.full_path) == ("POST", "/webhooks/accept?x=1")
    assert content == b"\x01\x02"
    assert request.headers["Content-Type"] == "a/b"
    assert len(request.request_id) == 32
    assert token == "s3cret"  # resolved by the worker, not carried in the task
    assert runner.counters().snapshot("task-recorder")["enqueued"] == 1


@pytest.mark.django_db(transaction=True)
@task_handlers({"class": P + "Recorder", "RUNNER": "task"})
def test_a_settings_entry_makes_a_pool_handler_a_task(fetch: Fetch) -> None:
    fetch("/webhooks/accept", method="post", data=b"x", content_type="text/plain")
    [(request, _, thread)] = tp.SEEN["recorder"]
    assert isinstance(request, RequestSnapshot)
    assert not thread.startswith("hookpipe-handler")  # not the pool: the immediate backend
    assert executor.counters().snapshot("recorder")["submitted"] == 0


@pytest.mark.django_db(transaction=True)
@task_handlers("FailingTask")
def test_a_failing_task_is_logged_with_the_handler_name(
    fetch: Fetch, caplog: pytest.LogCaptureFixture
) -> None:
    response = fetch("/webhooks/accept", method="post", data=b"x", content_type="text/plain")
    assert response.status_code == 202
    assert "handler 'failing-task' raised RuntimeError: the task handler broke" in caplog.text


@pytest.mark.django_db(transaction=True)
@task_handlers("TaskRecorder", TASK_RUNNER={"MAX_SNAPSHOT_BYTES": 1000})
def test_a_snapshot_over_the_bound_is_answered_413_and_counted(
    fetch: Fetch, caplog: pytest.LogCaptureFixture
) -> None:
    response = fetch("/webhooks/in", method="post", data=b"x" * 2000, content_type="a/b")
    assert response.status_code == 413
    assert b"task-recorder" in response.content
    assert tp.SEEN["task-recorder"] == []
    assert runner.counters().snapshot("task-recorder")["too_large"] == 1
    assert "MAX_SNAPSHOT_BYTES" in caplog.text


def broken_backend() -> Any:
    # Not in TASKS: enqueueing raises the framework's own "invalid backend" error,
    # as a backend that cannot reach its database or broker would raise.
    return task_handlers({"class": P + "TaskRecorder", "TASK_BACKEND": "gone"})


@pytest.mark.django_db(transaction=True)
@broken_backend()
def test_when_enqueueing_fails_the_default_policy_answers_503(
    fetch: Fetch, caplog: pytest.LogCaptureFixture
) -> None:
    response = fetch("/webhooks/accept", method="post", data=b"x", content_type="a/b")
    assert response.status_code == 503
    assert response["Retry-After"] == str(runner.RETRY_AFTER)
    counts = runner.counters().snapshot("task-recorder")
    assert (counts["enqueue_failed"], counts["enqueued"]) == (1, 0)
    assert "answering 503" in caplog.text


@pytest.mark.django_db(transaction=True)
@task_handlers(
    {"class": P + "TaskRecorder", "TASK_BACKEND": "gone"}, TASK_RUNNER={"ON_ENQUEUE_ERROR": "pool"}
)
def test_when_enqueueing_fails_the_pool_policy_runs_it_here(fetch: Fetch) -> None:
    response = fetch("/webhooks/accept", method="post", data=b"x", content_type="a/b")
    assert response.status_code == 202
    assert tp.DONE["task-recorder"].wait(5.0)
    counts = runner.counters().snapshot("task-recorder")
    assert (counts["enqueue_failed"], counts["fell_back"]) == (1, 1)
    assert executor.counters().snapshot("task-recorder")["submitted"] == 1


@pytest.mark.django_db(transaction=True)
@task_handlers({"class": P + "TaskRecorder", "TASK_BACKEND": "db"})
def test_inside_a_transaction_the_job_is_stored_on_commit() -> None:
    from django.test import Client
    from django_tasks_db.models import DBTaskResult

    with transaction.atomic():
        Client().post("/webhooks/accept", b"x", content_type="a/b")
        assert not DBTaskResult.objects.exists()
    [stored] = DBTaskResult.objects.all()
    assert stored.task_path == job.TASK_PATH == f"{job.__name__}.run_handler"
    assert stored.queue_name == "default"
    name, class_path, form = stored.args_kwargs["args"]
    assert (name, class_path) == ("task-recorder", P + "TaskRecorder")
    assert "TOKEN" not in json.dumps(stored.args_kwargs)  # no subconfig travels
    assert RequestSnapshot.from_wire(form).content == b"x"
    with transaction.atomic():
        Client().post("/webhooks/accept", b"y", content_type="a/b")
        transaction.set_rollback(True)
    assert DBTaskResult.objects.count() == 1  # rolled back: never enqueued


# ------------------------------------------------------------ the worker


@pytest.mark.django_db
@task_handlers("TaskRecorder")
@pytest.mark.django_db
def test_a_task_for_an_unknown_handler_fails_with_a_clear_message() -> None:
    from hookpipe.models import DeadJob

    form = snapshot().to_wire()
    with pytest.raises(job.HandlerUnavailable, match="'nobody' is not in this worker"):
        job.base_task().call(None, "nobody", P + "TaskRecorder", form)
    with pytest.raises(job.HandlerUnavailable, match=r"enqueued by tests\.Other"):
        job.base_task().call(None, "task-recorder", "tests.Other", form)
    assert tp.SEEN["task-recorder"] == []
    # No retry can help either: both are dead at once, to replay after a deploy.
    assert sorted(DeadJob.objects.values_list("handler", "attempts")) == [
        ("nobody", 1),
        ("task-recorder", 1),
    ]


@pytest.mark.django_db(transaction=True)
@task_handlers(
    {"class": P + "TaskRecorder", "TASK_BACKEND": "db"}, TASK_RUNNER={"ABANDONED_AFTER": 30}
)
def test_stale_running_tasks_are_made_ready_again() -> None:
    from django.test import Client
    from django_tasks_db.models import DBTaskResult

    for _ in range(3):
        Client().post("/webhooks/accept", b"x", content_type="a/b")
    old, fresh, done = DBTaskResult.objects.all()
    long_ago = timezone.now() - datetime.timedelta(seconds=60)
    for result, status, started in (
        (old, "RUNNING", long_ago),
        (fresh, "RUNNING", timezone.now()),
        (done, "SUCCESSFUL", long_ago),
    ):
        DBTaskResult.objects.filter(pk=result.pk).update(status=status, started_at=started)
    view = recovery.status_counts("db")
    assert view["by_status"] == {"RUNNING": 2, "SUCCESSFUL": 1}
    assert view["stale_running"] == 1
    out = StringIO()
    call_command("hookpipe", "--recover-tasks", stdout=out)
    assert "1 task" in out.getvalue()
    assert DBTaskResult.objects.get(pk=old.pk).status == "READY"
    assert DBTaskResult.objects.get(pk=fresh.pk).status == "RUNNING"
    assert recovery.recover() == 0


@pytest.mark.django_db(transaction=True)
@task_handlers(
    {"class": P + "TaskRecorder", "TASK_BACKEND": "db"},
    TASK_RUNNER={"HEARTBEAT_TIMEOUT": 30, "ABANDONED_AFTER": 600},
)
def test_a_running_task_is_taken_from_its_worker_only_when_the_worker_stopped_beating() -> None:
    from django.test import Client
    from django_tasks_db.models import DBTaskResult

    from hookpipe.models import TaskWorker

    now = timezone.now()
    hours_ago = now - datetime.timedelta(hours=2)
    for worker_id, beat_at in (("alive", now), ("dead", now - datetime.timedelta(seconds=31))):
        TaskWorker.objects.create(
            worker_id=worker_id,
            backend="db",
            host="h",
            pid=1,
            started_at=hours_ago,
            beat_at=beat_at,
        )
    for _ in range(4):
        Client().post("/webhooks/accept", b"x", content_type="a/b")
    long_job, lost_job, unbeating_young, unbeating_old = DBTaskResult.objects.order_by(
        "enqueued_at"
    )
    for result, workers, started in (
        (long_job, ["alive"], hours_ago),  # runs for two hours on a live worker
        (lost_job, ["earlier", "dead"], now),  # its worker's last beat is 31 s old
        (unbeating_young, ["no-heart"], now - datetime.timedelta(seconds=500)),
        (unbeating_old, ["no-heart"], now - datetime.timedelta(seconds=700)),
    ):
        DBTaskResult.objects.filter(pk=result.pk).update(
            status="RUNNING", started_at=started, worker_ids=workers
        )
    view = recovery.status_counts("db")
    assert (view["stale_running"], view["live_workers"]) == (2, 1)
    assert [(w["worker_id"], w["alive"]) for w in view["workers"]] == [
        ("alive", True),
        ("dead", False),
    ]
    assert recovery.recover() == 2
    status = dict(DBTaskResult.objects.values_list("pk", "status"))
    assert (status[long_job.pk], status[unbeating_young.pk]) == ("RUNNING", "RUNNING")
    assert (status[lost_job.pk], status[unbeating_old.pk]) == ("READY", "READY")
    assert recovery.recover() == 0


@pytest.mark.parametrize(("every", "timeout"), [(10, 10), (10, 5), (0, 30), (10, "30")])
def test_bad_heartbeat_settings_are_check_errors(every: Any, timeout: Any) -> None:
    with override_settings(
        HOOKPIPE={"TASK_RUNNER": {"HEARTBEAT_EVERY": every, "HEARTBEAT_TIMEOUT": timeout}}
    ):
        messages = [e.msg for e in check_hookpipe()]
    assert any("HEARTBEAT_" in m for m in messages), messages


# ---------------------------------------------------------- introspection


@pytest.mark.django_db(transaction=True)
@task_handlers({"class": P + "TaskRecorder", "TASK_BACKEND": "db", "TASK_QUEUE_NAME": "hooks"})
def test_the_command_shows_runner_backend_queue_and_counts() -> None:
    from django.test import Client

    Client().post("/webhooks/accept", b"x", content_type="a/b")
    out = StringIO()
    call_command("hookpipe", "--json", stdout=out)
    [handler] = json.loads(out.getvalue())["handlers"]
    assert handler["runner"] == "task"
    task = handler["task"]
    assert (task["backend"], task["queue_name"]) == ("db", "hooks")
    assert task["counters"]["enqueued"] == 1
    assert task["backend_view"]["by_status"] == {"READY": 1}
    text = StringIO()
    call_command("hookpipe", stdout=text)
    assert "backend_view" in text.getvalue() or "task backend" in text.getvalue()


# ------------------------------------------------------------------ checks


@task_handlers({"class": P + "TaskRecorder", "TASK_BACKEND": "nope"})
def test_a_backend_alias_not_in_tasks_is_an_error() -> None:
    assert "hookpipe.E051" in ids(check_hookpipe())


@override_settings(SILENCED_SYSTEM_CHECKS=[])
@task_handlers("TaskRecorder")
def test_a_backend_that_stores_nothing_is_a_warning() -> None:
    assert "hookpipe.W050" in ids(check_hookpipe())


@pytest.mark.parametrize(
    "entry",
    [
        {"class": P + "TaskRecorder", "RUNNER": "elsewhere"},
        {"class": P + "TaskRecorder", "TASK_PRIORITY": 1000},
        {"class": P + "TaskRecorder", "queue": "hooks"},
        {"class": P + "TaskRecorder", "TASK_BACKEND": ""},
    ],
    ids=["runner", "priority", "unknown-key", "empty-backend"],
)
def test_bad_runner_settings_are_errors(entry: dict[str, Any]) -> None:
    with task_handlers(entry):
        assert "hookpipe.E050" in ids(check_hookpipe())


@task_handlers({"class": P + "TaskRecorder", "queue_name": "hooks"})
def test_an_entry_key_of_the_old_spelling_names_the_new_one() -> None:
    [message] = [m for m in check_hookpipe() if m.id == "hookpipe.E050"]
    assert "'queue_name'" in message.msg
    assert message.hint is not None
    assert 'write "TASK_QUEUE_NAME", as on the class' in message.hint


def test_without_the_task_framework_a_task_handler_is_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from hookpipe.tasks import backends as compat

    monkeypatch.setattr(compat, "SOURCE", None)
    with task_handlers("TaskRecorder"):
        assert "hookpipe.E052" in ids(check_hookpipe())


@task_handlers("TaskRecorder", TASK_RUNNER={"ON_ENQUEUE_ERROR": "drop", "ABANDONED_AFTER": 0})
def test_bad_task_runner_settings_are_errors() -> None:
    assert ids(check_hookpipe()).count("hookpipe.E009") == 2


@pytest.mark.parametrize(
    ("old", "new"), [("STALE_AFTER", "ABANDONED_AFTER"), ("RECOVER_EVERY", "HEARTBEAT_EVERY")]
)
def test_a_renamed_key_is_an_error_that_names_the_new_spelling(old: str, new: str) -> None:
    with task_handlers("TaskRecorder", TASK_RUNNER={old: 30}):
        [message] = [m for m in check_hookpipe() if m.id == "hookpipe.E002"]
    assert f"'{old}'" in message.msg
    assert message.hint == f'It was renamed: write "{new}" (see "Upgrading" in the CHANGELOG).'


@pytest.mark.django_db(transaction=True)
@task_handlers({"class": P + "TaskRecorder", "TASK_BACKEND": "db", "TASK_QUEUE_NAME": "hooks"})
def test_the_admin_page_shows_runner_backend_queue_and_the_backends_view(
    django_user_model: Any,
) -> None:
    from django.test import Client

    Client().post("/webhooks/accept", b"x", content_type="a/b")
    admin = Client()
    admin.force_login(django_user_model.objects.create_superuser("ops", "", "pw"))
    html = admin.get("/admin/hookpipe/pipeline/").content.decode()
    # The handler's section as a reader sees it: tags dropped, white space collapsed.
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html[html.index("task-recorder") :]))
    for shown in (
        "runner task",
        "backend db",
        "queue_name hooks",
        # The counters' tables: the handler's (enqueued first), the backend's (READY first).
        "task-recorder 1 0 0 0 0 0",
        "db/ hooks 1 0 0 0 0",
    ):
        assert shown in text, shown
