"""The process's pipeline: built once, lazily, dropped when ``HOOKPIPE`` changes, and the
two entry points the middleware calls.

The chain is built on first use by :func:`get_pipeline` (so ``gunicorn --preload``
does not run factories in the master) and rebuilt after ``HOOKPIPE`` changes: the
``setting_changed`` signal drops the built pipeline (and the normalised configuration,
see :mod:`hookpipe.conf`), so that a request finds it with one global read. The
middleware hands each request to :func:`serve_sync` or :func:`serve_async`."""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.asgi import ASGIRequest
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponseBase

from .. import conf, durations
from ..cluster import publish as cluster_publish
from ..context import AsyncGetResponse, GetResponse, RequestContext, attach_finished
from ..plugins.body import accept_chunked
from ..runners import process_pool
from ..switches import apply as switch_apply
from ..switches import watch as switch_watch
from .build import BuildError, Pipeline
from .plan import plan

logger = logging.getLogger("hookpipe")


_lock = threading.Lock()
_current: Pipeline | None = None
#: Bumped by every change of the setting (see _drop).
_generation = 0
_failed: _Failure | None = None

#: Seconds before a build whose factory raised is tried again (see get_pipeline).
RETRY_FAILED_BUILD_AFTER = 5.0


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


#: The responders' counters and their lock, shared by every build of one configuration,
#: so that a rebuild for a switch does not zero them. Dropped with the setting.
_counts_home: tuple[Any, dict[str, Any]] | None = None
_monotonic = time.monotonic


def _share_counts(built: Pipeline) -> None:
    global _counts_home
    runtime = built.plugins
    if runtime is None:
        return
    if _counts_home is None:
        _counts_home = (runtime._lock, runtime._counts)
        return
    lock, counts = _counts_home
    with lock:
        for name, value in runtime._counts.items():
            counts.setdefault(name, value)
    runtime._lock, runtime._counts = lock, counts


def current_pipeline() -> Pipeline | None:
    """The pipeline if it is built and up to date, else ``None``; never builds."""
    return _current


@receiver(setting_changed)
def _drop(*, setting: str, **kwargs: Any) -> None:
    """``HOOKPIPE`` changed: the next request builds a new pipeline.

    Dropping the built one here, rather than comparing configurations on every request,
    leaves the per-request check at one global read. A build that was under way when
    the setting changed is used for its own request and not kept (``_generation``).
    """
    global _current, _generation, _counts_home
    if setting == conf.SETTING:
        _generation += 1
        _current = None
        _counts_home = None


def serve_sync(
    request: HttpRequest, below_sync: GetResponse, below_async: AsyncGetResponse
) -> HttpResponseBase:
    """Run ``request`` through the process's pipeline, from sync code (the middleware's
    ``__call__``); ``below_sync`` and ``below_async`` are the rest of Django below the
    middleware, for sync and for async callers (see :class:`RequestContext`)."""
    pipeline = _current
    # One float comparison per request; see hookpipe.switches.watch.
    if pipeline is None or _monotonic() >= switch_watch.next_at:
        pipeline = _refresh()
        if isinstance(request, ASGIRequest):  # a sync pipeline under ASGI (hookpipe.mode)
            _warn_if_nothing_drains()
    if "HTTP_TRANSFER_ENCODING" in request.META:  # rare: one dict lookup for the rest
        accept_chunked(request)
    ctx = RequestContext(pipeline, below_sync, below_async)
    request.hookpipe = ctx  # type: ignore[attr-defined]
    response: HttpResponseBase = pipeline.top.call_sync(request)
    if ctx._waiting is not None:  # a task handler's job waits for the outcome
        response = ctx.answered(response)
    if ctx.finished is not None:
        attach_finished(response, request, ctx)
    return response


async def serve_async(
    request: HttpRequest, below_sync: GetResponse, below_async: AsyncGetResponse
) -> HttpResponseBase:
    """Run ``request`` through the process's pipeline, on the event loop."""
    pipeline = _current
    if pipeline is None or _monotonic() >= switch_watch.next_at:
        # The first request of a process (or after a settings change) builds the
        # chain, and the switch check reads the database: sync code, so not here.
        pipeline = await sync_to_async(_refresh, thread_sensitive=True)()
        _warn_if_nothing_drains()
    ctx = RequestContext(pipeline, below_sync, below_async)
    request.hookpipe = ctx  # type: ignore[attr-defined]
    response: HttpResponseBase = await pipeline.top.call_async(request)
    if ctx._waiting is not None:
        response = await sync_to_async(ctx.answered, thread_sensitive=True)(response)
    if ctx.finished is not None:
        attach_finished(response, request, ctx)
    return response


_warned_nothing_drains = False


def _warn_if_nothing_drains() -> None:
    """Once per process, on a build for an ASGI request: say so if no lifespan will
    drain the handler pool when the server stops (see :mod:`hookpipe.asgi`). Checked
    where the pipeline is built, not on every request."""
    global _warned_nothing_drains
    if _warned_nothing_drains or process_pool.drainer():
        return
    _warned_nothing_drains = True
    logger.warning(
        "hookpipe: process %s serves ASGI requests without hookpipe's lifespan, so its "
        "handler pool may not be drained when the server stops (uvicorn, for one, exits "
        "without running exit hooks) and queued handler jobs would be lost. Use "
        "hookpipe.asgi.get_asgi_application() in asgi.py and leave the server's lifespan "
        "on.",
        os.getpid(),
    )


def get_pipeline() -> Pipeline:
    """The process's pipeline, built on first use and after the setting changes.

    A configuration that cannot be built raises ``ImproperlyConfigured`` (the client
    gets a 500: fail closed), logged once per attempt rather than once per request.
    """
    pipeline = _current
    if _monotonic() >= switch_watch.next_at:
        _check_switches(pipeline)
        pipeline = _current
    if pipeline is not None:
        return pipeline
    return _build()


def _check_switches(pipeline: Pipeline | None) -> None:
    """Read the switches if it is time (at most once per ``CHECK_EVERY`` seconds) and
    drop a pipeline built with another set of disabled plugins."""
    global _current, _generation
    config = conf.get_config()
    switch_watch.poll(config.switches["CHECK_EVERY"])
    if pipeline is not None and pipeline.switched_off != _switched_off(config):
        with _lock:
            if _current is pipeline:
                _generation += 1
                _current = None


def _refresh() -> Pipeline:
    """A serving process's slow path: the first request, or the switch check is due.

    A process that serves requests publishes its state to the fleet; starting that here
    (and not in :func:`get_pipeline`) keeps ``manage.py hookpipe`` and the checks out of
    the fleet, and a ``gunicorn --preload`` master too.
    """
    due = _monotonic() >= switch_watch.next_at
    pipeline = get_pipeline()
    if due:
        cluster_publish.ensure_started(conf.get_config().cluster, _published_state)
    return pipeline


def _switched_off(config: conf.Config) -> frozenset[str]:
    return switch_apply.effective(switch_watch.disabled(), config.switches["LOCKED"])


def _published_state() -> dict[str, Any]:
    """What the cluster publisher sends of this process (its own thread calls this)."""
    built = _current
    plugins: dict[str, Any] = {}
    if built is not None and built.plugins is not None:
        described = built.plugins.describe()
        for kind in ("handlers", "responders"):
            for item in described[kind]:
                counters = dict(item["counters"])
                task = item.get("task")
                if isinstance(task, dict) and isinstance(task.get("counters"), dict):
                    counters["task"] = task["counters"]  # a handler run as a task
                plugins[item["name"]] = {"kind": kind[:-1], "counters": counters}
    home = _counts_home
    if home is not None:
        # A responder switched off keeps its counts in the fleet's totals.
        lock, counts = home
        with lock:
            kept = {name: dict(vars(c)) for name, c in counts.items() if name not in plugins}
        for name, values in kept.items():
            plugins[name] = {"kind": "responder", "counters": values}
    pool = process_pool.current_pool()
    return {
        "switched_off": sorted(built.switched_off) if built is not None else [],
        "plugins": plugins,
        "pool": pool.state() if pool is not None else None,
        # METRICS["DURATIONS"]'s histograms (empty when off): buckets add up across the
        # fleet, as counters do.
        "durations": durations.store().snapshot(),
    }


def _build() -> Pipeline:
    global _current, _failed
    with _lock:
        if _current is not None:
            return _current
        generation = _generation
        config = conf.get_config()
        if _failed is not None and _failed.still_holds(config):
            raise _failed.error
        off = _switched_off(config)
        try:
            built = Pipeline(switch_apply.without(plan(config), off), off)
        except ImproperlyConfigured as exc:
            logger.error("hookpipe: the pipeline cannot be built: %s", exc)
            _failed = _Failure(config, exc, time.monotonic())
            raise
        _failed = None
        _share_counts(built)
        if generation == _generation:
            _current = built
        logger.info(
            "hookpipe: pipeline built in process %s: %s",
            os.getpid(),
            " > ".join(t.name for t in built.tweens if not t.omitted) or "no tweens",
        )
        return built
