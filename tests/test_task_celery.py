"""The Celery engine (django-tasks-fennel) against the real RabbitMQ: a delivery posted
to the demo under gunicorn is run by a real ``celery worker``; a worker SIGKILLed with
the job in hand gives it back (acks late), and another worker runs it; the checks of
the Celery settings hookpipe needs. The kill run is tests/test_kill_runs.py."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from tests import kill_runs, live
from tests.services import amqp_or_skip

#: Seconds of pretend work per job: the kill lands inside it.
DELAY = 4.0


def wait_for_log(worker: live.LiveServer, text: str, timeout: float = 60.0) -> None:
    until = time.monotonic() + timeout
    while text not in worker.log():
        assert time.monotonic() < until, worker.log()
        assert worker.process.poll() is None, worker.log()
        time.sleep(0.05)


@pytest.mark.live
def test_a_delivery_runs_in_a_celery_worker_and_a_killed_workers_job_runs_again(
    tmp_path: Path,
) -> None:
    amqp_or_skip(kill_runs.AMQP_URL)
    with kill_runs.celery_queue() as queue:
        env = live.project_env(
            tmp_path,
            DEMO_TASK_ENGINE="celery",
            CELERY_BROKER_URL=kill_runs.AMQP_URL,
            DEMO_CELERY_QUEUE=queue,
            HOOKPIPE_WEBHOOK_STORE_DELAY=str(DELAY),
            HOOKPIPE_LOG_LEVEL="WARNING",
        )
        live.manage("migrate", "--noinput", env=env)
        with (
            live.gunicorn(env, tmp_path) as web,
            live.celery_worker(env, tmp_path, queue, level="INFO") as first,
        ):
            wait_for_log(first, "ready.")
            reply = web.get(
                "/webhooks/shop/",
                method="POST",
                body=json.dumps({"kind": "celery"}).encode(),
                headers={"Content-Type": "application/json", "X-Webhook-Token": "demo-token"},
            )
            assert reply.status == 202, reply
            rid = reply.json()["request_id"]
            wait_for_log(first, "received")  # the job is in the first worker's hands
            with live.celery_worker(env, tmp_path, queue, level="INFO") as second:
                wait_for_log(second, "ready.")
                assert kill_runs.stored_ids(web) == []  # still in the first one's handler
                # The whole worker, as a lost machine: its main process and its pool.
                os.killpg(first.pid, signal.SIGKILL)
                killed = time.monotonic()
                stored = kill_runs._wait_for(web, {rid}, timeout=60)
                recovered_in = time.monotonic() - killed - DELAY
                assert "received" in second.log(), second.log()
        print(f"Celery: the killed worker's job ran again {recovered_in:.2f} s after the kill")
    assert stored == [rid]  # the handler had not stored it yet: once, no duplicate
    assert recovered_in < 5.0


@pytest.fixture
def celery_conf() -> Iterator[Any]:
    """The Celery app's configuration as a project that follows the docs has it,
    restored afterwards."""
    from celery import current_app

    conf = current_app.conf
    keys = ("task_acks_late", "task_reject_on_worker_lost", "accept_content", "imports")
    saved = {key: conf[key] for key in keys}
    conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        accept_content=["json"],
        imports=["hookpipe.tasks.celery_worker"],
    )
    tasks = {"celery": {"BACKEND": "django_tasks_fennel.CeleryBackend", "QUEUES": ["hooks"]}}
    handler = {
        "class": "tests.testapp.plugins.TaskRecorder",
        "TASK_BACKEND": "celery",
        "TASK_QUEUE_NAME": "hooks",
    }
    with override_settings(TASKS=tasks, HOOKPIPE={"HANDLERS": [handler]}):
        yield conf
    conf.update(saved)


def ids() -> list[str]:
    from hookpipe.checks import check_hookpipe

    return sorted(m.id for m in check_hookpipe(None) if m.id)


def test_celery_settings_that_break_the_promise_are_reported(celery_conf: Any) -> None:
    assert ids() == []
    celery_conf.task_acks_late = False
    assert ids() == ["hookpipe.W053"]
    celery_conf.task_acks_late = True
    celery_conf.task_reject_on_worker_lost = False
    assert ids() == ["hookpipe.W053"]
    celery_conf.task_reject_on_worker_lost = True
    celery_conf.accept_content = ["json", "pickle"]
    assert ids() == ["hookpipe.E055"]
    celery_conf.accept_content = ["json"]
    celery_conf.imports = []
    assert ids() == ["hookpipe.E056"]


def test_a_worker_that_would_not_know_hookpipes_task_stops_manage_py_check(
    celery_conf: Any,
) -> None:
    celery_conf.imports = ["myproject.tasks"]
    with pytest.raises(CommandError, match=r"hookpipe\.E056"):
        call_command("check")
