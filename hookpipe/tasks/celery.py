"""At least once on Celery (``django-tasks-fennel``, a Django Tasks backend that sends
each task to a Celery broker; RabbitMQ is the one tested): what hookpipe needs Celery's
settings to say, read from the Celery app the backend sends with.

* **Acknowledge late.** By default a Celery worker acknowledges a message when it
  *starts* the task: a worker killed mid-task has already told the broker it is done,
  and the job is gone. With ``task_acks_late`` the message is acknowledged when the
  task has run; a worker that dies before (SIGKILL, a lost machine) leaves it
  unacknowledged, and RabbitMQ hands it to another consumer as soon as the dead
  worker's connection closes. ``task_reject_on_worker_lost`` covers the other way to
  die: a pool process killed under a living worker (the OOM killer) makes the worker
  requeue the message instead of recording a failure.
* **JSON only.** Celery's messages are JSON by default; a worker that also accepts
  pickle loads whatever code a message names, as RQ's default does.
* **No retry waits past RabbitMQ's consumer timeout.** A retry is a task with an ETA,
  and a Celery worker holds such a message unacknowledged from its delivery until it is
  due (acks late or not). RabbitMQ closes a channel whose delivery stays unacknowledged
  longer than its ``consumer_timeout``; Celery 5.7 takes that channel error for an
  unrecoverable one and the worker exits, putting back every job it held.
* **The worker knows hookpipe's task.** django-tasks-fennel registers a task with
  Celery when the ``Task`` object is created; hookpipe creates its own lazily, so a
  worker must import :mod:`hookpipe.tasks.celery_worker` (``CELERY_IMPORTS``), or
  Celery discards each hookpipe message as an unregistered task.

Celery is imported only when a Celery backend is configured (the ``celery`` extra).
"""

from __future__ import annotations

from typing import Any, Final

from . import backends as compat

#: What a task backend's ``BACKEND`` starts with when it is django-tasks-fennel's.
CELERY_BACKEND_PREFIX: Final = "django_tasks_fennel."
#: The module a Celery worker imports to know hookpipe's task.
WORKER_MODULE: Final = "hookpipe.tasks.celery_worker"
#: Broker URL schemes of RabbitMQ (AMQP 0-9-1), whose consumer_timeout applies.
AMQP_SCHEMES: Final = ("amqp", "amqps", "pyamqp")


def is_celery_backend(alias: str) -> bool:
    return (compat.backend_class_path(alias) or "").startswith(CELERY_BACKEND_PREFIX)


def celery_aliases() -> list[str]:
    """The ``TASKS`` aliases that are django-tasks-fennel backends."""
    return [alias for alias in compat.backend_settings() if is_celery_backend(alias)]


def _conf() -> Any:
    """The configuration of the Celery app the backend sends with (Celery's current
    app: the project's own, or django-tasks-fennel's, configured from ``CELERY_*``)."""
    from celery import current_app  # type: ignore[import-untyped]

    return current_app.conf


def acks_late() -> bool:
    """Whether a message is acknowledged only after its task ran, and requeued when the
    pool process running it dies."""
    conf = _conf()
    return bool(conf.task_acks_late) and bool(conf.task_reject_on_worker_lost)


def accepts_pickle() -> bool:
    """Whether a worker would load a pickled message (or sends pickle itself)."""
    conf = _conf()
    accepted = {str(c).lower() for c in (conf.accept_content or ())}
    sent = str(conf.task_serializer or "").lower()
    return any("pickle" in c for c in accepted) or "pickle" in sent


def imports_worker_module() -> bool:
    """Whether Celery workers import :data:`WORKER_MODULE` when they start."""
    conf = _conf()
    return WORKER_MODULE in (*(conf.imports or ()), *(conf.include or ()))


def broker_is_rabbitmq() -> bool:
    """Whether Celery's broker speaks AMQP (RabbitMQ): its first URL's scheme, Celery's
    default ``amqp://`` when none is set."""
    urls = _conf().broker_url or "amqp://"
    first = urls[0] if isinstance(urls, list | tuple) else str(urls).split(";")[0]
    return first.split("://", 1)[0].strip().lower() in AMQP_SCHEMES
