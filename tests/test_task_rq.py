"""The RQ engine (django-tasks-rq) against the real Redis: a task handler's job is
stored on Redis with RQ's Retry (RedeliveringQueue), an rq worker runs it, and a job
abandoned by a dead worker is run again after RQ's cleanup (``--recover-tasks``);
without the queue class, RQ fails it instead. The kill run is tests/test_kill_runs.py."""

from __future__ import annotations

import time
from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client, override_settings

from hookpipe.jobs import process_pool as executor
from hookpipe.tasks import RedeliveringQueue, runner
from hookpipe.tasks import rq as task_rq
from tests.services import redis_or_skip
from tests.testapp import plugins as tp

QUEUE = "hookpipe-tests"
RQ_TASKS = {
    **settings.TASKS,
    "rq": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": [QUEUE]},
}
HANDLER = {
    "class": "tests.testapp.plugins.TaskRecorder",
    "TASK_BACKEND": "rq",
    "TASK_QUEUE_NAME": QUEUE,
}


@pytest.fixture
def queue() -> Iterator[Any]:
    redis_or_skip(settings.REDIS_URL)
    import django_rq
    from django_tasks_rq.backend import Job

    tp.reset()
    executor.reset_for_tests()
    runner.reset_counters()
    with override_settings(TASKS=RQ_TASKS, HOOKPIPE={"HANDLERS": [HANDLER]}):
        q = django_rq.get_queue(QUEUE, job_class=Job)
        # What an interrupted run may have left: jobs queued, or stuck in the
        # intermediate queue of a worker that took them.
        q.empty()
        q.connection.delete(f"{q.key}:intermediate")
        yield q
        q.empty()
        q.connection.delete(f"{q.key}:intermediate")
    executor.shutdown(5.0)


def work(queue: Any) -> None:
    """Run what is queued, in this process (RQ's SimpleWorker: no work horse)."""
    from rq.worker import SimpleWorker

    SimpleWorker([queue], connection=queue.connection, job_class=queue.job_class).work(burst=True)


def deliver(queue: Any) -> Any:
    Client().post("/webhooks/accept", b"payload", content_type="a/b")
    [job_id] = queue.get_job_ids()
    return queue.fetch_job(job_id)


def abandon(queue: Any, job: Any) -> None:
    """Leave ``job`` as a worker SIGKILLed mid-job leaves it: STARTED, in the started
    registry, with an execution whose heartbeat stopped long ago."""
    from rq.job import JobStatus
    from rq.registry import StartedJobRegistry

    queue.remove(job.id)
    job.set_status(JobStatus.STARTED)
    registry = StartedJobRegistry(queue.name, connection=queue.connection)
    queue.connection.zadd(registry.key, {f"{job.id}:dead-execution": time.time() - 120})


@pytest.mark.django_db(transaction=True)  # enqueued at once, not on a commit
def test_a_task_handler_job_is_stored_on_redis_with_retries_and_runs(queue: Any) -> None:
    job = deliver(queue)
    assert job.func_name == "hookpipe.tasks.worker.run_handler"
    assert job.retries_left == RedeliveringQueue.max_retries
    assert runner.counters().snapshot("task-recorder")["enqueued"] == 1
    work(queue)
    [(request, content, _)] = tp.SEEN["task-recorder"]
    assert request.path == "/webhooks/accept"
    assert content == b"payload"
    assert job.get_status(refresh=True) == "finished"


@pytest.mark.django_db(transaction=True)  # enqueued at once, not on a commit
def test_a_paused_handler_s_jobs_are_parked_by_the_rq_worker_and_resumed(queue: Any) -> None:
    from hookpipe.models import ParkedJob

    call_command("hookpipe", "--pause", "task-recorder", stdout=StringIO())
    first = deliver(queue)
    work(queue)
    assert tp.SEEN["task-recorder"] == []
    assert first.get_status(refresh=True) == "finished"  # the task ended: its job is parked
    [parked] = ParkedJob.objects.all()
    assert (parked.backend, parked.queue_name) == ("rq", QUEUE)
    out = StringIO()
    call_command("hookpipe", "--resume", "task-recorder", stdout=out)
    assert "1 parked job enqueued again" in out.getvalue()
    [again] = [queue.fetch_job(job_id) for job_id in queue.get_job_ids()]
    assert again.id != first.id
    work(queue)
    [(request, content, _)] = tp.SEEN["task-recorder"]
    assert request.request_id == parked.request_id
    assert content == b"payload"
    assert not ParkedJob.objects.exists()


@pytest.mark.django_db(transaction=True)  # enqueued at once, not on a commit
def test_a_job_abandoned_by_a_dead_worker_runs_again(queue: Any) -> None:
    job = deliver(queue)
    abandon(queue, job)
    out = StringIO()
    call_command("hookpipe", "--recover-tasks", stdout=out)
    assert "1 abandoned RQ job handed to RQ's cleanup (RQ task backends: rq)" in out.getvalue()
    job.refresh()
    assert job.get_status() == "queued"
    assert job.retries_left == RedeliveringQueue.max_retries - 1
    work(queue)
    assert len(tp.SEEN["task-recorder"]) == 1
    assert task_rq.recover() == 0


@pytest.mark.django_db(transaction=True)  # enqueued at once, not on a commit
def test_a_job_taken_by_a_worker_killed_before_it_started_runs_again(queue: Any) -> None:
    from rq.intermediate_queue import IntermediateQueue

    job = deliver(queue)
    # Where a worker SIGKILLed between taking the job and starting it leaves it: off the
    # queue, in RQ's intermediate queue, not in the started registry.
    stuck = IntermediateQueue(queue.key, connection=queue.connection)
    queue.connection.lmove(queue.key, stuck.key)
    assert queue.get_job_ids() == []
    assert task_rq.recover() == 0  # first seen: RQ waits a minute before it acts
    a_minute_ago = time.time() - 61
    queue.connection.set(stuck.get_first_seen_key(job.id), a_minute_ago)
    assert task_rq.recover() == 1
    assert job.get_status(refresh=True) == "queued"
    work(queue)
    assert len(tp.SEEN["task-recorder"]) == 1


@pytest.mark.django_db(transaction=True)  # enqueued at once, not on a commit
def test_without_the_queue_class_rq_fails_an_abandoned_job(queue: Any) -> None:
    with override_settings(RQ={**settings.RQ, "QUEUE_CLASS": "django_rq.queues.DjangoRQ"}):
        job = deliver(queue)
        assert job.retries_left is None
        abandon(queue, job)
        assert task_rq.recover() == 1
    assert job.get_status(refresh=True) == "failed"
    work(queue)
    assert tp.SEEN["task-recorder"] == []


def test_rq_settings_that_break_the_promise_are_warnings() -> None:
    from hookpipe.checks import check_hookpipe

    def ids(**rq: str) -> list[str]:
        with override_settings(TASKS=RQ_TASKS, HOOKPIPE={"HANDLERS": [HANDLER]}, RQ=rq):
            return sorted(m.id for m in check_hookpipe(None) if m.id)

    good = dict(settings.RQ)
    assert ids(**good) == []
    assert ids(**{**good, "QUEUE_CLASS": "django_rq.queues.DjangoRQ"}) == ["hookpipe.W051"]
    assert ids(QUEUE_CLASS=good["QUEUE_CLASS"]) == ["hookpipe.W052"]
    # The queue class's path before 0.2: an error that names the new one.
    old = "hookpipe.runners.rq_queue.RedeliveringQueue"
    assert "hookpipe.E053" in ids(**{**good, "QUEUE_CLASS": old})
