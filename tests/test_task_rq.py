"""The RQ engine (django-tasks-rq) against the real Redis: a task handler's job is
stored on Redis with RQ's Retry (RedeliveringQueue), an rq worker runs it, and a job
abandoned by a dead worker is run again after RQ's cleanup (``--recover-tasks``);
without the queue class, RQ fails it instead. hookpipe's backend (``RQBackend``, used
by every test here) stores the job django-tasks-rq's own stores, field by field. The
kill run is tests/test_kill_runs.py."""

from __future__ import annotations

import contextlib
import json
import os
import time
import zlib
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client, override_settings

from hookpipe.jobs import process_pool as executor
from hookpipe.tasks import RedeliveringQueue, runner
from hookpipe.tasks import rq as task_rq
from tests import live
from tests.services import redis_or_skip
from tests.testapp import plugins as tp

QUEUE = "hookpipe-tests"
RQ_TASKS = {
    **settings.TASKS,
    "rq": {"BACKEND": "hookpipe.tasks.RQBackend", "QUEUES": [QUEUE]},
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


def work(queue: Any, serializer: Any = None) -> None:
    """Run what is queued, in this process (RQ's SimpleWorker: no work horse), reading
    jobs with the queue's serializer unless told otherwise (rqworker's --serializer)."""
    from tests.rq_workers import QuietSimpleWorker

    QuietSimpleWorker(
        [queue],
        connection=queue.connection,
        job_class=queue.job_class,
        serializer=serializer or queue.serializer,
    ).work(burst=True)


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
    # Stored as JSON (which RQ compresses), as the queue's SERIALIZER says: data, not code.
    raw = zlib.decompress(queue.connection.hget(job.key, "data"))
    assert json.loads(raw)[0] == "hookpipe.tasks.worker.run_handler"
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


class Touch:
    """What a pickled job can carry: unpickling it calls ``Path.touch(marker)``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.marker,))


def write_pickled_job(queue: Any, marker: Path) -> str:
    """A job written straight into Redis with RQ's default serializer (pickle), as
    anyone who can write to that Redis could write it."""
    from rq.job import Job

    job = Job.create(
        "hookpipe.tasks.worker.run_handler",
        args=(Touch(marker),),
        connection=queue.connection,
        origin=queue.name,
    )
    job.save()
    queue.connection.rpush(queue.key, job.id)
    return str(job.id)


@pytest.mark.django_db(transaction=True)  # enqueued at once, not on a commit
def test_a_pickled_job_written_into_redis_is_refused_and_a_json_job_runs(
    queue: Any, tmp_path: Path
) -> None:
    marker = tmp_path / "unpickled"
    job_id = write_pickled_job(queue, marker)
    # A real rqworker, started as the docs say (--serializer), with this suite's settings.
    env = {
        **os.environ,
        "PYTHONPATH": str(live.REPO_ROOT),
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "RQ_REDIS_URL": settings.REDIS_URL,
    }
    quiet = ("--worker-class", "tests.rq_workers.QuietWorker")  # no minute-long exit
    live.manage("rqworker", *quiet, "--serializer", live.RQ_SERIALIZER, "--burst", QUEUE, env=env)
    assert not marker.exists()  # the pickle was never loaded: no code ran
    assert job_id in queue.failed_job_registry.get_job_ids()
    # Started without --serializer (RQ's default, pickle), the worker still reads its
    # jobs as hookpipe's JSONJob (RQ["JOB_CLASS"]) does: as JSON.
    job_id = write_pickled_job(queue, marker)
    live.manage("rqworker", *quiet, "--burst", QUEUE, env=env)
    assert not marker.exists()
    assert job_id in queue.failed_job_registry.get_job_ids()
    # The same hand-written job, read by a worker left on RQ's default with
    # django-tasks-rq's own job class: code runs.
    write_pickled_job(queue, marker)
    work(queue, serializer="rq.serializers.DefaultSerializer")
    assert marker.exists()
    # hookpipe's own jobs are JSON, and run.
    deliver(queue)
    work(queue)
    assert len(tp.SEEN["task-recorder"]) == 1


def test_a_pickle_serializer_on_a_task_handlers_rq_queue_is_an_error() -> None:
    from django.core.management import CommandError

    from hookpipe.checks import check_hookpipe

    def messages(serializer: str | None) -> list[Any]:
        entry = {k: v for k, v in settings.RQ_QUEUES[QUEUE].items() if k != "SERIALIZER"}
        if serializer is not None:
            entry["SERIALIZER"] = serializer
        with override_settings(
            TASKS=RQ_TASKS, HOOKPIPE={"HANDLERS": [HANDLER]}, RQ_QUEUES={QUEUE: entry}
        ):
            return list(check_hookpipe(None))

    assert messages("rq.serializers.JSONSerializer") == []
    assert messages("json") == []
    for pickled in (None, "pickle", "rq.serializers.DefaultSerializer"):
        [error] = messages(pickled)
        assert error.id == "hookpipe.E054", pickled
        assert f"RQ queue {QUEUE!r} serializes its jobs with pickle" in error.msg
        assert f"RQ_QUEUES[{QUEUE!r}]" in error.hint
        assert "--serializer rq.serializers.JSONSerializer" in error.hint
    # Django's check framework reports it (manage.py check, runserver, migrate).
    entry = {k: v for k, v in settings.RQ_QUEUES[QUEUE].items() if k != "SERIALIZER"}
    with (
        override_settings(
            TASKS=RQ_TASKS, HOOKPIPE={"HANDLERS": [HANDLER]}, RQ_QUEUES={QUEUE: entry}
        ),
        pytest.raises(CommandError, match=r"hookpipe\.E054"),
    ):
        call_command("check")


def named_connections(name: str) -> list[str]:
    """The ids Redis gives the open connections named ``name`` (``CLIENT LIST``)."""
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        return sorted(str(c["id"]) for c in client.client_list() if c.get("name") == name)
    finally:
        client.close()


@pytest.mark.django_db(transaction=True)  # enqueued at once, not on a commit
def test_enqueues_share_one_redis_connection_per_process_and_a_fork_gets_its_own(
    queue: Any,
) -> None:
    # Every connection made from this queue's settings carries this name, so Redis
    # itself says which connections enqueued.
    name = f"hp-kept-{os.getpid()}-{time.monotonic_ns()}"
    entry = {**settings.RQ_QUEUES[QUEUE], "URL": f"{settings.REDIS_URL}?client_name={name}"}
    with override_settings(RQ_QUEUES={QUEUE: entry}):
        deliver(queue)
        [first] = named_connections(name)
        for _ in range(5):
            Client().post("/webhooks/accept", b"payload", content_type="a/b")
        assert named_connections(name) == [first]  # the same connection, kept
        assert len(queue.get_job_ids()) == 6
        reader, writer = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: enqueues on a connection of its own
            try:
                Client().post("/webhooks/accept", b"payload", content_type="a/b")
                os.write(writer, " ".join(named_connections(name)).encode())
            finally:
                os._exit(0)
        os.close(writer)
        seen_by_child = os.read(reader, 1000).decode().split()
        os.close(reader)
        os.waitpid(pid, 0)
        assert first in seen_by_child
        assert len(seen_by_child) == 2, seen_by_child
        assert len(queue.get_job_ids()) == 7
        deliver_again = Client().post("/webhooks/accept", b"payload", content_type="a/b")
        assert deliver_again.status_code < 400
        assert named_connections(name) == [first]  # the parent's, still in use
        assert len(queue.get_job_ids()) == 8


@pytest.mark.django_db(transaction=True)
def test_hookpipe_s_rq_backend_stores_the_job_django_tasks_rq_stores(queue: Any) -> None:
    from hookpipe.tasks import worker

    both = {
        **RQ_TASKS,
        "plain": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": [QUEUE]},
    }
    snapshot = {"what": "ever"}  # not run: only stored and compared
    with override_settings(TASKS=both):
        results = {
            alias: worker.base_task()
            .using(backend=alias, queue_name=QUEUE)
            .enqueue("task-recorder", "tests.testapp.plugins.TaskRecorder", snapshot)
            for alias in ("rq", "plain")
        }
        jobs = {alias: queue.fetch_job(result.id) for alias, result in results.items()}
        fields = {alias: job.to_dict() for alias, job in jobs.items()}
        for found in fields.values():  # what differs from one job to the next
            for name in ("created_at", "enqueued_at", "last_heartbeat", "started_at"):
                found.pop(name, None)
        fields["plain"]["meta"] = fields["plain"]["meta"].replace(b'"plain"', b'"rq"')
        assert fields["rq"] == fields["plain"]
        assert results["rq"].status == results["plain"].status == "READY"
        assert results["rq"].enqueued_at == jobs["rq"].enqueued_at


@pytest.mark.live
def test_a_job_of_a_killed_rqworker_runs_again_within_seconds_not_rq_s_minute(
    tmp_path: Path,
) -> None:
    """Two ``rqworker`` processes beating every 0.5 s (timeout 2 s); the one whose work
    horse runs the job (3 s of work) SIGKILLed with its horse. The other worker's sweep
    expires the dead one's execution and RQ's cleanup retries the job: stored a few
    seconds after the kill, where RQ's own expiry alone takes 90 s (min(timeout, 30 s)
    + 60 s after the execution's last heartbeat)."""
    import signal

    from tests import kill_runs

    redis_or_skip(kill_runs.REDIS_URL)
    with kill_runs.rq_queue() as queue:
        env = live.project_env(
            tmp_path,
            DEMO_TASK_ENGINE="rq",
            RQ_REDIS_URL=kill_runs.REDIS_URL,
            DEMO_RQ_QUEUE=queue,
            DEMO_HEARTBEAT_EVERY="0.5",
            DEMO_HEARTBEAT_TIMEOUT="2",
            HOOKPIPE_WEBHOOK_STORE_DELAY="3",
            HOOKPIPE_LOG_LEVEL="WARNING",
        )
        live.manage("migrate", "--noinput", env=env)
        with (
            live.gunicorn(env, tmp_path) as server,
            live.rq_worker(env, tmp_path, queue) as one,
            live.rq_worker(env, tmp_path, queue) as two,
        ):
            time.sleep(1)  # both beat
            reply = kill_runs.deliver(server, {"kind": "slow"})
            assert reply.status == 202, reply
            rid = reply.json()["request_id"]
            until = time.monotonic() + 10
            busy: list[tuple[live.LiveServer, list[int]]] = []
            while not busy and time.monotonic() < until:
                busy = [(w, kill_runs._forked(w.pid)) for w in (one, two)]
                busy = [(w, horses) for w, horses in busy if horses]
                time.sleep(0.01)
            assert busy, "no work horse took the job"
            [(victim, horses)] = busy
            time.sleep(0.5)  # the horse is in the handler
            os.killpg(victim.pid, signal.SIGKILL)
            for pid in horses:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            killed = time.monotonic()
            stored = kill_runs._wait_for(server, {rid}, timeout=60)
            took = time.monotonic() - killed
            logs = one.log() + two.log()
    assert stored == [rid], logs
    # Timeout 2 s, a sweep every 0.5 s, the job's 3 s again: 5.5 s; RQ alone: 90 s.
    assert took < 15, (took, logs)


@pytest.mark.django_db(transaction=True)  # enqueued at once, not on a commit
def test_a_resume_stopped_by_a_job_sends_no_job_twice(queue: Any) -> None:
    """Three parked jobs; the second one's backend is gone. The resume sends the first
    to Redis and stops: the first is parked no more, the others stay parked and the
    handler paused. The next resume sends the other two: each job once."""
    from django.core.management.base import CommandError

    from hookpipe.models import ParkedJob, PausedHandler

    call_command("hookpipe", "--pause", "task-recorder", stdout=StringIO())
    for n in range(3):
        Client().post("/webhooks/accept", f"payload {n}".encode(), content_type="a/b")
        work(queue)  # parked
    _first, second, third = ParkedJob.objects.all()
    ParkedJob.objects.filter(pk=second.pk).update(backend="gone")
    with pytest.raises(CommandError, match="1 parked job enqueued again, then one could"):
        call_command("hookpipe", "--resume", "task-recorder", stdout=StringIO())
    assert [job.pk for job in ParkedJob.objects.all()] == [second.pk, third.pk]
    assert len(queue.get_job_ids()) == 1
    assert PausedHandler.objects.exists()
    ParkedJob.objects.filter(pk=second.pk).update(backend="rq")
    call_command("hookpipe", "--resume", "task-recorder", stdout=StringIO())
    assert not ParkedJob.objects.exists()
    work(queue)
    ran = sorted(content for _, content, _ in tp.SEEN["task-recorder"])
    assert ran == [b"payload 0", b"payload 1", b"payload 2"]


@pytest.mark.django_db(transaction=True)  # enqueued at once, not on a commit
def test_a_job_whose_key_rolled_back_after_it_was_sent_is_not_run_beside_its_copy(
    queue: Any,
) -> None:
    """On RQ the job is on Redis before its idempotency key's transaction commits. The
    first copy's transaction rolls back after its job was sent (here a receiver of
    ``task_enqueued`` raises; in the kill run, its web process was SIGKILLed): answered
    503, no key, a job on Redis. The sender's retry claims the key and is stored. The
    worker runs one of the two jobs, the one whose delivery holds the key."""
    from django_tasks.signals import task_enqueued

    def fail_once(**kwargs: Any) -> None:
        task_enqueued.disconnect(fail_once)
        raise RuntimeError("the transaction fails after the job was sent")

    keyed = {**HANDLER, "TASK_IDEMPOTENCY_KEY": "webhook-id"}
    with override_settings(HOOKPIPE={"HANDLERS": [keyed]}):
        task_enqueued.connect(fail_once)
        try:
            first = Client().post(
                "/webhooks/accept", b"first", content_type="a/b", headers={"webhook-id": "w1"}
            )
        finally:
            task_enqueued.disconnect(fail_once)
        assert first.status_code == 503
        again = Client().post(
            "/webhooks/accept", b"again", content_type="a/b", headers={"webhook-id": "w1"}
        )
        assert again.status_code == 202
        assert len(queue.get_job_ids()) == 2  # the first copy's job was sent all the same
        work(queue)
    [(_, content, _)] = tp.SEEN["task-recorder"]
    assert content == b"again"
