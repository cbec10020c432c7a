"""A resume that runs while a task worker parks a job of the paused handler, on
PostgreSQL (hookpipe/tasks/pause.py): the job is either seen by the resume or run by its
worker, never both and never neither.

Real processes on a fresh PostgreSQL database (tests/process_settings.py): deliveries
through Django's test client, ``manage.py hookpipe --pause/--resume`` and
``manage.py db_worker``. The interleaving is forced where a resume could miss the job
for good: a trigger holds one side's transaction open (it waits on an advisory lock
the test holds) while the other side runs.

- The resume held after it has lifted the pause and read the parked jobs (as it
  deletes them): a worker parks a job meanwhile. With the lock, the worker waits for
  the resume to commit, finds no pause, and runs the job.
- The worker held as it commits the parked job (a deferred trigger): a resume starts
  meanwhile. With the lock, the resume waits for the worker to commit, then finds the
  job and enqueues it again.

Without the lock (park_if_paused reading the pause row plainly), both leave the job
parked with no pause left to resume.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from tests import kill_runs, live
from tests.services import postgres_or_skip
from tests.test_cluster import wait_for

NAME = "logged-task"
BATCH = ("db_worker", "--batch", "--backend", "db", "--queue-name", "*", "--no-startup-delay")
RESUME = ("hookpipe", "--resume", NAME)
#: The advisory lock the triggers wait on while the test holds it.
HOLD = 7_001
HOLDING = f"""
CREATE FUNCTION hold() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock({HOLD});
    RETURN OLD;
END $$;
"""
#: Which side is held, and where: the trigger; which command is held and which runs
#: meanwhile; how many parked jobs the resume finds (A; A and B).
HELD = {
    "resume": (
        "CREATE TRIGGER held BEFORE DELETE ON hookpipe_parkedjob"
        " FOR EACH ROW EXECUTE FUNCTION hold()",
        RESUME,
        BATCH,
        "1 parked job",
    ),
    "worker": (
        "CREATE CONSTRAINT TRIGGER held AFTER INSERT ON hookpipe_parkedjob"
        " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION hold()",
        BATCH,
        RESUME,
        "2 parked jobs",
    ),
}
#: Backends of the test's database waiting for a lock: the advisory lock (the side
#: held by the trigger), or another transaction (a side waiting for the pause row).
WAITING = """
SELECT count(*) FROM pg_stat_activity
WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = %s
"""


def deliver(env: dict[str, str], *bodies: str) -> None:
    """POST each body to /webhooks/accept through Django's test client, in a process
    on the test's database."""
    script = (
        "from django.test import Client\n"
        f"for body in {bodies!r}:\n"
        "    r = Client().post('/webhooks/accept', body, content_type='text/plain')\n"
        "    assert r.status_code == 202, (r.status_code, r.content)\n"
    )
    live.manage("shell", "-c", script, env=env)


def start(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    """``manage.py <args>``, running."""
    return subprocess.Popen(
        [sys.executable, str(live.REPO_ROOT / "manage.py"), *args],
        cwd=live.REPO_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finished(process: subprocess.Popen[str]) -> tuple[int, str]:
    """Its exit status and output, once it has exited (killed after 30 s)."""
    try:
        out, _ = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        out, _ = process.communicate()
    return process.returncode, out


@pytest.mark.parametrize("held", sorted(HELD))
def test_a_job_parked_while_a_resume_runs_is_seen_by_it_or_run_by_its_worker_once(
    tmp_path: Path, held: str
) -> None:
    postgres_or_skip(kill_runs.POSTGRES_URL)
    trigger, first, meanwhile, found = HELD[held]
    log = tmp_path / "runs.log"
    with kill_runs.database("postgres") as url, psycopg.connect(url, autocommit=True) as db:
        assert url is not None
        env = live.project_env(
            tmp_path,
            "tests.process_settings",
            DATABASE_URL=url,
            HOOKPIPE_TEST_HANDLER="LoggedTask",
            HOOKPIPE_TEST_LOG=str(log),
        )
        live.manage("migrate", "--noinput", env=env)

        def waiting(event: str) -> int:
            row = db.execute(WAITING, (event,)).fetchone()
            assert row is not None
            return int(row[0])

        live.manage("hookpipe", "--pause", NAME, env=env)
        deliver(env, "A")
        live.manage(*BATCH, env=env)  # parks A
        deliver(env, "B")  # stored, READY: the worker below parks it
        db.execute(HOLDING)
        db.execute(trigger)

        db.execute("SELECT pg_advisory_lock(%s)", (HOLD,))
        one = start(env, *first)
        other: subprocess.Popen[str] | None = None
        try:
            wait_for(lambda: waiting("advisory") == 1, timeout=10)  # held by the trigger
            other = started = start(env, *meanwhile)
            # It waits for the pause row the held side locked or, with no lock, ends.
            wait_for(
                lambda: started.poll() is not None or waiting("transactionid") == 1, timeout=10
            )
        finally:
            db.execute("SELECT pg_advisory_unlock(%s)", (HOLD,))
            outputs = [finished(one), finished(other) if other else (0, "")]
        assert [status for status, _ in outputs] == [0, 0], outputs
        resumed = outputs[first != RESUME][1]
        assert f"Task handler {NAME!r} resumed; {found} enqueued again." in resumed, outputs
        live.manage(*BATCH, env=env)  # runs what the resume enqueued again
        [[parked, paused]] = db.execute(
            "SELECT (SELECT count(*) FROM hookpipe_parkedjob),"
            " (SELECT count(*) FROM hookpipe_pausedhandler)"
        ).fetchall()
    runs = sorted(log.read_text().splitlines()) if log.exists() else []
    assert (runs, parked, paused) == (["ran A", "ran B"], 0, 0)
