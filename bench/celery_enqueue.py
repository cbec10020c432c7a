"""What hookpipe's enqueue on Celery (django-tasks-fennel) costs against Celery's own
``send_task``, in process, paired, on the same broker connection pool and queue.

* ``celery``: ``app.send_task(name, args, queue=...)``, the message Celery itself sends;
* ``hookpipe``: the task runner's enqueue (``Task.enqueue`` on the fennel backend).

``--jobs`` each per round, the order shuffled every round; µs per enqueue (median of
rounds) and the per-round ratio's median and range. The queue is named for the run and
deleted after; nothing consumes it.

    python bench/celery_enqueue.py [--jobs 300] [--rounds 15]   # CELERY_BROKER_URL

Results: bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
QUEUE = f"hp_bench_{uuid.uuid4().hex[:10]}"
os.environ.update(
    DJANGO_SETTINGS_MODULE="demo_project.settings",
    DEMO_ENV_FILE="/nonexistent.env",
    DEMO_TASK_ENGINE="celery",
    DEMO_CELERY_QUEUE=QUEUE,
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    import django

    django.setup()
    from celery import current_app

    from hookpipe import RequestSnapshot
    from hookpipe.plugins.snapshot import Headers
    from hookpipe.tasks import worker
    from hookpipe.tasks.runner import dumps

    snapshot = RequestSnapshot(
        "POST", "/webhooks/shop/", "/webhooks/shop/", (),
        Headers([("Content-Type", "application/json"), ("X-Webhook-Token", "t")]),
        b'{"kind": "order.paid", "order": 42}', "127.0.0.1", "http", None, "0" * 32,
    )  # fmt: skip
    payload, _ = dumps(snapshot, 1 << 20)
    job_args = ("webhook-store", "demo_project.events.plugins.WebhookStore", payload)
    task = worker.base_task().using(backend="default", queue_name=QUEUE)
    name = f"django_tasks:{worker.TASK_PATH}"

    def celery() -> None:
        current_app.send_task(name, args=job_args, queue=QUEUE)

    def hookpipe() -> None:
        task.enqueue(*job_args)

    ways: dict[str, Callable[[], None]] = {"celery": celery, "hookpipe": hookpipe}
    for way in ways.values():  # warm: imports, the broker connection, the queue
        for _ in range(20):
            way()
    per_job: dict[str, list[float]] = {n: [] for n in ways}
    order = list(ways)
    try:
        for _ in range(args.rounds):
            random.shuffle(order)
            for n in order:
                way = ways[n]
                start = time.perf_counter()
                for _ in range(args.jobs):
                    way()
                per_job[n].append((time.perf_counter() - start) / args.jobs * 1e6)
    finally:
        with current_app.connection_for_write() as conn:
            conn.default_channel.queue_delete(QUEUE)
    for n, values in per_job.items():
        print(f"{n:9} {statistics.median(values):8.1f} µs per enqueue (median of {args.rounds})")
    ratios = [a / b for a, b in zip(per_job["hookpipe"], per_job["celery"], strict=True)]
    print(
        f"hookpipe / celery: {statistics.median(ratios):.2f} x "
        f"(per round {min(ratios):.2f}-{max(ratios):.2f})"
    )


if __name__ == "__main__":
    main()
