"""Django's task framework, wherever it comes from.

On Django 6.x it is ``django.tasks``; on Django 5.2 the ``django-tasks`` backport
(``django_tasks``) gives the same API. Everything hookpipe uses of it is imported here,
once, so that the rest of hookpipe does not care which one it got.
``SOURCE`` is ``None`` when neither is installed: a handler with ``RUNNER = "task"`` is
then a system check error, and nothing here is usable.
"""

from __future__ import annotations

from typing import Any

SOURCE: str | None
task_backends: Any
TaskResultStatus: Any
DEFAULT_TASK_BACKEND_ALIAS = "default"
DEFAULT_TASK_QUEUE_NAME = "default"
TASK_MIN_PRIORITY = -100
TASK_MAX_PRIORITY = 100

task_started: Any

try:
    from django.tasks import TaskResultStatus, task_backends
    from django.tasks.signals import task_started

    SOURCE = "django.tasks"
except ImportError:  # Django 5.2
    try:
        from django_tasks import (
            TaskResultStatus,
            task_backends,
        )
        from django_tasks.signals import task_started

        SOURCE = "django_tasks"
    except ImportError:
        SOURCE = None
        task_backends = None
        TaskResultStatus = None
        task_started = None


def available() -> bool:
    return SOURCE is not None


def backend_settings() -> dict[str, Any]:
    """``settings.TASKS`` as the framework reads it (its defaults included)."""
    if task_backends is None:
        return {}
    return dict(task_backends.settings)


def backend_class_path(alias: str) -> str | None:
    """The dotted path of backend ``alias``'s class, ``None`` if there is no such alias."""
    found = backend_settings().get(alias)
    if not isinstance(found, dict):
        return None
    path = found.get("BACKEND")
    return path if isinstance(path, str) else None


def is_database_backend(alias: str) -> bool:
    """Whether ``alias`` is a ``django-tasks-db`` backend (whose tasks hookpipe can see
    and recover). Imports nothing that is not installed."""
    path = backend_class_path(alias) or ""
    return path.startswith("django_tasks_db.")
