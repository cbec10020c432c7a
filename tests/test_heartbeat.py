"""Heartbeats of task workers (docs/durable.rst, "When a task worker dies"), through
real processes: the demo under gunicorn, ``db_worker`` processes on its SQLite file.

A job on a worker that beats is never taken from it, however long it runs (here
longer than both HEARTBEAT_TIMEOUT and the no-heartbeat fallback ABANDONED_AFTER); the
workers that beat are seen, alive, by ``manage.py hookpipe --json``; a worker that stops
cleanly is gone from that list. The killed worker's job coming back within seconds is
tests/test_kill_runs.py's crash test.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests import kill_runs, live

WORKER_ARGS = ("--queue-name", "*", "--interval", "0.1", "--no-startup-delay")


def backlog(env: dict[str, str]) -> dict[str, Any]:
    """The task backend's view of ``webhook-store`` from ``manage.py hookpipe --json``."""
    data = json.loads(live.manage("hookpipe", "--json", env=env).stdout)
    [store] = [h for h in data["handlers"] if h["name"] == "webhook-store"]
    return store["task"]["backend_view"]  # type: ignore[no-any-return]


@pytest.mark.live
def test_a_job_longer_than_every_timeout_runs_once_on_a_live_worker(tmp_path: Path) -> None:
    env = live.project_env(
        tmp_path,
        DEMO_HEARTBEAT_EVERY="0.5",
        DEMO_HEARTBEAT_TIMEOUT="2",
        DEMO_ABANDONED_AFTER="1",
        DEMO_RECOVER_EVERY="1",
        HOOKPIPE_WEBHOOK_STORE_DELAY="6",
        HOOKPIPE_LOG_LEVEL="WARNING",
    )
    live.manage("migrate", "--noinput", env=env)
    with live.gunicorn(env, tmp_path) as server:
        with (
            live.db_worker(env, tmp_path, *WORKER_ARGS) as one,
            live.db_worker(env, tmp_path, *WORKER_ARGS) as two,
        ):
            reply = kill_runs.deliver(server, {"kind": "slow"})
            assert reply.status == 202, reply
            rid = reply.json()["request_id"]
            time.sleep(3)  # the job runs, past HEARTBEAT_TIMEOUT and ABANDONED_AFTER
            running = backlog(env)
            assert running["by_status"] == {"RUNNING": 1}
            assert running["stale_running"] == 0
            stored = kill_runs._wait_for(server, {rid}, timeout=20)
            time.sleep(2)  # a second run, if there were one, would be under way
            done = backlog(env)
            logs = one.log() + two.log()
        stopped = backlog(env)
        assert kill_runs.stored_ids(server) == stored == [rid], logs
    assert kill_runs._swept(logs) == 0, logs
    assert done["by_status"] == {"SUCCESSFUL": 1}
    # The worker that ran the job beats; the other has run nothing, so it only sweeps.
    assert done["live_workers"] == 1, done
    [worker] = done["workers"]
    assert worker["alive"], worker
    assert worker["last_beat_s"] < 2, worker
    # Stopped cleanly (SIGTERM), a worker deletes its row: nothing of it to recover.
    assert (stopped["live_workers"], stopped["workers"]) == (0, []), stopped
