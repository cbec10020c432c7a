"""The task a task worker runs for a handler: :data:`run_handler`.

Its arguments are JSON only: the handler's ``name``, the dotted path of the class that
enqueued it, and the request's snapshot in its wire form (:meth:`hookpipe.RequestSnapshot.to_wire`).
No secret travels: the worker builds the handler itself, by name, from its own
``HOOKPIPE`` and its own environment (the handler's subconfig), once per process.

A task that cannot run fails with a message saying why (:class:`HandlerUnavailable`):
the name is not in this worker's ``HANDLERS``, the class behind the name changed since
the task was enqueued, the worker's ``HOOKPIPE`` has errors, or the snapshot is one this
code cannot read or is over ``MAX_SNAPSHOT_BYTES`` (the worker checks the bound
again). The task framework records the failure; the worker goes on with the next task
(nothing is retried, so there is no crash loop).

A job of a paused handler is not run: the worker parks it and the task ends
(:mod:`.pause`). On a broker (RQ, Celery), a job with an idempotency key runs only if
its delivery holds the key (:func:`.keys.held`): the job left for the broker before its
key's transaction committed, and that transaction may have rolled back (its web process
killed) while a later copy of the delivery claimed the key.

The ``Task`` object is built on first access (module ``__getattr__``), not at import:
Django's ``Task`` validates itself against a backend when it is created, and hookpipe
must be importable in a project whose ``TASKS`` has no ``"default"`` alias.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from typing import Any, Final

from .. import conf
from ..jobs.choice import RunnerChoice
from ..models import StoredJob
from ..plugins.base import HandlerImplementation, dotted
from ..plugins.planning import build_plugins, plan_plugins
from ..plugins.snapshot import RequestSnapshot, WireError
from ..tracing.tasks import run_traced
from . import backends as compat
from . import keys, pause, recovery, retry

logger = logging.getLogger("hookpipe")

#: What the task framework stores as the task's path; :mod:`recovery` matches on it.
TASK_PATH: Final = recovery.TASK_PATH


class HandlerUnavailable(RuntimeError):
    """This worker cannot run the task's handler; the message says why."""


def run_handler(
    context: Any, name: str, class_path: str, snapshot: dict[str, Any], tries: int = 1
) -> None:
    """Run handler ``name`` on ``snapshot`` (a task: see the module's docstring).

    ``tries`` counts hookpipe's attempts at this job (:mod:`.dead`: a failed attempt is
    retried as a new task). ``context`` is Django's ``TaskContext``: ``context.attempt``
    counts the backend's runs of this one task (more than 1 when a worker died in it)
    and goes to the log with the request id, so a job that runs twice can be seen.
    """
    # The task running now, to retry it on its own backend and queue (none when called
    # directly, as Task.call does).
    result = getattr(context, "task_result", None)
    task = getattr(result, "task", None) or base_task()
    try:
        handler, choice = _handler(name, class_path)
        _check_size(name, snapshot)
        request = RequestSnapshot.from_wire(snapshot)
    except (HandlerUnavailable, WireError) as exc:
        # No retry can help: the job waits, dead, for a deploy or an operator.
        _bury(task, name, class_path, snapshot, tries, exc)
        raise
    attempt = getattr(context, "attempt", None)
    try:
        if pause.park_if_paused(task, result, name, class_path, snapshot, tries) is not None:
            return  # parked, not run: a resume enqueues it again
        if _another_copy_holds_key(task, handler, choice, request):
            return
        # With tracing on, the run is a span in the trace of the request that stored it.
        run_traced(snapshot, name, attempt, lambda: _run(handler, name, request, attempt))
    except Exception as exc:
        _after_failure(task, (name, class_path, snapshot), tries, choice, exc)
        raise  # the backend records this attempt as failed


def _another_copy_holds_key(
    task: Any, handler: HandlerImplementation, choice: RunnerChoice, request: RequestSnapshot
) -> bool:
    """Whether this job, on a broker, is a copy of a delivery whose idempotency key
    another copy holds (see the module's docstring). The database engine stores the job
    and its key in one transaction: nothing to ask there."""
    alias = getattr(task, "backend", None) or ""
    if compat.is_database_backend(alias):
        return False
    try:
        key = keys.key_of(handler, choice.idempotency_key, request)
    except Exception:
        return False  # stored without a key by the web process too
    if key is None:
        return False
    keep = float(conf.get_config().task_runner["IDEMPOTENCY_KEEP"])
    if keys.held(handler.name, key, request.request_id, keep):
        return False
    logger.warning(
        "hookpipe: handler %r: another copy of delivery %r holds its idempotency key; "
        "this job is not run (request %s; its web process stored no key: killed, or its "
        "transaction rolled back, after the job was sent)",
        handler.name,
        key,
        request.request_id,
        extra={"request_id": request.request_id},
    )
    return True


def _after_failure(
    task: Any, args: tuple[str, str, Any], tries: int, choice: RunnerChoice, exc: Exception
) -> None:
    """Attempt ``tries`` raised: enqueue the next, or bury the job when it was the last."""
    name, class_path, snapshot = args
    if tries >= choice.max_attempts:
        _bury(task, name, class_path, snapshot, tries, exc)
        return
    wait = retry.backoff(choice.retry_backoff, tries)
    try:
        when = retry.retry(task, args, tries, wait)
    except Exception as failure:
        logger.exception("hookpipe: handler %r: the retry could not be enqueued", name)
        _bury(task, name, class_path, snapshot, tries, failure)
        return
    logger.warning(
        "hookpipe: handler %r attempt %s of %s failed; the next runs %s (request %s)",
        name,
        tries,
        choice.max_attempts,
        when,
        snapshot.get("request_id") if isinstance(snapshot, dict) else None,
    )


def _bury(task: Any, name: str, class_path: str, snapshot: Any, tries: int, exc: Exception) -> None:
    try:
        job = retry.bury(task, name, class_path, snapshot, tries, exc)
    except Exception:
        logger.exception("hookpipe: handler %r: the dead job could not be recorded", name)
        return
    logger.error(
        "hookpipe: handler %r job is dead after %s attempt%s: %s: %s; replay it from the "
        "admin or with manage.py hookpipe --replay %s (request %s)",
        name,
        tries,
        "" if tries == 1 else "s",
        type(exc).__name__,
        exc,
        job.pk,
        job.request_id,
    )


def _check_size(name: str, snapshot: Any) -> None:
    """The bound the web process applies, applied again: a job is data in a store that
    others can write to, not a promise that the web process made it."""
    limit = int(conf.get_config().task_runner["MAX_SNAPSHOT_BYTES"])
    size = len(json.dumps(snapshot, separators=(",", ":")))
    if size > limit:
        raise HandlerUnavailable(
            f"handler {name!r}: the task's snapshot is {size} bytes as JSON, over this "
            f"worker's HOOKPIPE['TASK_RUNNER']['MAX_SNAPSHOT_BYTES'] ({limit}); not run."
        )


def _run(handler: HandlerImplementation, name: str, request: RequestSnapshot, attempt: Any) -> None:
    start = time.perf_counter()
    try:
        handler.handle(request, request.content)
    except Exception as exc:
        logger.error(
            "hookpipe: handler %r raised %s: %s (task, request %s, attempt %s)",
            name,
            type(exc).__name__,
            exc,
            request.request_id,
            attempt,
            exc_info=exc,
            extra={"request_id": request.request_id},
        )
        raise  # the backend records the task as failed
    logger.debug(
        "hookpipe: handler %r ran as a task in %.1f ms (request %s, attempt %s)",
        name,
        (time.perf_counter() - start) * 1000,
        request.request_id,
        attempt,
        extra={"request_id": request.request_id},
    )


_FUNCTION = run_handler
del run_handler  # the module attribute is the Task, built by __getattr__ below

_lock = threading.Lock()
_built: (
    tuple[conf.Config, dict[str, tuple[HandlerImplementation, RunnerChoice]], list[str]] | None
) = None
_task: Any = None


def __getattr__(attribute: str) -> Any:
    if attribute == "run_handler":
        return base_task()
    raise AttributeError(f"module {__name__!r} has no attribute {attribute!r}")


def base_task() -> Any:
    """The ``Task`` for :func:`run_handler`, on the default backend if there is one,
    else the first in ``TASKS``; the task runner points it elsewhere with ``using()``."""
    global _task
    if _task is None:
        if compat.task_backends is None:
            raise HandlerUnavailable(
                "Django's task framework is missing: use Django 6, or install django-tasks."
            )
        aliases = list(compat.backend_settings())
        _task = task_on("default" if "default" in aliases or not aliases else aliases[0])
    return _task


def task_on(alias: str) -> Any:
    """A ``Task`` for :func:`run_handler` made on backend ``alias`` (a backend that
    registers its tasks when they are made, as Celery's does, then knows it)."""
    backend = compat.task_backends[alias]
    # A Task validates its queue against the backend when created: a backend limited
    # to other queues (QUEUES) would refuse the default one.
    queues = sorted(getattr(backend, "queues", None) or ())
    queue = compat.DEFAULT_TASK_QUEUE_NAME
    if queues and queue not in queues:
        queue = queues[0]
    return backend.task_class(
        func=_FUNCTION,
        backend=alias,
        queue_name=queue,
        priority=0,
        takes_context=True,
        run_after=None,
    )


def enqueue_again(job: StoredJob, tries: int) -> None:
    """Enqueue a job kept outside its backend (dead, or parked) as attempt ``tries``,
    where it was first stored: its backend, queue and priority, its snapshot."""
    task = base_task().using(
        backend=job.backend or None, queue_name=job.queue_name or None, priority=job.priority
    )
    task.enqueue(job.handler, job.class_path, job.snapshot, tries=tries)


def _handler(name: str, class_path: str) -> tuple[HandlerImplementation, RunnerChoice]:
    """The handler called ``name`` in this worker, and where its settings say it runs."""
    handlers, errors = _handlers()
    found = handlers.get(name)
    handler = found[0] if found else None
    if handler is None:
        raise HandlerUnavailable(
            f"handler {name!r} is not in this worker's HOOKPIPE['HANDLERS'] (configured: "
            + (", ".join(sorted(handlers)) or "none")
            + "); the task cannot run here. Deploy the same HANDLERS to the web and "
            "task workers, or let tasks of a removed handler fail."
            + (" This worker's HOOKPIPE has errors: " + "; ".join(errors) if errors else "")
        )
    if dotted(type(handler)) != class_path:
        raise HandlerUnavailable(
            f"handler {name!r} is {dotted(type(handler))} in this worker, but the task was "
            f"enqueued by {class_path}; not running it with another class."
        )
    assert found is not None
    return found


def _handlers() -> tuple[dict[str, tuple[HandlerImplementation, RunnerChoice]], list[str]]:
    """This process's handlers by name, built from its own settings (a handler with a
    configuration error is left out, and the error kept to explain a missing name);
    rebuilt after a settings change (``override_settings``)."""
    global _built
    config = conf.get_config()
    built = _built
    if built is not None and built[0] is config:
        return built[1], built[2]
    with _lock:
        if _built is None or _built[0] is not config:
            specs, problems = plan_plugins(config.handlers, (), config.plugins, os.environ)
            errors = [f"{p.id}: {p.msg}" for p in problems if p.is_serious()]
            choices = {spec.name: spec.runner for spec in specs}
            handlers = {
                p.name: (p, choices.get(p.name) or RunnerChoice("task"))
                for p in build_plugins(specs)
                if isinstance(p, HandlerImplementation)
            }
            _built = (config, handlers, errors)
        return _built[1], _built[2]
