"""The application of ``bench/streaming.py``: 128 MiB streamed by a responder or by a
plain Django view, in both modes, and a *slow* stream whose first chunk comes after
:data:`SLOW_FIRST_CHUNK` seconds.

Settings are made here (no database, no middleware but hookpipe), so the servers run
``bench.streaming_app:wsgi`` (gunicorn) or ``bench.streaming_app:asgi`` (uvicorn). Paths:

* ``/plain/sync/``, ``/plain/async/``: ``StreamingHttpResponse`` over a sync or an async
  generator (plain Django);
* ``/hookpipe/sync/``, ``/hookpipe/async/``: a responder whose ``respond()`` is a sync or
  an async generator (hookpipe);
* ``/plain/slow-sync/``, ``/plain/slow-async/``, ``/hookpipe/slow-sync/``,
  ``/hookpipe/slow-async/``: the same with a slow first chunk and a short body.

Every stream is :data:`CHUNKS` chunks of :data:`CHUNK` bytes (the same ``bytes`` object,
so that making the data costs nothing).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import django
from django.conf import settings

CHUNK = 64 * 1024
#: 128 MiB in all.
CHUNKS = 2048
SLOW_FIRST_CHUNK = 0.1
SLOW_CHUNKS = 4
_DATA = b"x" * CHUNK

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench-only",
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=["hookpipe"],
        MIDDLEWARE=["hookpipe.middleware.HookpipeMiddleware"],
        DATABASES={},
        USE_TZ=True,
        LOGGING_CONFIG=None,
        HOOKPIPE={
            "RESPONDERS": [
                f"{__name__}.SyncStream",
                f"{__name__}.AsyncStream",
                f"{__name__}.SlowSyncStream",
                f"{__name__}.SlowAsyncStream",
            ]
        },
    )
    django.setup()

from django.core.asgi import get_asgi_application  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import HttpRequest, StreamingHttpResponse  # noqa: E402
from django.urls import path  # noqa: E402

from hookpipe import ResponderImplementation  # noqa: E402


def chunks(count: int = CHUNKS) -> Iterator[bytes]:
    for _ in range(count):
        yield _DATA


async def achunks(count: int = CHUNKS) -> AsyncIterator[bytes]:
    for _ in range(count):
        yield _DATA


def slow_chunks() -> Iterator[bytes]:
    time.sleep(SLOW_FIRST_CHUNK)
    yield from chunks(SLOW_CHUNKS)


async def aslow_chunks() -> AsyncIterator[bytes]:
    await asyncio.sleep(SLOW_FIRST_CHUNK)
    async for chunk in achunks(SLOW_CHUNKS):
        yield chunk


def _streaming(content: Any) -> StreamingHttpResponse:
    return StreamingHttpResponse(content, content_type="application/octet-stream")


def plain_sync(request: HttpRequest) -> StreamingHttpResponse:
    return _streaming(chunks())


async def plain_async(request: HttpRequest) -> StreamingHttpResponse:
    return _streaming(achunks())


def plain_slow_sync(request: HttpRequest) -> StreamingHttpResponse:
    return _streaming(slow_chunks())


async def plain_slow_async(request: HttpRequest) -> StreamingHttpResponse:
    return _streaming(aslow_chunks())


def ready(request: HttpRequest) -> StreamingHttpResponse:
    return _streaming([b"ok"])


class _Stream(ResponderImplementation):
    content_type = "application/octet-stream"

    def handles(self, request: HttpRequest, content: bytes) -> bool:
        return True


class SyncStream(_Stream):
    name = "sync-stream"
    path_prefixes = ("/hookpipe/sync/",)

    def respond(self, request: HttpRequest, content: bytes) -> Iterator[bytes]:
        return chunks()


class AsyncStream(_Stream):
    name = "async-stream"
    path_prefixes = ("/hookpipe/async/",)

    async def respond(self, request: HttpRequest, content: bytes) -> AsyncIterator[bytes]:
        async for chunk in achunks():
            yield chunk


class SlowSyncStream(_Stream):
    name = "slow-sync-stream"
    path_prefixes = ("/hookpipe/slow-sync/",)

    def respond(self, request: HttpRequest, content: bytes) -> Iterator[bytes]:
        return slow_chunks()


class SlowAsyncStream(_Stream):
    name = "slow-async-stream"
    path_prefixes = ("/hookpipe/slow-async/",)

    async def respond(self, request: HttpRequest, content: bytes) -> AsyncIterator[bytes]:
        async for chunk in aslow_chunks():
            yield chunk


urlpatterns = [
    path("ready/", ready),
    path("plain/sync/", plain_sync),
    path("plain/async/", plain_async),
    path("plain/slow-sync/", plain_slow_sync),
    path("plain/slow-async/", plain_slow_async),
]

wsgi = get_wsgi_application()
asgi = get_asgi_application()
