"""Views with and without per-view hooks."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotFound
from django.views import View
from django.views.decorators.http import require_GET

from hookpipe import with_hooks

from .hooks import EVENTS, AfterOnly, AsyncRecorder, Recorder, Seen

#: One instance given to a base class and to its subclass: counted once.
SHARED = Recorder("shared", priority=50)


def _seen(label: str) -> None:
    EVENTS.append(Seen(label, "", thread=threading.get_ident()))


def plain(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    _seen("view")
    return HttpResponse("plain")


async def async_plain(request: HttpRequest) -> HttpResponse:
    await asyncio.sleep(0)
    _seen("view")
    return HttpResponse("async plain")


def plain_broken(request: HttpRequest) -> HttpResponse:
    _seen("view")
    raise RuntimeError("view failed")


def plain_not_found(request: HttpRequest) -> HttpResponse:
    raise Http404("view says no")


def plain_forbidden(request: HttpRequest) -> HttpResponse:
    raise PermissionDenied("view says not you")


def returns_404(request: HttpRequest) -> HttpResponse:
    """Answers 404 without raising: an answer, not an error."""
    return HttpResponseNotFound("nothing here")


class AnswersInProcessView:
    """A middleware that answers ``?block=1`` with a 403 before calling the rest of
    Django, and whose process_view answers ``?deny=1`` with a 403. Listed before
    HookpipeMiddleware, its process_view runs first, so ``before`` hooks don't."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> Any:
        if request.GET.get("block"):  # answers before routing (when listed below hookpipe)
            return HttpResponse("blocked", status=403)
        return self.get_response(request)

    def process_view(self, request: HttpRequest, *args: Any) -> HttpResponse | None:
        return HttpResponse("denied", status=403) if request.GET.get("deny") else None


def form(request: HttpRequest) -> HttpResponse:
    if request.GET.get("read"):
        request.POST.get("x")  # parse the form, as a view normally does
    return HttpResponse("form")


V1 = Recorder("v1")
V2 = Recorder("v2", priority=10)


@with_hooks(V1, V2, V1)
def hooked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    _seen("view")
    return HttpResponse("hooked")


#: Answers in ``before`` ahead of the global hooks (priority 10 < 100).
GUARD = Recorder("guard", priority=10, respond_in=["before"], status=403)


@with_hooks(GUARD)
def guarded(request: HttpRequest) -> HttpResponse:
    _seen("view")
    return HttpResponse("guarded")


@with_hooks(AfterOnly())
@with_hooks(GUARD)
def guarded_logged(request: HttpRequest) -> HttpResponse:
    _seen("view")
    return HttpResponse("guarded")


@with_hooks(AsyncRecorder("av"))
async def async_hooked(request: HttpRequest) -> HttpResponse:
    await asyncio.sleep(0)
    _seen("view")
    return HttpResponse("async hooked")


@with_hooks(Recorder("bv"))
def hooked_broken(request: HttpRequest) -> HttpResponse:
    _seen("view")
    raise RuntimeError("view failed")


@with_hooks(Recorder("outer"))
@with_hooks(Recorder("inner"))
def stacked(request: HttpRequest) -> HttpResponse:
    _seen("view")
    return HttpResponse("stacked")


@require_GET
@with_hooks(Recorder("wrapped"))
def wrapped(request: HttpRequest) -> HttpResponse:
    _seen("view")
    return HttpResponse("wrapped")


@with_hooks(SHARED, Recorder("base"))
class BaseView(View):
    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        _seen("view")
        return HttpResponse(type(self).__name__)


class Mixin:
    pass


with_hooks(Recorder("mixin", priority=100))(Mixin)


@with_hooks(SHARED, Recorder("child"))
class ChildView(Mixin, BaseView):
    pass


class QuietChild(BaseView):
    """Declares nothing: inherits BaseView's hooks."""


@with_hooks(AsyncRecorder("acbv"))
class AsyncView(View):
    async def get(self, request: HttpRequest) -> HttpResponse:
        await asyncio.sleep(0)
        _seen("view")
        return HttpResponse("async cbv")


#: Hooks given to the function ``as_view()`` returns are declared before the class's.
decorated_as_view = with_hooks(Recorder("fn-level"))(BaseView.as_view())


def create_group(request: HttpRequest) -> HttpResponse:
    """Writes a row, then fails if asked to: for TransactionHook."""
    Group.objects.create(name=request.POST.get("name", "made"))
    if request.GET.get("fail") == "raise":
        raise RuntimeError("view failed after writing")
    if request.GET.get("fail") == "500":
        return HttpResponse("server error", status=500)
    return HttpResponse("created", status=201)
