"""The task runner's promise under real servers: gunicorn and two task workers
(``db_worker`` on SQLite and on PostgreSQL, ``rqworker`` on Redis, ``celery worker``
on RabbitMQ), and uvicorn with
two ``db_worker``; one web worker and one task worker killed mid-run; every delivery
answered 2xx is then stored at least once (tests/kill_runs.py), duplicates counted.
And the at-least-once path forced: a duplicate that really happens is reported.

CI runs 150 deliveries per engine; ``python -m tests.kill_runs --deliveries 500``
is the measured run of bench/RESULTS.md.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from tests import kill_runs, live
from tests.services import amqp_or_skip, postgres_or_skip, redis_or_skip

DELIVERIES = 150


@pytest.mark.live
@pytest.mark.parametrize(
    ("db", "engine", "server"),
    [
        ("sqlite", "db", "gunicorn"),
        ("postgres", "db", "gunicorn"),
        # RQ waits for the killed worker's execution to expire (RQ_TIMEOUT + 60 s).
        ("sqlite", "rq", "gunicorn"),
        # Celery, acks late: RabbitMQ requeues a killed worker's job when its
        # connection drops; the other worker runs it at once.
        ("sqlite", "celery", "gunicorn"),
        # uvicorn: SIGTERM of the server, SIGKILL of a task worker.
        ("sqlite", "db", "uvicorn"),
    ],
    ids=["db-sqlite", "db-postgres", "rq-redis", "celery-rabbitmq", "db-sqlite-uvicorn"],
)
def test_no_answered_delivery_is_lost_when_workers_are_killed(
    tmp_path: Path, db: str, engine: str, server: str
) -> None:
    if db == "postgres":
        postgres_or_skip(kill_runs.POSTGRES_URL)
    if engine == "rq":
        redis_or_skip(kill_runs.REDIS_URL)
    if engine == "celery":
        amqp_or_skip(kill_runs.AMQP_URL)
    outcome = kill_runs.run(
        tmp_path, runner="task", db=db, deliveries=DELIVERIES, engine=engine, server=server
    )
    print(outcome.line())  # shown with -s / -rA: the counts, duplicates included
    webhooks = DELIVERIES - outcome.redeliveries  # distinct webhook-ids sent
    if server == "uvicorn":  # stopped at two thirds: the rest is refused, not answered
        assert outcome.answered >= webhooks * 0.6, outcome
    else:
        assert outcome.answered >= webhooks * 0.9, outcome
    assert outcome.lost == 0, outcome
    assert outcome.executed == outcome.answered, outcome
    # Redeliveries: none ran twice. Most are answered as duplicates; the others were
    # stored as the first copy (the first was refused, its web worker killed, or still
    # in flight: then both copies are answered 202 and one is stored).
    assert outcome.ran_twice == 0, outcome
    assert outcome.absorbed >= outcome.redeliveries * 0.3, outcome
    if engine == "rq" and outcome.rq_horse_killed:
        # The kill landed mid-job (on a work horse), and RQ ran that job again. Whether
        # it lands there depends on timing; tests/test_task_rq.py abandons a job for
        # certain and sees RQ run it again.
        assert outcome.recovered >= 1, outcome


@pytest.mark.live
def test_a_worker_killed_after_the_work_runs_it_again_and_the_duplicate_is_counted(
    tmp_path: Path,
) -> None:
    """The at-least-once path, forced: the worker stores the event, then dies before it
    marks the task done (tests/crash_settings.py); the next worker's heart sees the dead
    worker's beat go stale and makes the task READY again, within seconds and without
    any command, so the delivery is stored twice with the same request id, and the
    tally reports it."""
    env = live.project_env(
        tmp_path,
        DEMO_HEARTBEAT_EVERY="0.5",
        DEMO_HEARTBEAT_TIMEOUT="2",
        DEMO_ABANDONED_AFTER="3600",  # recovered by the heartbeat, not the fallback
        HOOKPIPE_LOG_LEVEL="WARNING",
    )
    live.manage("migrate", "--noinput", env=env)
    crashing = {
        **env,
        "DJANGO_SETTINGS_MODULE": "tests.crash_settings",
        "CRASH_MARKER": str(tmp_path / "crashed"),
    }
    worker_args = ("--queue-name", "*", "--interval", "0.1", "--no-startup-delay")
    with live.gunicorn(env, tmp_path) as server:
        reply = kill_runs.deliver(server, {"kind": "at-least-once"})
        assert reply.status == 202, reply
        rid = reply.json()["request_id"]
        with live.db_worker(crashing, tmp_path, *worker_args) as worker:
            worker.process.wait(live.START_TIMEOUT)
            assert worker.process.returncode == -signal.SIGKILL, worker.log()
        killed_at = time.monotonic()
        assert kill_runs.stored_ids(server) == [rid]  # stored once, task still RUNNING
        with live.db_worker(env, tmp_path, *worker_args) as survivor:
            stored = kill_runs._wait_for(server, {rid}, timeout=30, times=2)
            recovered_in = time.monotonic() - killed_at
            assert kill_runs._swept(survivor.log()) == 1, survivor.log()
    executed, duplicates, lost, duplicated = kill_runs.tally({rid}, stored)
    assert (executed, duplicates, lost, duplicated) == (1, 1, 0, {rid: 2})
    # The dead worker's last beat, plus HEARTBEAT_TIMEOUT, plus a sweep and a poll.
    assert recovered_in < 15, recovered_in
