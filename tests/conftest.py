"""Shared fixtures. ``fetch`` sends one real request through Django's test client, under
WSGI (``Client``) or ASGI (``AsyncClient``): tests that take it run once for each."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.http import HttpResponseBase
from django.test import AsyncClient, Client

from tests.testapp import tweens

Fetch = Callable[..., HttpResponseBase]


@pytest.fixture(params=["wsgi", "asgi"])
def fetch(request: pytest.FixtureRequest) -> Fetch:
    """``fetch(path, method="get", **kwargs)`` -> response, through a fresh client."""
    kind = request.param

    def send(path: str, method: str = "get", **kwargs: Any) -> HttpResponseBase:
        if kind == "wsgi":
            client = Client(raise_request_exception=False)
            return getattr(client, method)(path, **kwargs)  # type: ignore[no-any-return]
        aclient = AsyncClient(raise_request_exception=False)
        return async_to_sync(getattr(aclient, method))(path, **kwargs)  # type: ignore[no-any-return]

    send.kind = kind  # type: ignore[attr-defined]
    return send


@pytest.fixture(autouse=True)
def _fresh_factory_calls() -> Iterator[None]:
    tweens.CALLS.clear()
    yield
    tweens.CALLS.clear()
