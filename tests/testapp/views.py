from __future__ import annotations

import asyncio
import threading

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from hookpipe import context_of

from .models import Delivery


def index(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"trace_in": request.META.get("trace_in", [])})


async def async_index(request: HttpRequest) -> HttpResponse:
    await asyncio.sleep(0)
    return JsonResponse({"trace_in": request.META.get("trace_in", []), "async": True})


def broken(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("view failed")


def accept_webhook(request: HttpRequest) -> HttpResponse:
    """What a webhook view does: 202 when a handler's job will be stored, with what
    ``request.hookpipe`` says of each handler's job."""
    return JsonResponse({"jobs": context_of(request).jobs or {}}, status=202)


#: Set by a test: a request to ``held_webhook`` with ``X-Hold`` sets ``ENTERED`` and
#: waits for ``RELEASE``.
ENTERED = threading.Event()
RELEASE = threading.Event()


def held_webhook(request: HttpRequest) -> HttpResponse:
    """Answers like ``accept_webhook``; with an ``X-Hold`` header, only once the test
    sets :data:`RELEASE`: the request has passed MAIN and waits, unanswered."""
    if request.headers.get("X-Hold"):
        ENTERED.set()
        RELEASE.wait(timeout=10)
    return JsonResponse({"jobs": context_of(request).jobs or {}}, status=202)


def store_delivery(request: HttpRequest) -> HttpResponse:
    """Writes the delivery's row, then raises when asked to (``?fail=1``): under a
    transaction the row is rolled back, and the job that went with it must be too."""
    Delivery.objects.create(key=request.headers["X-Key"])
    if request.GET.get("fail"):
        raise RuntimeError("the view failed after writing")
    return JsonResponse({"jobs": context_of(request).jobs or {}}, status=202)


@csrf_exempt
def upload(request: HttpRequest) -> HttpResponse:
    """A file upload form's view: the sizes of the files Django's upload handlers got."""
    return JsonResponse({name: f.size for name, f in request.FILES.items()})
