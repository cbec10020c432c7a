"""What hookpipe's enqueue on RQ costs against RQ's own, in process, paired.

Four ways to put the same job (hookpipe's task, a webhook's snapshot as the task
runner stores it) on the same Redis queue, ``--jobs`` each, in interleaved rounds (the
order shuffled every round, so that drift on a shared machine hits all alike):

* ``rq``: RQ's ``Queue.enqueue`` on a queue and a Redis client made once: the floor;
* ``hookpipe``: the task runner's enqueue (``Task.enqueue``) on hookpipe's
  ``RQBackend``, which keeps its queue object, with ``RedeliveringQueue``;
* ``dtrq``: the same on django-tasks-rq's own backend, which asks django-rq for the
  queue at every enqueue (``RedeliveringQueue`` keeping the Redis client);
* ``fresh``: as ``dtrq``, with the kept client dropped before each enqueue: a new
  client and a new TCP connection per job, as django-rq makes them.

Prints µs per enqueue (median over rounds) and, per round, each way / rq; the ratios'
median and range. The queue is named for the run and deleted after.

    RQ_REDIS_URL=redis://127.0.0.1:6379/6 python bench/rq_enqueue.py [--jobs 300] [--rounds 15]

Results: bench/RESULTS.md.
"""

from __future__ import annotations

import os
import sys
import uuid
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
    import django

    from bench import paired

    args = paired.arguments()
    django.setup()
    import django_rq
    from django.conf import settings
    from django.test import override_settings
    from django_tasks_rq.backend import Job
    from rq import Queue

    from hookpipe.tasks import rq_queue, worker

    _, job_args = paired.webhook_job()
    plain = {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": [QUEUE]}
    override_settings(TASKS={**settings.TASKS, "plain": plain}).enable()
    task = worker.base_task().using(backend="default", queue_name=QUEUE)
    dtrq_task = worker.base_task().using(backend="plain", queue_name=QUEUE)
    configured = django_rq.get_queue(QUEUE, job_class=Job)
    floor = Queue(
        QUEUE, connection=configured.connection, serializer=configured.serializer, job_class=Job
    )

    def rq() -> None:
        floor.enqueue(worker.TASK_PATH, *job_args)

    def hookpipe() -> None:
        task.enqueue(*job_args)

    def dtrq() -> None:
        dtrq_task.enqueue(*job_args)

    def fresh() -> None:
        rq_queue.forget_connections()
        dtrq_task.enqueue(*job_args)

    ways = {"rq": rq, "hookpipe": hookpipe, "dtrq": dtrq, "fresh": fresh}
    try:
        per_call = paired.rounds(ways, args.jobs, args.rounds, after_round=configured.empty)
    finally:
        configured.empty()
        keys = list(configured.connection.scan_iter(match=f"rq:*{QUEUE}*"))
        if keys:
            configured.connection.delete(*keys)
    paired.report(per_call, [("hookpipe", "rq"), ("dtrq", "rq"), ("fresh", "rq")])


if __name__ == "__main__":
    main()
