"""Per-request cost of a task handler's enqueue against a pool submission, in process.

Runs against the demo's settings with ``DATABASE_URL`` from the environment (SQLite file
by default); migrates first. ``python bench/enqueue.py [--jobs 500]``. Prints µs per
submission (median of rounds). ``DEMO_TASK_ENGINE=rq`` enqueues on RQ (``RQ_REDIS_URL``,
Redis database 1 by default) instead of django-tasks-db. Results: bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo_project.settings")
os.environ.setdefault("DEMO_ENV_FILE", "/nonexistent.env")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    from demo_project.events.plugins import WebhookStore
    from hookpipe import RequestSnapshot
    from hookpipe.conf import DEFAULTS, get_config
    from hookpipe.jobs import PoolRunner, RunnerChoice, TaskRunner
    from hookpipe.jobs.process_pool import shutdown
    from hookpipe.plugins.snapshot import Headers

    handler = WebhookStore.__new__(WebhookStore)
    handler.config = {"DELAY": 0.0}  # type: ignore[assignment]
    handler.handle = lambda request, content: None  # type: ignore[method-assign]
    snapshot = RequestSnapshot(
        "POST", "/webhooks/shop/", "/webhooks/shop/", (), Headers([("Content-Type", "a/b")]),
        b'{"kind": "order.paid", "order": 42}', "127.0.0.1", "http", None, "0" * 32,
    )  # fmt: skip
    [entry] = get_config().handlers  # the demo's webhook-store, on its queue
    queue = entry["queue_name"] if isinstance(entry, dict) else "default"
    runners = {
        "pool": PoolRunner({**DEFAULTS["THREAD_POOL"], "MAX_QUEUE": 100_000}),
        "task": TaskRunner(
            handler,
            RunnerChoice("task", queue_name=queue),
            DEFAULTS["TASK_RUNNER"],
            DEFAULTS["THREAD_POOL"],
        ),
    }
    from hookpipe.tasks.backends import backend_class_path

    print(f"database: {connection.vendor}, task backend: {backend_class_path('default')}")
    for name, runner in runners.items():
        per_job = []
        for _ in range(args.rounds):
            start = time.perf_counter()
            for _ in range(args.jobs):
                runner.submit(handler, snapshot, snapshot.content, snapshot.request_id)
            per_job.append((time.perf_counter() - start) / args.jobs * 1e6)
        print(f"{name}: {statistics.median(per_job):.1f} µs per submission")
    shutdown(5)


if __name__ == "__main__":
    main()
