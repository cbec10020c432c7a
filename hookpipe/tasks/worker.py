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
from ..plugins.base import HandlerImplementation, dotted
from ..plugins.planning import build_plugins, plan_plugins
from ..plugins.snapshot import RequestSnapshot
from ..tracing.tasks import run_traced
from . import backends as compat
from . import recovery

logger = logging.getLogger("hookpipe")

#: What the task framework stores as the task's path; :mod:`recovery` matches on it.
TASK_PATH: Final = recovery.TASK_PATH


class HandlerUnavailable(RuntimeError):
    """This worker cannot run the task's handler; the message says why."""


def run_handler(context: Any, name: str, class_path: str, snapshot: dict[str, Any]) -> None:
    """Run handler ``name`` on ``snapshot`` (a task: see the module's docstring).

    ``context`` is Django's ``TaskContext``: ``context.attempt`` (1 on the first run) and
    the request id go to the log, so a handler that runs twice can be seen doing so.
    """
    recovery.maybe_sweep()
    handler = _handler(name, class_path)
    _check_size(name, snapshot)
    request = RequestSnapshot.from_wire(snapshot)
    attempt = getattr(context, "attempt", None)
    # With tracing on, the run is a span in the trace of the request that stored it.
    run_traced(snapshot, name, attempt, lambda: _run(handler, name, request, attempt))


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
_built: tuple[conf.Config, dict[str, HandlerImplementation], list[str]] | None = None
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
        alias = "default" if "default" in aliases or not aliases else aliases[0]
        backend = compat.task_backends[alias]
        # A Task validates its queue against the backend when created: a backend
        # limited to other queues (QUEUES) would refuse the default one.
        queues = sorted(getattr(backend, "queues", None) or ())
        queue = compat.DEFAULT_TASK_QUEUE_NAME
        if queues and queue not in queues:
            queue = queues[0]
        _task = backend.task_class(
            func=_FUNCTION,
            backend=alias,
            queue_name=queue,
            priority=0,
            takes_context=True,
            run_after=None,
        )
    return _task


def _handler(name: str, class_path: str) -> HandlerImplementation:
    handlers, errors = _handlers()
    handler = handlers.get(name)
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
    return handler


def _handlers() -> tuple[dict[str, HandlerImplementation], list[str]]:
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
            handlers = {
                p.name: p for p in build_plugins(specs) if isinstance(p, HandlerImplementation)
            }
            _built = (config, handlers, errors)
        return _built[1], _built[2]
