"""System checks for handlers that run as tasks (ids listed in docs/checks.rst)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from django.core import checks

# Check ids, each written once here; docs/checks.rst describes them.
from .. import conf
from ..check_ids import (
    CELERY_EARLY_ACK,
    CELERY_PICKLE,
    CELERY_RETRY_PAST_CONSUMER_TIMEOUT,
    CELERY_TASK_UNKNOWN,
    NO_TASK_FRAMEWORK,
    NOT_STORING_BACKEND,
    RQ_NO_REDELIVERY,
    RQ_OLD_QUEUE_CLASS,
    RQ_PICKLE_SERIALIZER,
    RQ_WRONG_JOB_CLASS,
    UNKNOWN_BACKEND,
)
from ..jobs.choice import RunnerChoice
from ..plugins.planning import PluginSpec
from . import backends as compat
from . import celery as task_celery
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
        elif task_celery.is_celery_backend(alias) and spec.runner is not None:
            problems += _check_celery(spec.label, alias, spec.runner)
    return problems


def _check_celery(label: str, alias: str, runner: RunnerChoice) -> list[checks.CheckMessage]:
    """Celery settings without which hookpipe's promise does not hold (docs/durable.rst)."""
    try:
        early, pickle, unknown, rabbitmq = (
            not task_celery.acks_late(),
            task_celery.accepts_pickle(),
            not task_celery.imports_worker_module(),
            task_celery.broker_is_rabbitmq(),
        )
    except ImportError:
        return []  # django-tasks-fennel's own check says Celery is missing
    problems: list[checks.CheckMessage] = []
    if pickle:
        problems.append(
            checks.Error(
                f"{label} runs as a task on the Celery backend {alias!r}, and Celery "
                "accepts pickle: loading a pickled message runs the code its bytes name, "
                "so whoever can publish to the broker runs code in the workers.",
                hint='Set CELERY_ACCEPT_CONTENT = ["json"] and CELERY_TASK_SERIALIZER = '
                '"json" (Celery\'s defaults).',
                id=CELERY_PICKLE,
            )
        )
    if unknown:
        problems.append(
            checks.Error(
                f"{label} runs as a task on the Celery backend {alias!r}, and Celery's "
                f"imports do not name {task_celery.WORKER_MODULE!r}: a worker would "
                "discard each of its jobs as an unregistered task.",
                hint=f'Set CELERY_IMPORTS = ["{task_celery.WORKER_MODULE}"] (or add it '
                "to your Celery app's imports).",
                id=CELERY_TASK_UNKNOWN,
            )
        )
    if early:
        problems.append(
            checks.Warning(
                f"{label} runs as a task on the Celery backend {alias!r}, and Celery "
                "acknowledges a job before it has run: a job whose worker is killed "
                "mid-job is lost, not run again.",
                hint="Set CELERY_TASK_ACKS_LATE = True and "
                "CELERY_TASK_REJECT_ON_WORKER_LOST = True.",
                id=CELERY_EARLY_ACK,
            )
        )
    timeout = conf.get_config().task_runner["CONSUMER_TIMEOUT"]
    if rabbitmq and timeout is not None and runner.max_attempts > 1:
        from .retry import backoff  # the worker's own rule (it imports hookpipe's models)

        wait = backoff(runner.retry_backoff, runner.max_attempts - 1)
        if wait > timeout:
            problems.append(
                checks.Warning(
                    f"{label} runs as a task on the Celery backend {alias!r}, and its "
                    f"last retry waits {wait:g} s, longer than RabbitMQ's consumer "
                    f"timeout ({timeout:g} s): a Celery worker holds a retry "
                    "unacknowledged until it is due, so RabbitMQ closes the worker's "
                    "channel, the worker exits, and every job it held is delivered "
                    "again (a job it was running runs twice).",
                    hint=f"Make TASK_RETRY_BACKOFF ({runner.retry_backoff:g} s, doubled "
                    f"per retry) or TASK_MAX_ATTEMPTS ({runner.max_attempts}) smaller, "
                    "or raise consumer_timeout on the broker (rabbitmq.conf, or "
                    "x-consumer-timeout on the queue from RabbitMQ 3.12) above the "
                    "longest wait and set HOOKPIPE['TASK_RUNNER']['CONSUMER_TIMEOUT'] "
                    "to it.",
                    id=CELERY_RETRY_PAST_CONSUMER_TIMEOUT,
                )
            )
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
