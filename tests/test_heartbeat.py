"""Heartbeats of task workers (docs/durable.rst, "When a task worker dies"), through
real processes: the demo under gunicorn, ``db_worker`` processes on its SQLite file.

A job on a worker that beats is never taken from it, however long it runs (here
longer than both HEARTBEAT_TIMEOUT and the no-heartbeat fallback ABANDONED_AFTER); the
workers that beat are seen, alive, by ``manage.py hookpipe --json``; a worker that stops
cleanly is gone from that list. The killed worker's job coming back within seconds is
tests/test_kill_runs.py's crash test.
"""

from __future__ import annotations

import datetime
import itertools
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


def migrated(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """The demo's environment with a fast heartbeat (0.5 s, 2 s timeout), migrated."""
    env = live.project_env(
        tmp_path,
        DEMO_HEARTBEAT_EVERY="0.5",
        DEMO_HEARTBEAT_TIMEOUT="2",
        HOOKPIPE_LOG_LEVEL="WARNING",
        **overrides,
    )
    live.manage("migrate", "--noinput", env=env)
    return env


@pytest.mark.live
def test_a_job_longer_than_every_timeout_runs_once_on_a_live_worker(tmp_path: Path) -> None:
    env = migrated(
        tmp_path,
        DEMO_ABANDONED_AFTER="1",
        HOOKPIPE_WEBHOOK_STORE_DELAY="6",
    )
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


@pytest.mark.live
def test_a_queue_no_worker_serves_is_logged_as_a_backlog(tmp_path: Path) -> None:
    env = migrated(tmp_path, DEMO_BACKLOG_AFTER="1")
    with live.gunicorn(env, tmp_path) as server:
        reply = kill_runs.deliver(server, {"kind": "waits"})
        assert reply.status == 202, reply
        # A worker that beats, but serves another queue than webhook-store's.
        with live.db_worker(env, tmp_path, "--queue-name", "other", "--interval", "0.1") as worker:
            until = time.monotonic() + 15
            while "a task has waited" not in worker.log() and time.monotonic() < until:
                time.sleep(0.2)
            time.sleep(2)  # four more sweeps
            log = worker.log()
        waiting = backlog(env)
    assert "queue 'default' of task backend 'default': a task has waited" in log, log
    # Logged once per BACKLOG_AFTER (1 s), not at every sweep (0.5 s).
    stamps = [
        datetime.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")
        for line in log.splitlines()
        if "a task has waited" in line
    ]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(stamps)]
    assert gaps, log
    assert min(gaps) >= 0.9, log
    assert waiting["queues"]["default"]["by_status"] == {"READY": 1}
    assert waiting["queues"]["default"]["oldest_ready_s"] > 1
