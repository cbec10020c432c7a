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

import os
import sys
import uuid
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
    import django

    from bench import paired

    args = paired.arguments()
    django.setup()
    from celery import current_app

    from hookpipe.tasks import worker

    _, job_args = paired.webhook_job()
    task = worker.base_task().using(backend="default", queue_name=QUEUE)
    name = f"django_tasks:{worker.TASK_PATH}"

    def celery() -> None:
        current_app.send_task(name, args=job_args, queue=QUEUE)

    def hookpipe() -> None:
        task.enqueue(*job_args)

    ways = {"celery": celery, "hookpipe": hookpipe}
    try:
        per_call = paired.rounds(ways, args.jobs, args.rounds)
    finally:
        with current_app.connection_for_write() as conn:
            conn.default_channel.queue_delete(QUEUE)
    paired.report(per_call, [("hookpipe", "celery")])


if __name__ == "__main__":
    main()
