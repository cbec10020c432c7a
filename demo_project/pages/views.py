"""The demo's views. They are plain Django views: hookpipe's tweens run around them."""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone

from demo_project.hooks import Audit, FriendlyErrors
from hookpipe import context_of, with_hooks

#: The default key is public anyway, so the page may fill it in; a real one never is.
DEFAULT_API_KEY = "demo-key"


def _declared_names() -> list[str]:
    """Tween names in the order ``HOOKPIPE["TWEENS"]`` lists them."""
    names: list[str] = []
    entries: list[Any] = settings.HOOKPIPE.get("TWEENS", [])
    for entry in entries:
        if isinstance(entry, str):
            names.append(entry)
        else:
            names.append(entry.get("name") or entry.get("factory") or entry.get("handler"))
    return names


def _chain(request: HttpRequest) -> list[dict[str, Any]]:
    """The built chain, outermost first, with where each tween sits in the settings list."""
    declared = _declared_names()
    chain = []
    for tween in context_of(request).pipeline.describe()["tweens"]:
        listed = declared.index(tween["name"]) + 1 if tween["name"] in declared else None
        chain.append({**tween, "listed": listed})
    return chain


def home(request: HttpRequest) -> HttpResponse:
    context = {
        "chain": _chain(request),
        "declared": _declared_names(),
        "request_id": getattr(request, "request_id", None),
        "layers": getattr(request, "demo_layers", []),
        "interface": getattr(request, "demo_interface", None),
        "prefilled_key": DEFAULT_API_KEY if settings.DEMO_API_KEY == DEFAULT_API_KEY else "",
    }
    return render(request, "pages/home.html", context)


@with_hooks(Audit())
def api_status(request: HttpRequest) -> JsonResponse:
    """Reached only with a valid X-Api-Key: the api-key tween answers everything else."""
    return JsonResponse(
        {
            "status": "ok",
            "time": timezone.now().isoformat(),
            "interface": getattr(request, "demo_interface", None),
            "request_id": getattr(request, "request_id", None),
            "layers": getattr(request, "demo_layers", []),
            "pid": os.getpid(),
        }
    )


def api_pipeline(request: HttpRequest) -> JsonResponse:
    """The built chain as JSON, the same data ``manage.py hookpipe --json`` prints."""
    return JsonResponse(context_of(request).pipeline.describe())


@with_hooks(Audit(), FriendlyErrors())
def broken(request: HttpRequest) -> HttpResponse:
    """Fails on purpose: the FriendlyErrors hook answers instead of Django's 500 page."""
    raise RuntimeError("this page fails on purpose")
