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
from django.core.checks import run_checks
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
    keys = (
        "task_acks_late",
        "task_reject_on_worker_lost",
        "accept_content",
        "imports",
        "broker_url",
    )
    saved = {key: conf[key] for key in keys}
    conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        accept_content=["json"],
        imports=["hookpipe.tasks.celery_worker"],
        broker_url="amqp://guest:guest@127.0.0.1:5672//",
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


def retry_warnings(backoff: float, attempts: int, **task_runner: Any) -> list[str]:
    """The W054 messages of ``manage.py check`` for the fixture's handler retried
    ``attempts`` times in all, ``backoff`` seconds first, with ``task_runner``."""
    handler = {
        "class": "tests.testapp.plugins.TaskRecorder",
        "TASK_BACKEND": "celery",
        "TASK_QUEUE_NAME": "hooks",
        "TASK_RETRY_BACKOFF": backoff,
        "TASK_MAX_ATTEMPTS": attempts,
    }
    with override_settings(HOOKPIPE={"HANDLERS": [handler], "TASK_RUNNER": task_runner}):
        return [m.msg for m in run_checks() if m.id == "hookpipe.W054"]


def test_a_retry_that_would_wait_past_rabbitmqs_consumer_timeout_is_reported(
    celery_conf: Any,
) -> None:
    # Waits of 600, 1200 and 2400 s: the last one is past RabbitMQ's default 1800 s.
    (message,) = retry_warnings(600, 4)
    assert "last retry waits 2400 s" in message
    assert "consumer timeout (1800 s)" in message
    assert retry_warnings(600, 3) == []  # 600 and 1200 s
    assert retry_warnings(3600, 1) == []  # no retry at all
    # The project declares the timeout its broker enforces, or that it enforces none.
    assert retry_warnings(600, 4, CONSUMER_TIMEOUT=3600) == []
    assert len(retry_warnings(600, 4, CONSUMER_TIMEOUT=600)) == 1
    assert retry_warnings(600, 4, CONSUMER_TIMEOUT=None) == []


def test_a_long_retry_is_not_reported_when_celerys_broker_is_not_rabbitmq(
    celery_conf: Any,
) -> None:
    celery_conf.broker_url = "redis://127.0.0.1:6379/7"
    assert retry_warnings(600, 4) == []
    celery_conf.broker_url = "pyamqp://guest@127.0.0.1//;redis://127.0.0.1:6379/7"
    assert len(retry_warnings(600, 4)) == 1
