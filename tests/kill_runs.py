"""Kill runs: deliver webhooks to the demo under gunicorn, SIGKILL one web worker and
one task worker mid-run, then count what every delivery answered 2xx became.

Used by ``tests/test_kill_runs.py`` (a small run in CI) and for the measured runs in
``bench/RESULTS.md``::

    python -m tests.kill_runs --runner task --database sqlite --deliveries 500
    python -m tests.kill_runs --runner pool --database sqlite --deliveries 500
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests import live

POSTGRES_URL = os.environ.get("HOOKPIPE_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432")
#: Seconds after which a RUNNING task counts as abandoned, in these runs.
STALE_AFTER = 3.0


@dataclass
class Outcome:
    runner: str
    database: str
    sent: int
    answered: int
    executed: int
    duplicates: int
    lost: int
    seconds: float

    def line(self) -> str:
        return (
            f"{self.runner:5} {self.database:9} sent {self.sent}, answered 2xx {self.answered}, "
            f"executed {self.executed}, duplicates {self.duplicates}, lost {self.lost} "
            f"({self.seconds:.1f} s)"
        )


@contextmanager
def database(kind: str) -> Iterator[str | None]:
    """A ``DATABASE_URL`` for ``kind`` (``None``: the temporary SQLite file), created
    and dropped around the run (PostgreSQL: a database named ``hp_tasks_<hex>``)."""
    if kind == "sqlite":
        yield None
        return
    import psycopg

    name = f"hp_tasks_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"{POSTGRES_URL}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{POSTGRES_URL}/{name}"
    finally:
        with psycopg.connect(f"{POSTGRES_URL}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(tmp_path: Path, *, runner: str, db: str, deliveries: int, concurrency: int = 8) -> Outcome:
    with database(db) as url:
        overrides = {
            "DEMO_WEBHOOK_RUNNER": runner,
            "DEMO_STALE_AFTER": str(STALE_AFTER),
            "DEMO_RECOVER_EVERY": "1",
            "DEMO_WORKERS": "2",
            # A little pretend work per delivery, so that kills land mid-job.
            "HOOKPIPE_WEBHOOK_STORE_DELAY": "0.02",
            "HOOKPIPE_LOG_LEVEL": "WARNING",
        }
        if url:
            overrides["DATABASE_URL"] = url
        env = live.project_env(tmp_path, **overrides)
        live.manage("migrate", "--noinput", env=env)
        worker_args = ("--queue-name", "*", "--interval", "0.1", "--no-startup-delay")
        with ExitStack() as stack:
            server = stack.enter_context(live.gunicorn(env, tmp_path))
            workers = [
                stack.enter_context(live.db_worker(env, tmp_path, *worker_args)) for _ in range(2)
            ]
            start = time.monotonic()
            answered = _deliver(server, workers, deliveries, concurrency)
            if runner == "task":
                # Past STALE_AFTER, the job the killed worker held is READY again: the
                # workers' own sweep does it when busy; an idle one needs the command.
                time.sleep(STALE_AFTER + 0.5)
                live.manage("hookpipe", "--recover-tasks", env=env)
            stored = _wait_for(server, answered, timeout=60.0)
            seconds = time.monotonic() - start
    counts = Counter(stored)
    executed = sum(1 for rid in answered if counts[rid])
    return Outcome(
        runner,
        db,
        deliveries,
        len(answered),
        executed,
        sum(n - 1 for rid, n in counts.items() if n > 1),
        len(answered) - executed,
        seconds,
    )


def _deliver(
    server: live.LiveServer, workers: list[live.LiveServer], n: int, concurrency: int
) -> set[str]:
    answered: set[str] = set()
    lock = threading.Lock()
    done = [0]

    def one(i: int) -> None:
        try:
            reply = server.get(
                "/webhooks/shop/",
                method="POST",
                body=json.dumps({"kind": "kill-run", "n": i}).encode(),
                headers={"Content-Type": "application/json", "X-Webhook-Token": "demo-token"},
            )
        except OSError:  # the worker serving it was killed: not answered
            reply = None
        with lock:
            done[0] += 1
            if reply is not None and 200 <= reply.status < 300:
                answered.add(reply.json()["request_id"])

    killed_web = killed_task = False
    with ThreadPoolExecutor(concurrency) as pool:
        futures = [pool.submit(one, i) for i in range(n)]
        while not all(f.done() for f in futures):
            if not killed_web and done[0] >= n // 3:
                web = live.children(server.pid)
                if web:
                    os.kill(web[0], signal.SIGKILL)
                killed_web = True
            if not killed_task and done[0] >= n // 2:
                os.killpg(workers[0].pid, signal.SIGKILL)
                killed_task = True
            time.sleep(0.005)
    return answered


def _wait_for(server: live.LiveServer, answered: set[str], timeout: float) -> list[str]:
    """The request ids of the stored events, once every answered one is there (or at
    the timeout, whatever is there then)."""
    deadline = time.monotonic() + timeout
    while True:
        reply = server.get("/events/feed/", timeout=30)
        lines = [json.loads(x) for x in reply.body.splitlines() if x.strip()]
        stored = [line["request_id"] for line in lines if "request_id" in line]
        if answered <= set(stored) or time.monotonic() > deadline:
            return stored
        time.sleep(0.5)


def main(argv: Any = None) -> None:
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runner", choices=["task", "pool"], default="task")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--deliveries", type=int, default=500)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        outcome = run(Path(tmp), runner=args.runner, db=args.database, deliveries=args.deliveries)
    print(outcome.line())


if __name__ == "__main__":
    main()
