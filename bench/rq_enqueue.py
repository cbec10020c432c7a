"""What hookpipe's enqueue on RQ costs against RQ's own, in process, paired.

Three ways to put the same job (hookpipe's task, a webhook's snapshot as the task
runner stores it) on the same Redis queue, ``--jobs`` each, in interleaved rounds (the
order shuffled every round, so that drift on a shared machine hits all three alike):

* ``rq``: RQ's ``Queue.enqueue`` on a queue and a Redis client made once: the floor;
* ``hookpipe``: the task runner's enqueue (``Task.enqueue`` on the django-tasks-rq
  backend, through django-rq, with ``RedeliveringQueue`` and its kept client);
* ``fresh``: the same, with the kept client dropped before each enqueue: a new client
  and a new TCP connection per job, as django-rq makes them.

Prints µs per enqueue (median over rounds) and, per round, hookpipe / rq and fresh / rq;
the ratios' median and range. The queue is named for the run and deleted after.

    RQ_REDIS_URL=redis://127.0.0.1:6379/6 python bench/rq_enqueue.py [--jobs 300] [--rounds 15]

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
    DEMO_TASK_ENGINE="rq",
    DEMO_RQ_QUEUE=QUEUE,
)
os.environ.setdefault("RQ_REDIS_URL", "redis://127.0.0.1:6379/6")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    import django

    django.setup()
    import django_rq
    from django_tasks_rq.backend import Job
    from rq import Queue

    from hookpipe import RequestSnapshot
    from hookpipe.plugins.snapshot import Headers
    from hookpipe.tasks import rq_queue, worker
    from hookpipe.tasks.runner import dumps

    snapshot = RequestSnapshot(
        "POST", "/webhooks/shop/", "/webhooks/shop/", (),
        Headers([("Content-Type", "application/json"), ("X-Webhook-Token", "t")]),
        b'{"kind": "order.paid", "order": 42}', "127.0.0.1", "http", None, "0" * 32,
    )  # fmt: skip
    payload, _ = dumps(snapshot, 1 << 20)
    job_args = ("webhook-store", "demo_project.events.plugins.WebhookStore", payload)
    task = worker.base_task().using(backend="default", queue_name=QUEUE)
    configured = django_rq.get_queue(QUEUE, job_class=Job)
    floor = Queue(
        QUEUE, connection=configured.connection, serializer=configured.serializer, job_class=Job
    )

    def rq() -> None:
        floor.enqueue(worker.TASK_PATH, *job_args)

    def hookpipe() -> None:
        task.enqueue(*job_args)

    def fresh() -> None:
        rq_queue.forget_connections()
        task.enqueue(*job_args)

    ways: dict[str, Callable[[], None]] = {"rq": rq, "hookpipe": hookpipe, "fresh": fresh}
    for way in ways.values():  # warm: imports, the kept client's first connection
        for _ in range(20):
            way()
    per_job: dict[str, list[float]] = {name: [] for name in ways}
    order = list(ways)
    try:
        for _ in range(args.rounds):
            random.shuffle(order)
            for name in order:
                way = ways[name]
                start = time.perf_counter()
                for _ in range(args.jobs):
                    way()
                per_job[name].append((time.perf_counter() - start) / args.jobs * 1e6)
            configured.empty()
    finally:
        configured.empty()
        keys = list(configured.connection.scan_iter(match=f"rq:*{QUEUE}*"))
        if keys:
            configured.connection.delete(*keys)
    for name, values in per_job.items():
        print(f"{name:9} {statistics.median(values):8.1f} µs per enqueue (median of {args.rounds})")
    for name in ("hookpipe", "fresh"):
        ratios = [a / b for a, b in zip(per_job[name], per_job["rq"], strict=True)]
        print(
            f"{name} / rq: {statistics.median(ratios):.2f} x "
            f"(per round {min(ratios):.2f}-{max(ratios):.2f})"
        )


if __name__ == "__main__":
    main()
