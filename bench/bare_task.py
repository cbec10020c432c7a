"""The demo's webhook-store work as a bare task of Django's task framework: what
``bench/engines.py`` compares hookpipe's task with (same engine, same row per job).

It stores the ``Event`` row ``WebhookStore.handle`` stores, from the same body, and
logs the same line, without hookpipe: no snapshot to decode, no handler to look up, no
pause to ask about, no retry bookkeeping.
"""

from __future__ import annotations

import json
import logging

from django.conf import settings

try:
    from django.tasks import task
except ImportError:  # Django 5.2: the backport
    from django_tasks import task

logger = logging.getLogger("demo_project")


# Made on the default backend, as hookpipe's task is (worker.task_on): on Celery,
# django-tasks-fennel registers it with Celery here, so a worker that imports this
# module (celery worker --include bench.bare_task) runs it. On RQ and Celery the
# backend accepts only the queues its QUEUES names: the demo's is TASK_QUEUE.
@task(queue_name=settings.TASK_QUEUE)
def store_event(body: str, request_id: str) -> None:
    from demo_project.events.models import Event

    payload = json.loads(body)
    event = Event.objects.create(
        source="shop",
        kind=str(payload.get("kind") or "")[:100],
        payload=payload,
        request_id=request_id,
        remote_addr="127.0.0.1",
    )
    logger.info("stored %s (request %s)", event, request_id)
