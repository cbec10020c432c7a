"""A task worker's row of TaskWorker outlives a child the worker forks
(hookpipe/tasks/heartbeat.py): the child inherits the heart's exit handler, but only
the process that beat for the row deletes it as it exits.

Real processes on a SQLite file (tests/process_settings.py): a request through Django's
test client stores a job of ``forking-task`` (tests/testapp/plugins.py); a real
``db_worker`` runs it, and the job forks a child that ends as a process normally ends,
running its exit handlers, then waits for it. The test reads the worker's row before
the fork and after the child's exit: the same row (had the child deleted it, the
worker's next beat would have made a new one), which goes on beating, and which the
worker deletes when SIGTERM stops it cleanly.
"""

from __future__ import annotations

import contextlib
import signal
import sqlite3
from pathlib import Path

from tests import live
from tests.test_cluster import wait_for
from tests.test_pause_race import deliver

Row = tuple[int, int, str]


def test_a_forked_child_s_exit_leaves_the_worker_s_row_which_the_worker_deletes_at_its_own(
    tmp_path: Path,
) -> None:
    log = tmp_path / "fork.log"
    env = live.project_env(
        tmp_path,
        "tests.process_settings",
        HOOKPIPE_TEST_HANDLER="ForkingTask",
        HOOKPIPE_TEST_LOG=str(log),
    )
    live.manage("migrate", "--noinput", env=env)

    def rows() -> list[Row]:
        """The rows of TaskWorker: (id, pid, beat_at)."""
        with contextlib.closing(sqlite3.connect(tmp_path / "db.sqlite3", timeout=5)) as db:
            return db.execute("SELECT id, pid, beat_at FROM hookpipe_taskworker").fetchall()

    def logged() -> list[str]:
        return log.read_text().splitlines() if log.exists() else []

    args = ("--backend", "db", "--queue-name", "*", "--interval", "0.1", "--no-startup-delay")
    with live.db_worker(env, tmp_path, *args) as worker:
        deliver(env, "fork")
        # The job started (the worker beat as it took it) and waits for the go-ahead.
        wait_for(lambda: logged() == [f"started {worker.pid}"], timeout=10)
        [(row_id, pid, _)] = rows()
        assert pid == worker.pid
        Path(f"{log}.go").touch()
        wait_for(lambda: len(logged()) == 3, timeout=10)
        _, ran, exited = logged()
        child = int(ran.split()[1])
        assert (ran, exited) == (
            f"child {child} ran its exit handlers",
            f"child {child} exited 0",
        )
        assert child != worker.pid
        after = rows()
        # Not deleted, nor deleted and made again by a beat since.
        assert [(i, pid) for i, pid, _ in after] == [(row_id, worker.pid)], after
        # Still beating (every 0.3 s), into the same row.
        wait_for(lambda: [b > after[0][2] for _, _, b in rows()] == [True], timeout=5)
        assert [i for i, _, _ in rows()] == [row_id]
        worker.process.send_signal(signal.SIGTERM)
        assert worker.process.wait(live.STOP_TIMEOUT) == 0, worker.log()
    assert rows() == []  # stopped cleanly: the worker deleted its row
