"""What the benchmark variants are made of: a trivial view, pass-through tweens, hooks
with trivial work, and the same work written as plain Django middleware.

Each piece does the same small amount of work wherever it runs (read a header on the
way in, set one on the way out), so that the variants differ only in the machinery.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.urls import path

from hookpipe import Hook, State

Handler = Callable[[HttpRequest], HttpResponseBase]


def view(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"ok", content_type="text/plain")


urlpatterns = [path("", view)]


def passthrough(handler: Handler, registry: Any, n: int = 0) -> Handler:
    """A tween factory: the smallest useful tween."""
    header = f"X-Tween-{n}"

    def tween(request: HttpRequest) -> HttpResponseBase:
        request.META.get("HTTP_X_TRACE")
        response = handler(request)
        response.headers[header] = "1"
        return response

    return tween


class Touching(Hook):
    """A hook doing the same trivial work in before and after."""

    def __init__(self, n: int = 0) -> None:
        self.header = f"X-Hook-{n}"

    def before(self, state: State) -> None:
        state.request.META.get("HTTP_X_TRACE")

    def after(self, state: State) -> None:
        if state.response is not None:
            state.response.headers[self.header] = "1"


class PassthroughMiddleware:
    """The tween's work as a plain Django middleware (for variant D)."""

    n = 0

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response
        self.header = f"X-Mw-{self.n}"

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        request.META.get("HTTP_X_TRACE")
        response = self.get_response(request)
        response.headers[self.header] = "1"
        return response


class ViewMiddleware:
    """The hook's work as a plain Django middleware: before in process_view."""

    n = 0

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response
        self.header = f"X-Mwv-{self.n}"

    def process_view(self, request: HttpRequest, *args: Any) -> None:
        request.META.get("HTTP_X_TRACE")

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        response.headers[self.header] = "1"
        return response


# Ten distinct classes, so that Django's middleware list holds ten entries.
for _i in range(5):
    globals()[f"Passthrough{_i}"] = type(f"Passthrough{_i}", (PassthroughMiddleware,), {"n": _i})
    globals()[f"View{_i}"] = type(f"View{_i}", (ViewMiddleware,), {"n": _i})
