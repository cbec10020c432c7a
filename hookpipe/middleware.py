"""The one line a project adds to ``MIDDLEWARE``. It holds no policy of its own: the
pipeline (:mod:`hookpipe.core`) is built once per process and does the work."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import async_to_sync, iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.http import HttpRequest, HttpResponseBase

from . import hooks
from .context import mark_raised
from .core import mode
from .core.process import serve_async, serve_sync


class _AsksForItsMode(type):
    """Django reads ``async_capable`` from the middleware *class* when it loads
    ``MIDDLEWARE``; this answers from ``HOOKPIPE`` at that moment (see
    :mod:`hookpipe.core.mode`), rather than once at import time."""

    @property
    def async_capable(cls) -> bool:
        return mode.pieces_are_async()


class HookpipeMiddleware(metaclass=_AsksForItsMode):
    """Runs every request through the ``HOOKPIPE`` pipeline, natively sync or async.

    Under ASGI it is async-capable only when the pieces of the pipeline are async, so
    that Django can keep its middleware stack in one mode (:mod:`hookpipe.core.mode`).
    """

    sync_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        # Nothing is built here: Django creates middleware at import time of the WSGI
        # or ASGI application, which under gunicorn --preload is the master process.
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)
        # MAIN calls the rest of Django from sync or from async code, whichever its
        # caller is (a tween of the other kind may sit above it): adapted here, once,
        # as Django adapts its middleware, rather than once per request.
        self.below_sync: Callable[[HttpRequest], Any] = get_response
        self.below_async: Callable[[HttpRequest], Awaitable[Any]] = get_response
        if self.is_async:
            self.below_sync = async_to_sync(get_response)
        else:
            self.below_async = sync_to_async(get_response, thread_sensitive=True)
        # Django calls process_view after URL resolution, for every request, adapted to
        # the handler's mode: a sync one costs a thread hop per request under ASGI. So it
        # is there only when some request may have ``before`` hooks to run (global hooks,
        # or a view with its own); Django looks for it once, when it loads MIDDLEWARE.
        # Our get_response is async exactly when the handler below is, which is the
        # handler's mode unless a middleware below us is of the other kind (then Django
        # adapts; still correct).
        if mode.needs_process_view():
            self.process_view: Callable[..., Any] = (
                hooks.process_view_async if self.is_async else hooks.process_view_sync
            )

    def process_exception(self, request: HttpRequest, exception: Exception) -> Any:
        """The view raised: ``on_error`` hooks may answer (Django calls this sync)."""
        mark_raised(request)
        return hooks.process_exception(request, exception)

    def __call__(self, request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        if self.is_async:
            return serve_async(request, self.below_sync, self.below_async)
        return serve_sync(request, self.below_sync, self.below_async)
