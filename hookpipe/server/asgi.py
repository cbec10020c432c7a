"""An ASGI lifespan for Django, so that ASGI servers drain hookpipe's handler pool.

In your project's ``asgi.py``, instead of Django's ``get_asgi_application``::

    from hookpipe import get_asgi_application

    application = get_asgi_application()

or wrap an application you already have: ``application = with_lifespan(application)``.

Why: when an ASGI server stops (SIGTERM, Ctrl-C) it may end the process in a way that
runs no exit hook. uvicorn, for one, re-raises the signal with the default handler
after its own shutdown, so the process dies before ``atexit`` or ``threading``'s exit
hooks run, and handler jobs still queued in the pool vanish without a trace. What an
ASGI server does run is the lifespan protocol: it sends ``lifespan.shutdown`` once the
in-flight requests are done. Django's application does not speak it (it refuses any
scope but ``http``), so this wrapper answers the ``lifespan`` scope itself and passes
every other scope to Django:

* ``lifespan.startup``: nothing to start (the pipeline and the pool are built on first
  use), so it answers ``lifespan.startup.complete`` and notes that this process's pool
  will be drained;
* ``lifespan.shutdown``: drains the pool (:func:`hookpipe.jobs.process_pool.shutdown`,
  bounded by ``DRAIN_TIMEOUT``, in a thread so the event loop stays free), logs the final
  counters, then answers ``lifespan.shutdown.complete``. Jobs still queued when the time
  is up are logged and counted as rejected.

uvicorn, hypercorn and granian all send the lifespan events (uvicorn's ``--lifespan
auto``, its default, or ``on``; not with ``--lifespan off``). A process that serves ASGI
requests through hookpipe without a lifespan that drains logs one warning.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from ..core import process
from ..jobs import process_pool

logger = logging.getLogger("hookpipe")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
#: Loose on purpose: servers and Django's handler type scope and messages each their own way.
ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]

#: Seconds the lifespan waits, after the drain (``DRAIN_TIMEOUT``) has dropped the
#: queued jobs, for the jobs that were already running (see :func:`drain`).
RUNNING_GRACE = 5.0

#: How :func:`hookpipe.jobs.process_pool.drainer` names this integration.
INTEGRATION = "the ASGI lifespan (hookpipe.with_lifespan)"


def get_asgi_application() -> ASGIApp:
    """Django's ASGI application (``django.core.asgi.get_asgi_application()``, which
    sets Django up) wrapped by :func:`with_lifespan`."""
    from django.core.asgi import get_asgi_application as django_asgi_application

    return with_lifespan(django_asgi_application())


def with_lifespan(app: ASGIApp) -> ASGIApp:
    """``app`` with the ``lifespan`` scope answered here (see the module's doc); every
    other scope goes to ``app`` unchanged."""

    async def application(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
        else:
            await app(scope, receive, send)

    application.__wrapped__ = app  # type: ignore[attr-defined]
    return application


async def lifespan(receive: Receive, send: Send) -> None:
    """Answer one ``lifespan`` scope: startup, then shutdown with the pool drained."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            process_pool.drained_by(INTEGRATION)
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            try:
                await asyncio.to_thread(drain)
                # The process's last record for the fleet, with the fleet app: the
                # server may end it without running Python's exit hooks.
                await asyncio.to_thread(process.exiting)
            except Exception as exc:  # the server reports it; the process still stops
                logger.exception("hookpipe: draining the thread pool failed")
                await send({"type": "lifespan.shutdown.failed", "message": repr(exc)})
            else:
                await send({"type": "lifespan.shutdown.complete"})
            return


def drain() -> None:
    """Drain this process's pool, if it started one, and log the final counters.

    The server ends the process right after ``lifespan.shutdown.complete``, without
    waiting for threads (uvicorn re-raises SIGTERM), so jobs still running when the
    drain has dropped the queued ones get :data:`RUNNING_GRACE` more seconds to finish;
    any still running then are named in a warning, as cut off."""
    if process_pool.current_pool() is None:
        return
    final = process_pool.shutdown(process_pool.DRAIN_TIMEOUT)
    if any(c["running"] for c in final.values()):
        final = process_pool.shutdown(RUNNING_GRACE)  # nothing is queued any more
    running = {name: c["running"] for name, c in final.items() if c["running"]}
    if running:
        logger.warning(
            "hookpipe: handler jobs still running after the drain will be cut off when "
            "the server ends process %s: %s",
            os.getpid(),
            json.dumps(running, sort_keys=True),
        )
    logger.info(
        "hookpipe: process %s drained its thread pool at lifespan shutdown: %s",
        os.getpid(),
        json.dumps(final, sort_keys=True),
    )
    process_pool.write_counters_file(final)
