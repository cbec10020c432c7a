"""``make demo``'s task worker comes back after it exits (demo_project/keep_running.py):
a real ``db_worker`` under the keeper, SIGKILLed; a new one starts and runs the next
delivery; SIGTERM to the keeper stops the worker and the keeper, leaving nothing behind.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests import kill_runs, live

WORKER = ("db_worker", "--queue-name", "*", "--no-reload", "--interval", "0.1")


def only_child(pid: int, other_than: int | None = None, timeout: float = 15.0) -> int:
    """The one child of ``pid`` (a new one, if ``other_than`` is given)."""
    until = time.monotonic() + timeout
    while time.monotonic() < until:
        found = [c for c in live.children(pid) if c != other_than]
        if found:
            return found[0]
        time.sleep(0.1)
    raise AssertionError(f"no {'new ' if other_than else ''}child of {pid} in {timeout} s")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is not a live worker; only its parent's wait removes it.
    return "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()


@pytest.mark.live
def test_the_demo_s_task_worker_is_started_again_after_it_exits(tmp_path: Path) -> None:
    env = live.project_env(tmp_path, HOOKPIPE_LOG_LEVEL="WARNING")
    live.manage("migrate", "--noinput", env=env)
    workers: list[int] = []
    with live.kept_running(*WORKER, env=env, tmp_path=tmp_path) as keeper:
        workers.append(only_child(keeper.pid))
        os.kill(workers[0], signal.SIGKILL)
        workers.append(only_child(keeper.pid, other_than=workers[0]))
        with live.gunicorn(env, tmp_path) as server:
            reply = kill_runs.deliver(server, {"kind": "after a restart"})
            assert reply.status == 202, reply
            rid = reply.json()["request_id"]
            assert kill_runs._wait_for(server, {rid}, timeout=20) == [rid]
        keeper.process.send_signal(signal.SIGTERM)
        assert keeper.process.wait(live.STOP_TIMEOUT) == 0  # db_worker's clean exit status
        assert not alive(workers[1])
        text = keeper.log()
    assert f"exited with status {-signal.SIGKILL}; starting it again in 2 s" in text, text
