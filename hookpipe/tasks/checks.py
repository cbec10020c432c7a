"""System checks for handlers that run as tasks (ids listed in docs/checks.rst)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from django.core import checks

# Check ids, each written once here; docs/checks.rst describes them.
from ..check_ids import (
    NO_TASK_FRAMEWORK,
    NOT_STORING_BACKEND,
    RQ_NO_REDELIVERY,
    RQ_OLD_QUEUE_CLASS,
    RQ_PICKLE_SERIALIZER,
    RQ_WRONG_JOB_CLASS,
    UNKNOWN_BACKEND,
)
from ..plugins.planning import PluginSpec
from . import backends as compat
from . import rq as task_rq

#: Backends that keep nothing: the job runs at once in the request (immediate) or never
#: (dummy). Fine in tests; outside them a task handler's job is not durable.
NOT_STORING: Final = (
    "django.tasks.backends.immediate.ImmediateBackend",
    "django.tasks.backends.dummy.DummyBackend",
    "django_tasks.backends.immediate.ImmediateBackend",
    "django_tasks.backends.dummy.DummyBackend",
)


def check_task_handlers(specs: Sequence[PluginSpec]) -> list[checks.CheckMessage]:
    tasks = [s for s in specs if s.runner is not None and s.runner.runner == "task"]
    if not tasks:
        return []
    if not compat.available():
        return [
            checks.Error(
                f"{spec.label} runs as a task, and Django's task framework is missing.",
                hint="On Django 5.2 install the backport: pip install 'hookpipe[tasks]' "
                "(django-tasks and django-tasks-db); Django 6 has django.tasks built in.",
                id=NO_TASK_FRAMEWORK,
            )
            for spec in tasks
        ]
    problems: list[checks.CheckMessage] = []
    aliases = compat.backend_settings()
    for spec in tasks:
        alias = spec.runner.backend if spec.runner is not None else ""
        path = compat.backend_class_path(alias)
        if path is None:
            problems.append(
                checks.Error(
                    f"{spec.label} runs as a task on the backend {alias!r}, which is not "
                    "in settings.TASKS.",
                    hint="Configured backends: " + (", ".join(aliases) or "none") + ". Set "
                    "TASK_BACKEND on the class or 'backend' in its HANDLERS entry.",
                    id=UNKNOWN_BACKEND,
                )
            )
        elif path in NOT_STORING:
            problems.append(
                checks.Warning(
                    f"{spec.label} runs as a task on {alias!r} ({path}), which stores "
                    "nothing: its jobs are not durable.",
                    hint="Use django_tasks_db.DatabaseBackend or a broker backend; in test "
                    "settings add " + NOT_STORING_BACKEND + " to SILENCED_SYSTEM_CHECKS.",
                    id=NOT_STORING_BACKEND,
                )
            )
        elif task_rq.is_rq_backend(alias) and spec.runner is not None:
            problems += _check_rq(spec.label, alias, spec.runner.queue_name)
    return problems


def _check_rq(label: str, alias: str, queue_name: str) -> list[checks.CheckMessage]:
    """RQ settings without which hookpipe's promise does not hold (docs/durable.rst)."""
    problems: list[checks.CheckMessage] = []
    for where in task_rq.old_queue_class_settings():
        problems.append(
            checks.Error(
                f"{where} names {task_rq.OLD_QUEUE_CLASS!r}, which was renamed.",
                hint=f'Write "{task_rq.QUEUE_CLASS}" (see "Upgrading" in the CHANGELOG).',
                id=RQ_OLD_QUEUE_CLASS,
            )
        )
    if task_rq.pickles(queue_name):
        problems.append(
            checks.Error(
                f"{label} runs as a task on the RQ backend {alias!r}, and RQ queue "
                f"{queue_name!r} serializes its jobs with pickle: loading a job runs the "
                "code its bytes name, so whoever can write to that Redis runs code in "
                "the workers.",
                hint=f'Set "SERIALIZER": "{task_rq.SERIALIZER}" in RQ_QUEUES[{queue_name!r}], '
                f"and start rqworker with --serializer {task_rq.SERIALIZER}.",
                id=RQ_PICKLE_SERIALIZER,
            )
        )
    if not task_rq.redelivers(queue_name):
        problems.append(
            checks.Warning(
                f"{label} runs as a task on the RQ backend {alias!r}, and RQ queue "
                f"{queue_name!r} gives its jobs no Retry: a job whose worker is killed "
                "mid-job is failed, not run again.",
                hint='Set RQ = {"QUEUE_CLASS": "' + task_rq.QUEUE_CLASS + '", ...} (or '
                "QUEUE_CLASS in that RQ_QUEUES entry).",
                id=RQ_NO_REDELIVERY,
            )
        )
    if not task_rq.runs_tasks():
        problems.append(
            checks.Warning(
                f"{label} runs as a task on the RQ backend {alias!r}, and rqworker's job "
                "class is not django-tasks-rq's: every job would fail in the worker.",
                hint='Set RQ = {"JOB_CLASS": "' + task_rq.JOB_CLASS + '", ...}.',
                id=RQ_WRONG_JOB_CLASS,
            )
        )
    return problems
