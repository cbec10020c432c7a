"""The demo's handler and responders (Ledge style), listed in ``settings.HOOKPIPE``.

* ``webhook-store`` (handler): every ``POST /webhooks/<source>/`` with the right token
  is stored as an :class:`~demo_project.events.models.Event`, in the thread pool, after
  the view has answered ``202``.
* ``event-feed`` (responder): ``GET /events/feed/`` streams the stored events as NDJSON,
  then, with ``?follow=<seconds>``, the new ones as they arrive.
* ``clock`` (responder): ``GET /events/clock/?n=10&interval=0.1`` streams ``n`` ticks,
  ``interval`` seconds apart, from an ``async`` generator (``?kind=sync``: a plain one),
  so you can watch chunks arrive with ``curl -N``; ``?pad=<bytes>`` makes each tick
  that long, to stream a lot of data.

Each one declares prefilters (``methods``, ``path_prefixes``), as the docs ask every
plugin to: a request none of them can want goes on to Django with its body unread.

Try them, with the demo running (``make demo``)::

    curl -X POST -H 'X-Webhook-Token: demo-token' -H 'Content-Type: application/json' \\
         -d '{"kind": "order.paid", "order": 42}' http://127.0.0.1:8000/webhooks/shop/
    curl -N 'http://127.0.0.1:8000/events/feed/?follow=30'
    curl -N 'http://127.0.0.1:8000/events/clock/?n=10&interval=0.5'
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

from django.http import HttpRequest

from hookpipe import HandlerImplementation, RequestSnapshot, ResponderImplementation, Setting

from .models import Event

logger = logging.getLogger("demo_project")


def _line(data: dict[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":")) + "\n"


def _number(request: HttpRequest, name: str, default: float, low: float, high: float) -> float:
    try:
        value = float(request.GET.get(name, default))
    except ValueError:
        value = default
    return min(max(value, low), high)


class WebhookStore(HandlerImplementation):
    """Stores webhook deliveries, as a task in the demo's settings (``RUNNER`` is the
    class's default, the pool; the settings entry says ``"task"``), with a snapshot.
    At least once: a delivery whose task worker died mid-job is stored again, with the
    same ``request_id`` (the demo keeps both rows, so that its tests can count them).

    Subconfig (``HOOKPIPE["PLUGINS"]["webhook-store"]``, or the environment variables
    ``HOOKPIPE_WEBHOOK_STORE_<KEY>``):

    * ``TOKEN``: the ``X-Webhook-Token`` a delivery must carry; empty accepts any.
    * ``SOURCES``: the sources (last part of the URL) that are stored.
    * ``SIGNED_SOURCES``: the sources whose deliveries a ``SignatureHook`` verified
      before any handler saw them (the demo's settings): no token asked of them.
    * ``DELAY``: seconds of pretend work before storing (to watch the pool at work).
    """

    name = "webhook-store"
    # Prefilters: hookpipe asks this handler about POST /webhooks/... only. Every other
    # request (pages, the API, the admin) does not even have its body read for it.
    methods = {"POST"}
    path_prefixes = ("/webhooks/",)
    # As a task, a delivery that carries a Standard Webhooks id is stored once: a
    # redelivery with the same webhook-id is a "duplicate" (docs/durable.rst).
    TASK_IDEMPOTENCY_KEY = "webhook-id"
    subconfig = {
        "TOKEN": Setting(str, secret=True, default="", help="X-Webhook-Token to expect"),
        "SOURCES": Setting(list, default=["shop", "ci", "demo", "signed"]),
        "SIGNED_SOURCES": Setting(list, default=["signed"]),
        "DELAY": Setting(float, default=0.0),
    }

    def handles(self, request: HttpRequest, content: bytes) -> bool:
        source = request.path.removeprefix("/webhooks/").strip("/")
        if source not in self.config.SOURCES:
            return False
        if source in self.config.SIGNED_SOURCES:
            return True  # its signature verified, or it would have been answered 401
        token = self.config.TOKEN
        given = request.headers.get("X-Webhook-Token", "")
        return not token or hmac.compare_digest(given.encode(), token.encode())

    def handle(self, request: RequestSnapshot, content: bytes) -> None:
        if self.config.DELAY:
            time.sleep(self.config.DELAY)
        try:
            payload = json.loads(content) if content else {}
        except ValueError:
            payload = {"raw": content.decode(errors="replace")}
        if not isinstance(payload, dict):
            payload = {"value": payload}
        event = Event.objects.create(
            source=request.path.removeprefix("/webhooks/").strip("/"),
            kind=str(payload.get("kind") or payload.get("type") or "")[:100],
            payload=payload,
            request_id=request.request_id,
            remote_addr=request.remote_addr,
        )
        logger.info("stored %s (request %s)", event, request.request_id)


class EventFeed(ResponderImplementation):
    """``GET /events/feed/``: stored events as NDJSON, one per line, oldest first.

    ``?since=<id>`` starts after that event; ``?follow=<seconds>`` keeps the response
    open that long (at most ``FOLLOW``), sending new events as they are stored, and a
    ``{"heartbeat": ...}`` line every ``POLL`` seconds when there is nothing new.
    A plain generator that uses the ORM: under ASGI hookpipe pulls it chunk by chunk
    in Django's thread for the request.
    """

    name = "event-feed"
    content_type = "application/x-ndjson"
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    methods = {"GET"}
    path_prefixes = ("/events/feed/",)
    subconfig = {
        "POLL": Setting(float, default=1.0, help="seconds between looks for new events"),
        "FOLLOW": Setting(float, default=300.0, help="longest ?follow= allowed"),
        "PAGE": Setting(int, default=100, help="events read per query"),
    }

    def handles(self, request: HttpRequest, content: bytes) -> bool:
        # The prefilters let GET /events/feed/<anything> through; the feed is that path.
        return request.path == "/events/feed/"

    def respond(self, request: HttpRequest, content: bytes) -> Iterator[str]:
        last = int(_number(request, "since", 0, 0, 2**62))
        follow = _number(request, "follow", 0, 0, self.config.FOLLOW)
        deadline = time.monotonic() + follow
        # The first line goes out at once: it is what the client waits for.
        yield _line({"feed": "events", "since": last, "follow": follow})
        while True:
            events = list(Event.objects.filter(pk__gt=last).order_by("pk")[: self.config.PAGE])
            for event in events:
                last = event.pk
                yield _line(event.as_dict())
            if len(events) == self.config.PAGE:
                continue  # more to read at once
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(self.config.POLL, left))
            if not Event.objects.filter(pk__gt=last).exists():
                yield _line({"heartbeat": time.time()})


class Clock(ResponderImplementation):
    """``GET /events/clock/?n=10&interval=0.1``: ``n`` NDJSON ticks, ``interval`` apart.

    ``respond`` returns an async generator (``?kind=sync``: a plain one), so the demo
    shows both bridges: under gunicorn the async one runs on an event loop of its own,
    under uvicorn the plain one is pulled in a thread. ``?pad=<bytes>`` pads each tick
    to that length (at most ``MAX_PAD``).
    """

    name = "clock"
    content_type = "application/x-ndjson"
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    methods = {"GET"}
    path_prefixes = ("/events/clock/",)
    subconfig = {
        "MAX_TICKS": Setting(int, default=100_000),
        "MAX_PAD": Setting(int, default=1024 * 1024),
    }

    def handles(self, request: HttpRequest, content: bytes) -> bool:
        return request.path == "/events/clock/"

    def respond(self, request: HttpRequest, content: bytes) -> Iterator[str] | AsyncIterator[str]:
        n = int(_number(request, "n", 10, 0, self.config.MAX_TICKS))
        interval = _number(request, "interval", 0.1, 0, 10)
        pad = int(_number(request, "pad", 0, 0, self.config.MAX_PAD))
        if request.GET.get("kind") == "sync":
            return self._ticks(n, interval, pad)
        return self._aticks(n, interval, pad)

    @staticmethod
    def _tick(i: int, pad: int) -> str:
        line = _line({"tick": i, "time": round(time.time(), 6)})
        return line[:-1] + " " * max(0, pad - len(line)) + "\n" if pad else line

    def _ticks(self, n: int, interval: float, pad: int) -> Iterator[str]:
        for i in range(n):
            if i and interval:
                time.sleep(interval)
            yield self._tick(i, pad)

    async def _aticks(self, n: int, interval: float, pad: int) -> AsyncIterator[str]:
        for i in range(n):
            if i and interval:
                await asyncio.sleep(interval)
            yield self._tick(i, pad)
