from __future__ import annotations

import asyncio

from django.http import HttpRequest, HttpResponse, JsonResponse


def index(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"trace_in": request.META.get("trace_in", [])})


async def async_index(request: HttpRequest) -> HttpResponse:
    await asyncio.sleep(0)
    return JsonResponse({"trace_in": request.META.get("trace_in", []), "async": True})


def broken(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("view failed")
