"""Count what hookpipe's requests cost in I/O, in a process of their own.

``python -m tests.io_count core|fleet N``: a project with ``hookpipe`` alone (``core``)
or with ``hookpipe.fleet`` too (``fleet``) in ``INSTALLED_APPS``, and a ``HOOKPIPE``
with a tween, a chain handler, global hooks, a pool and an inline handler and a
responder, serves N requests through Django's test client and N through its async
client (half to a view, half to the responder). Every database query (any thread) and
every cache operation (a counting cache backend) is counted, and the threads started
are named. One JSON line goes to stdout. ``tests/test_core_io.py`` runs it as
``python -m tests.io_count``.
"""

from __future__ import annotations

import json
import sys
import threading
from typing import Any

import django
from django.conf import settings
from django.core.cache.backends.locmem import LocMemCache
from django.http import HttpRequest, HttpResponse
from django.urls import path

COUNTS = {"queries": 0, "cache": 0}


class CountingCache(LocMemCache):
    """A process-local cache that counts every operation made on it."""

    def _counted(name: str) -> Any:  # type: ignore[misc]  # a helper of the class body
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            COUNTS["cache"] += 1
            return getattr(LocMemCache, name)(self, *args, **kwargs)

        return call

    for _name in ("get", "set", "add", "delete", "get_many", "set_many", "touch", "incr"):
        locals()[_name] = _counted(_name)
    del _name


def view(request: HttpRequest) -> HttpResponse:
    return HttpResponse("view")


urlpatterns = [path("page/", view)]


def main(mode: str, n: int) -> dict[str, Any]:
    apps = ["django.contrib.contenttypes", "django.contrib.auth", "hookpipe"]
    if mode == "fleet":
        apps.append("hookpipe.fleet")
    settings.configure(
        DEBUG=False,
        SECRET_KEY="io-count-only",
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=apps,
        MIDDLEWARE=["hookpipe.middleware.HookpipeMiddleware"],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        CACHES={"default": {"BACKEND": f"{__name__}.CountingCache"}},
        USE_TZ=True,
        HOOKPIPE={
            "TWEENS": [
                "tests.testapp.tweens.labelled",
                {"handler": "tests.testapp.tweens.chain_marker"},
            ],
            "HOOKS": ["tests.testapp.hooks.Recorder"],
            "HANDLERS": ["tests.testapp.plugins.Recorder", "tests.testapp.plugins.InlineRecorder"],
            "RESPONDERS": ["tests.testapp.plugins.Chunks"],
        },
    )
    django.setup()
    from asgiref.sync import async_to_sync
    from django.core.management import call_command
    from django.db.backends.utils import CursorWrapper
    from django.test import AsyncClient, Client

    call_command("migrate", verbosity=0)  # the fleet's tables, where it is installed
    COUNTS["cache"] = 0

    def counting(method: Any) -> Any:
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            COUNTS["queries"] += 1
            return method(self, *args, **kwargs)

        return call

    CursorWrapper.execute = counting(CursorWrapper.execute)  # type: ignore[method-assign]
    CursorWrapper.executemany = counting(CursorWrapper.executemany)  # type: ignore[method-assign]
    before = {t.ident for t in threading.enumerate()}
    client, aclient = Client(), AsyncClient()
    statuses = set()
    for i in range(n):
        target = "/webhooks/x" if i % 2 else "/stream/sync"
        statuses.add(client.post(target, b"x", content_type="a/b").status_code)
        statuses.add(async_to_sync(aclient.post)(target, b"x", content_type="a/b").status_code)
    started = sorted({t.name for t in threading.enumerate() if t.ident not in before})
    return {"requests": 2 * n, "statuses": sorted(statuses), **COUNTS, "threads": started}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], int(sys.argv[2]))))
