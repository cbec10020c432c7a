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
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponseBase

from .. import conf
from ..context import GetResponse, RequestContext, attach_finished
from ..plugins.body import accept_chunked
from ..runners import process_pool
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
    global _current, _generation
    if setting == conf.SETTING:
        _generation += 1
        _current = None


def serve_sync(request: HttpRequest, get_response: GetResponse) -> HttpResponseBase:
    """Run ``request`` through the process's pipeline, from sync code (the middleware's
    ``__call__``); ``get_response`` is the rest of Django below the middleware."""
    pipeline = _current
    if pipeline is None:
        pipeline = _build()
    if "HTTP_TRANSFER_ENCODING" in request.META:  # rare: one dict lookup for the rest
        accept_chunked(request)
    ctx = RequestContext(pipeline, get_response, False)
    request.hookpipe = ctx  # type: ignore[attr-defined]
    response: HttpResponseBase = pipeline.top.call_sync(request)
    if ctx.finished is not None:
        attach_finished(response, request, ctx)
    return response


async def serve_async(request: HttpRequest, get_response: GetResponse) -> HttpResponseBase:
    """Run ``request`` through the process's pipeline, on the event loop."""
    pipeline = _current
    if pipeline is None:
        # The first request of a process (or after a settings change) builds the
        # chain; factories are sync code that may touch the database, so not here.
        pipeline = await sync_to_async(get_pipeline, thread_sensitive=True)()
        _warn_if_nothing_drains()
    ctx = RequestContext(pipeline, get_response, True)
    request.hookpipe = ctx  # type: ignore[attr-defined]
    response: HttpResponseBase = await pipeline.top.call_async(request)
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
    if pipeline is not None:
        return pipeline
    return _build()


def _build() -> Pipeline:
    global _current, _failed
    with _lock:
        if _current is not None:
            return _current
        generation = _generation
        config = conf.get_config()
        if _failed is not None and _failed.still_holds(config):
            raise _failed.error
        try:
            built = Pipeline(plan(config))
        except ImproperlyConfigured as exc:
            logger.error("hookpipe: the pipeline cannot be built: %s", exc)
            _failed = _Failure(config, exc, time.monotonic())
            raise
        _failed = None
        if generation == _generation:
            _current = built
        logger.info(
            "hookpipe: pipeline built in process %s: %s",
            os.getpid(),
            " > ".join(t.name for t in built.tweens if not t.omitted) or "no tweens",
        )
        return built
