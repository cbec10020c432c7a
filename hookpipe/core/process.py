"""The process: its pipeline, built once and lazily, the two entry points the middleware
calls, and the one fork handler.

:data:`PROCESS` owns what this process keeps between requests: the built pipeline,
the responders' counters shared by its rebuilds, the last build failure, and the
opt-in :class:`Operations` an app may plug in (``hookpipe.fleet``: runtime switches
and published records). The thread pool (:mod:`hookpipe.jobs.process_pool`) and
the task counters keep their own state, but this module's fork handler is the one that
resets all of it in a forked child, so a child never serves with its parent's
pipeline, pool or counts.

The chain is built on first use by :func:`get_pipeline` (so ``gunicorn --preload``
does not run factories in the master; a master that serves requests before it forks
anyway leaves each child to build its own) and rebuilt after ``HOOKPIPE`` changes: the
``setting_changed`` signal drops the built pipeline (and the normalised configuration,
see :mod:`hookpipe.conf`).

Without operations, nothing here does I/O: no query, no cache operation, no thread.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from asgiref.sync import sync_to_async
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.asgi import ASGIRequest
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponseBase

from .. import conf, durations
from ..context import AsyncGetResponse, GetResponse, RequestContext, attach_finished
from ..jobs import process_pool
from ..plugins.body import accept_chunked
from .build import BuildError, Pipeline
from .plan import plan

logger = logging.getLogger("hookpipe")

#: Seconds before a build whose factory raised is tried again (see get_pipeline).
RETRY_FAILED_BUILD_AFTER = 5.0


class Operations(Protocol):
    """What an opt-in app adds to a process that serves requests (the extension point
    ``hookpipe.fleet`` plugs into with :func:`set_operations`).

    :meth:`due` is asked on every request and must be cheap; when it is true the
    request's thread calls :meth:`refresh` (sync, may do I/O), then builds the
    pipeline again if :meth:`switched_off` changed, and tells the operations that this
    process serves requests (:meth:`serving`). :func:`get_pipeline` (the command, the
    admin page) refreshes too, but does not count as serving.
    """

    def due(self) -> bool:
        """True when :meth:`refresh` should run (its own throttle)."""

    def refresh(self) -> None:
        """Read what may have changed elsewhere (the switches)."""

    def serving(self) -> None:
        """This process serves requests: start what such a process runs (publishing)."""

    def switched_off(self, config: conf.Config) -> frozenset[str]:
        """The names of the plugins to leave out of a build of ``config``."""

    def after_fork_in_child(self) -> None:
        """In a forked child: forget the parent's threads, locks and timers."""

    def after_fork_in_parent(self) -> None:
        """This process just forked a child (without blocking: no I/O here)."""

    def exiting(self) -> None:
        """The process is stopping (a server integration says so)."""


@dataclass(frozen=True)
class _Failure:
    config: conf.Config
    error: ImproperlyConfigured
    at: float

    def still_holds(self, config: conf.Config) -> bool:
        if self.config is not config:
            return False
        # A configuration problem stays until the setting changes; a factory that
        # raised may have met a passing condition (a database not up yet).
        if isinstance(self.error, BuildError):
            return time.monotonic() - self.at < RETRY_FAILED_BUILD_AFTER
        return True


class Process:
    """What this process keeps between requests (one instance: :data:`PROCESS`)."""

    def __init__(self, operations: Operations | None = None) -> None:
        self.lock = threading.Lock()
        self.pipeline: Pipeline | None = None
        #: Bumped by every change of the setting: a build that was under way then is
        #: used for its own request and not kept.
        self.generation = 0
        self.failed: _Failure | None = None
        #: The responders' counters and their lock, shared by every build of one
        #: configuration, so that a rebuild for a switch does not zero them.
        self.counts_home: tuple[Any, dict[str, Any]] | None = None
        self.operations = operations
        self.warned_nothing_drains = False

    def forget(self) -> None:
        """Drop the built pipeline: the next request builds one."""
        with self.lock:
            self.generation += 1
            self.pipeline = None
            self.counts_home = None

    def build(self) -> Pipeline:
        with self.lock:
            if self.pipeline is not None:
                return self.pipeline
            generation = self.generation
            config = conf.get_config()
            if self.failed is not None and self.failed.still_holds(config):
                raise self.failed.error
            off = self.operations.switched_off(config) if self.operations else frozenset()
            try:
                built = Pipeline(plan(config).without(off), off)
            except ImproperlyConfigured as exc:
                logger.error("hookpipe: the pipeline cannot be built: %s", exc)
                self.failed = _Failure(config, exc, time.monotonic())
                raise
            self.failed = None
            self._share_counts(built)
            # A handler job's duration goes in a bucket only while the pipeline's
            # pieces are timed too (METRICS["DURATIONS"]).
            durations.store().handlers = built.timer is not None
            if generation == self.generation:
                self.pipeline = built
        logger.info(
            "hookpipe: pipeline built in process %s: %s",
            os.getpid(),
            " > ".join(t.name for t in built.tweens if not t.omitted) or "no tweens",
        )
        return built

    def refresh(self, serving: bool) -> Pipeline:
        """The slow path: the first request, or the operations are due."""
        operations = self.operations
        pipeline = self.pipeline
        if operations is not None and operations.due():
            operations.refresh()
            if serving:
                operations.serving()
            if pipeline is not None and pipeline.switched_off != operations.switched_off(
                pipeline.config
            ):
                with self.lock:
                    if self.pipeline is pipeline:
                        self.generation += 1
                        self.pipeline = pipeline = None
        return pipeline if pipeline is not None else self.build()

    def _share_counts(self, built: Pipeline) -> None:
        runtime = built.plugins
        if runtime is None:
            return
        if self.counts_home is None:
            self.counts_home = (runtime._lock, runtime._counts)
            return
        lock, counts = self.counts_home
        with lock:
            for name, value in runtime._counts.items():
                counts.setdefault(name, value)
        runtime._lock, runtime._counts = lock, counts

    def warn_if_nothing_drains(self) -> None:
        """Once per process, on a build for an ASGI request: say so if no lifespan will
        drain the handler pool when the server stops (see ``hookpipe.get_asgi_application``)."""
        if self.warned_nothing_drains or process_pool.drainer():
            return
        self.warned_nothing_drains = True
        logger.warning(
            "hookpipe: process %s serves ASGI requests without hookpipe's lifespan, so its "
            "handler pool may not be drained when the server stops (uvicorn, for one, exits "
            "without running exit hooks) and queued handler jobs would be lost. Use "
            "hookpipe.get_asgi_application() in asgi.py and leave the server's "
            "lifespan on.",
            os.getpid(),
        )


PROCESS = Process()

#: What else a forked child must start afresh, registered by the opt-in packages that
#: keep process state of their own (the task runners' counters): the fork handler below
#: runs each.
FORGET_AFTER_FORK: list[Callable[[], None]] = []


def _forked_child() -> None:
    """The one fork handler: a child starts with nothing of its parent's process state.

    Its parent may have built a pipeline and served requests (``gunicorn --preload``
    with a warm-up, a test that forks): the child builds its own pipeline on its first
    request, with its own pool, counters and, with operations, its own publisher."""
    global PROCESS
    PROCESS = Process(PROCESS.operations)
    process_pool.forget_after_fork()
    durations.forget_after_fork()
    for forget in FORGET_AFTER_FORK:
        forget()
    if PROCESS.operations is not None:
        PROCESS.operations.after_fork_in_child()


def _forked_parent() -> None:
    if PROCESS.operations is not None:
        PROCESS.operations.after_fork_in_parent()


os.register_at_fork(after_in_child=_forked_child, after_in_parent=_forked_parent)


def set_operations(operations: Operations | None) -> None:
    """Plug ``operations`` into this process (an app's ``ready()``), or unplug them."""
    PROCESS.operations = operations
    PROCESS.forget()


def operations() -> Operations | None:
    """The operations plugged into this process, if any (see :func:`set_operations`)."""
    return PROCESS.operations


def exiting() -> None:
    """The process is stopping (a server integration: gunicorn's ``worker_exit``, the
    ASGI lifespan's shutdown): let the operations say their last word."""
    operations = PROCESS.operations
    if operations is not None:
        operations.exiting()


def current_pipeline() -> Pipeline | None:
    """The pipeline if it is built and up to date, else ``None``; never builds."""
    return PROCESS.pipeline


def get_pipeline() -> Pipeline:
    """The process's pipeline, built on first use and after the setting changes.

    A configuration that cannot be built raises ``ImproperlyConfigured`` (the client
    gets a 500: fail closed), logged once per attempt rather than once per request.
    """
    return PROCESS.refresh(serving=False)


@receiver(setting_changed)
def _drop(*, setting: str, **kwargs: Any) -> None:
    """``HOOKPIPE`` changed: the next request builds a new pipeline."""
    if setting == conf.SETTING:
        PROCESS.forget()


def serve_sync(
    request: HttpRequest, below_sync: GetResponse, below_async: AsyncGetResponse
) -> HttpResponseBase:
    """Run ``request`` through the process's pipeline, from sync code (the middleware's
    ``__call__``); ``below_sync`` and ``below_async`` are the rest of Django below the
    middleware, for sync and for async callers (see :class:`RequestContext`)."""
    process = PROCESS
    pipeline, operations = process.pipeline, process.operations
    if pipeline is None or (operations is not None and operations.due()):
        pipeline = process.refresh(serving=True)
        if isinstance(request, ASGIRequest):  # a sync pipeline under ASGI (hookpipe.core.mode)
            process.warn_if_nothing_drains()
    if "HTTP_TRANSFER_ENCODING" in request.META:
        accept_chunked(request)
    ctx = RequestContext(pipeline, below_sync, below_async)
    request.hookpipe = ctx  # type: ignore[attr-defined]
    response: HttpResponseBase = pipeline.top.call_sync(request)
    if ctx.waiting is not None:  # a task handler's job waits for the outcome
        response = ctx.answered(response)
    if ctx.finished is not None:
        attach_finished(response, request, ctx)
    return response


async def serve_async(
    request: HttpRequest, below_sync: GetResponse, below_async: AsyncGetResponse
) -> HttpResponseBase:
    """Run ``request`` through the process's pipeline, on the event loop."""
    process = PROCESS
    pipeline, operations = process.pipeline, process.operations
    if pipeline is None or (operations is not None and operations.due()):
        # Building the chain and refreshing the operations are sync code (factories,
        # the database): in Django's request thread, not on the loop.
        pipeline = await sync_to_async(process.refresh, thread_sensitive=True)(serving=True)
        process.warn_if_nothing_drains()
    ctx = RequestContext(pipeline, below_sync, below_async)
    request.hookpipe = ctx  # type: ignore[attr-defined]
    response: HttpResponseBase = await pipeline.top.call_async(request)
    if ctx.waiting is not None:
        response = await sync_to_async(ctx.answered, thread_sensitive=True)(response)
    if ctx.finished is not None:
        attach_finished(response, request, ctx)
    return response
