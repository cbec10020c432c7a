"""Jobs per second each task engine sustains with 1, 2 and 4 workers.

For each engine (django-tasks-db on SQLite, on PostgreSQL; RQ on Redis; Celery on
RabbitMQ) and worker count: a fresh database (and RQ or Celery queue), ``--jobs``
webhook-store jobs stored as hookpipe's task runner stores them with no worker
running, then the workers started; the rate is taken from the events the jobs stored:
``(jobs - 1) / (last stored_at - first stored_at)``, so worker start-up is not
counted. Each cell is the median of ``--rounds`` runs. The demo's real handler runs
(one ``INSERT`` per job, no delay).

N workers run N jobs at once on every engine: N ``db_worker`` or ``rqworker``
processes; on Celery, one ``celery worker`` with a prefork pool of concurrency N (N
pool processes run the jobs, the main process only moves messages), as Celery is
deployed. ``celery`` is the demo's Celery setup: django-tasks-fennel on RabbitMQ
(``HOOKPIPE_TEST_AMQP_URL``, ``amqp://guest:guest@127.0.0.1:5672//`` by default), acks
late, prefetch 1, a queue of the run's own, deleted afterwards; its events go to a
temporary SQLite database (WAL), as RQ's do. The workers and the queue go away when
the run ends, fails, or is stopped (Ctrl-C, SIGTERM).

With ``--against-bare``, each round also runs the same jobs as a bare task of Django's
task framework doing the same work (bench/bare_task.py), on the same engine with as
many workers, and the cell adds the ratio of the two rates (bare / hookpipe: how much
longer a job takes through hookpipe), taken round by round. On Celery the bare task is
a Celery task as hookpipe's is: made on the backend, which registers it with Celery,
and imported by the worker (``--include bench.bare_task``).

    python bench/engines.py [--jobs 300] [--rounds 3] [--engines db-sqlite,rq,...]
        [--workers 1,4] [--against-bare]
    python bench/engines.py --engines celery --workers 1,4 --against-bare

Results: bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

#: rq-simple: rqworker --worker-class rq.worker.SimpleWorker (no work horse per job).
ENGINES = ("db-sqlite", "db-postgres", "rq", "rq-simple", "celery")
WORKERS = (1, 2, 4)


def enqueue(jobs: int, bare: bool) -> None:
    """Child mode: enqueue ``jobs`` webhook-store jobs (DJANGO_SETTINGS_MODULE set): as
    hookpipe's task runner stores them, or, with ``bare``, as bench/bare_task.py's
    task with the same body."""
    import django

    django.setup()
    from django.conf import settings

    from bench.bare_task import store_event
    from hookpipe import RequestSnapshot
    from hookpipe.plugins.snapshot import Headers
    from hookpipe.tasks import worker
    from hookpipe.tasks.runner import dumps

    queue = settings.TASK_QUEUE  # the demo's queue on every engine
    hookpipe_task = worker.base_task().using(queue_name=queue)
    bare_task = store_event.using(queue_name=queue)
    body = b'{"kind": "bench"}'
    for i in range(jobs):
        if bare:
            bare_task.enqueue(body.decode(), f"{i:032x}")
            continue
        snapshot = RequestSnapshot(
            "POST", "/webhooks/shop/", "/webhooks/shop/", (), Headers([("Content-Type", "a/b")]),
            body, "127.0.0.1", "http", None, f"{i:032x}",
        )  # fmt: skip
        stored, _ = dumps(snapshot, 1 << 20)
        hookpipe_task.enqueue("webhook-store", "demo_project.events.plugins.WebhookStore", stored)


def one_run(engine: str, workers: int, jobs: int, bare: bool = False) -> float:
    from contextlib import ExitStack

    from tests import kill_runs, live

    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        tmp_path = Path(tmp)
        url = stack.enter_context(
            kill_runs.database("postgres" if engine == "db-postgres" else "sqlite")
        )
        overrides = {"HOOKPIPE_LOG_LEVEL": "WARNING"}
        if url:
            overrides["DATABASE_URL"] = url
        queue = ""
        if engine.startswith("rq"):
            queue = stack.enter_context(kill_runs.rq_queue())
            overrides.update(
                DEMO_TASK_ENGINE="rq", RQ_REDIS_URL=kill_runs.REDIS_URL, DEMO_RQ_QUEUE=queue
            )
        elif engine == "celery":
            queue = stack.enter_context(kill_runs.celery_queue())
            overrides.update(
                DEMO_TASK_ENGINE="celery",
                CELERY_BROKER_URL=kill_runs.AMQP_URL,
                DEMO_CELERY_QUEUE=queue,
            )
        env = live.project_env(tmp_path, **overrides)
        live.manage("migrate", "--noinput", env=env)
        import subprocess

        subprocess.run(
            [sys.executable, __file__, "--enqueue", str(jobs), *(["--bare"] if bare else [])],
            env=env,
            check=True,
            cwd=live.REPO_ROOT,
        )
        with ExitStack() as running:
            if engine == "celery":
                # One worker, N pool processes; it knows the bare task in both rounds.
                worker = live.celery_worker(
                    env, tmp_path, queue, concurrency=workers, include=("bench.bare_task",)
                )
                running.enter_context(worker)
            for _ in range(0 if engine == "celery" else workers):
                if engine.startswith("rq"):
                    simple = ("--worker-class", "rq.worker.SimpleWorker")
                    extra = simple if engine == "rq-simple" else ()
                    running.enter_context(live.rq_worker(env, tmp_path, queue, *extra))
                else:
                    args = ("--queue-name", "*", "--interval", "0.05", "--no-startup-delay")
                    running.enter_context(live.db_worker(env, tmp_path, *args))
            return _rate(env, jobs)


def _rate(env: dict[str, str], jobs: int) -> float:
    """Wait for ``jobs`` events, then jobs per second between the first and the last.
    Polls the database directly (a Django start-up per look would load the machine)."""
    query = "SELECT COUNT(*), MIN(stored_at), MAX(stored_at) FROM events_event"
    url = env["DATABASE_URL"]
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        time.sleep(0.5)
        if url.startswith("sqlite:///"):
            import sqlite3

            with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as db:
                n, lo, hi = db.execute(query).fetchone()
        else:
            import psycopg

            with psycopg.connect(url) as db:
                n, lo, hi = db.execute(query).fetchone()
        if n >= jobs:
            first, last = (
                datetime.fromisoformat(str(x)) if not isinstance(x, datetime) else x
                for x in (lo, hi)
            )
            return (jobs - 1) / (last - first).total_seconds()
    raise SystemExit("the workers did not finish in 10 minutes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--workers", default=",".join(map(str, WORKERS)))
    parser.add_argument(
        "--against-bare",
        action="store_true",
        help="also run bench/bare_task.py's task, paired round by round, and give the ratio",
    )
    parser.add_argument("--enqueue", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--bare", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    # SIGTERM unwinds like Ctrl-C: each run's workers are stopped, its queue deleted.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    if args.enqueue:
        enqueue(args.enqueue, args.bare)
        return
    os.environ.setdefault("PYTHONPATH", str(Path(__file__).resolve().parent.parent))
    counts = [int(w) for w in args.workers.split(",")]
    print("| engine | " + " | ".join(f"{w} worker{'s' * (w > 1)}" for w in counts) + " |")
    print("|---|" + "---:|" * len(counts))
    for engine in args.engines.split(","):
        cells = []
        for workers in counts:
            rates, ratios = [], []
            for _ in range(args.rounds):
                rates.append(one_run(engine, workers, args.jobs))
                if args.against_bare:
                    # A bare task's rate from the same round: hookpipe's time per job
                    # over the bare task's.
                    ratios.append(one_run(engine, workers, args.jobs, bare=True) / rates[-1])
            cell = f"{statistics.median(rates):.0f} ({min(rates):.0f}-{max(rates):.0f})"
            if ratios:
                low, high = min(ratios), max(ratios)
                cell += f", {statistics.median(ratios):.2f} x bare ({low:.2f}-{high:.2f})"
            cells.append(cell)
        print(f"| {engine} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
