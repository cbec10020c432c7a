"""Shared fixtures. ``fetch`` sends one real request through Django's test client, under
WSGI (``Client``) or ASGI (``AsyncClient``): tests that take it run once for each."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.http import HttpResponseBase
from django.test import AsyncClient, Client

from hookpipe.fleet import operations
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


@pytest.fixture(autouse=True)
def _switches_parked() -> Iterator[None]:
    """Most tests have no database: the switch check, which reads one, stays off unless
    a test asks for it (tests/test_switches.py) by resetting the fleet's watch."""
    operations.current().watch.reset()
    operations.current().watch.park()
    yield
    operations.current().watch.reset()
    operations.current().watch.park()
    # A test that let the check run started this process's publisher thread: stop it.
    operations.current().publisher.stop()


@pytest.fixture
def clean_fleet_cache() -> Iterator[None]:
    """The fleet's records start from an empty cache, and this process's publisher
    stops after the test."""
    from django.core.cache import caches

    caches["default"].clear()
    yield
    operations.current().publisher.stop()
    caches["default"].clear()


ROOT = Path(__file__).resolve().parent.parent


def manage_check(tmp_path: Path, settings_source: str) -> subprocess.CompletedProcess[str]:
    """Run ``django check`` in a fresh process with a settings module written from
    ``settings_source``, as a user would: the output is what the user sees."""
    return manage(tmp_path, settings_source, "check")


def manage(tmp_path: Path, settings_source: str, *command: str) -> subprocess.CompletedProcess[str]:
    """Run ``django <command>`` as :func:`manage_check` runs ``check``."""
    module = f"check_settings_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{module}.py").write_text(settings_source)
    return subprocess.run(
        [sys.executable, "-m", "django", *command, "--settings", module],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": f"{tmp_path}:{ROOT}", "PATH": "/usr/bin:/bin"},
        timeout=60,
        check=False,
    )
