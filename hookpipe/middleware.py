"""The one line a project adds to ``MIDDLEWARE``. It holds no policy of its own: the
pipeline (:mod:`hookpipe.pipeline`) is built once per process and does the work."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase

from . import hooks
from .pipeline.process import serve_async, serve_sync


class HookpipeMiddleware:
    """Runs every request through the ``HOOKPIPE`` pipeline, natively sync or async."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        # Nothing is built here: Django creates middleware at import time of the WSGI
        # or ASGI application, which under gunicorn --preload is the master process.
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)
        # Django calls process_view after URL resolution, in the handler's mode: it
        # wraps a sync one in sync_to_async under ASGI (a thread hop per request) and an
        # async one in async_to_sync under WSGI. Our get_response is async exactly when
        # the handler below is, which under ASGI and WSGI alike is the handler's mode
        # unless a middleware below us is of the other kind (then Django adapts; still
        # correct). ``before`` hooks run here; see hookpipe.hooks.
        self.process_view: Callable[..., Any] = (
            hooks.process_view_async if self.is_async else hooks.process_view_sync
        )

    def process_exception(self, request: HttpRequest, exception: Exception) -> Any:
        """The view raised: ``on_error`` hooks may answer (Django calls this sync)."""
        return hooks.process_exception(request, exception)

    def __call__(self, request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        if self.is_async:
            return serve_async(request, self.get_response)
        return serve_sync(request, self.get_response)
