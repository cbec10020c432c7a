"""How a task worker learns of pauses (hookpipe/tasks/pause.py): it reads which handlers
are paused at most once a second, not once per job, and a pause made elsewhere still
reaches a running worker within that second.

Through real requests and a real ``db_worker`` in this process (the queries counted), and
through real processes: the demo under gunicorn, a ``db_worker`` that is already running
when ``manage.py hookpipe --pause`` is run from another process.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from hookpipe.tasks import pause
from tests import kill_runs, live
from tests.conftest import Fetch
from tests.test_heartbeat import WORKER_ARGS, migrated
from tests.test_pause import pipeline  # noqa: F401  (the fixture: FlakyTask and Recorder)
from tests.test_retries import run_worker_until_idle
from tests.testapp import plugins as tp


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("pipeline")
def test_a_worker_reads_the_pauses_once_for_many_jobs(fetch: Fetch) -> None:
    # What this process last read may be a pause an earlier test left, which the test
    # database's flush deleted, not a resume: each of its jobs would ask again, under
    # the lock, before it ran.
    pause.forget_pauses()
    for _ in range(20):
        response = fetch("/webhooks/accept", method="post", data=b"{}", content_type="a/b")
        assert response.status_code == 202
    started = time.monotonic()
    with CaptureQueriesContext(connection) as queries:
        run_worker_until_idle()
    elapsed = time.monotonic() - started
    assert len(tp.SEEN["flaky-task"]) == 20
    reads = [q["sql"] for q in queries if "hookpipe_pausedhandler" in q["sql"]]
    # At most one read per READ_EVERY begun (none when this process read the pauses
    # less than READ_EVERY ago), not one per job.
    assert len(reads) <= 1 + elapsed / pause.READ_EVERY < 20, (reads, elapsed)


def parked(env: dict[str, str]) -> int:
    """How many jobs of the demo's ``webhook-store`` are parked, from the command."""
    data = json.loads(live.manage("hookpipe", "--json", env=env).stdout)
    [store] = [h for h in data["handlers"] if h["name"] == "webhook-store"]
    return int(store["task"]["pause"]["parked"])


@pytest.mark.live
def test_a_pause_from_another_process_reaches_a_running_worker_within_a_second(
    tmp_path: Path,
) -> None:
    env = migrated(tmp_path)
    with live.gunicorn(env, tmp_path) as server, live.db_worker(env, tmp_path, *WORKER_ARGS):
        before = kill_runs.deliver(server, {"kind": "before"}).json()["request_id"]
        assert kill_runs._wait_for(server, {before}, timeout=20) == [before]
        live.manage("hookpipe", "--pause", "webhook-store", env=env)
        time.sleep(pause.READ_EVERY + 0.5)  # the worker has read the pauses again
        during = kill_runs.deliver(server, {"kind": "during"})
        assert during.status == 202, during
        until = time.monotonic() + 20
        while parked(env) == 0 and time.monotonic() < until:
            time.sleep(0.2)
        assert parked(env) == 1
        assert kill_runs.stored_ids(server) == [before]
        live.manage("hookpipe", "--resume", "webhook-store", env=env)
        rid = during.json()["request_id"]
        assert kill_runs._wait_for(server, {before, rid}, timeout=20) == [before, rid]
