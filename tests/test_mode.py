"""The mode hookpipe's middleware asks Django for, and its ``process_view`` (issue 12):
from the pieces of ``HOOKPIPE``, so that under ASGI Django keeps its stack in one mode
and no request pays for a hop nobody asked for (:mod:`hookpipe.core.mode`)."""

from __future__ import annotations

from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.test import override_settings
from django.urls import path

from hookpipe.middleware import HookpipeMiddleware

from .conftest import Fetch
from .test_tweens import HopCounter

T = "tests.testapp.tweens."
SYNC_HOOK = {"class": "tests.testapp.hooks.BeforeOnly"}
ASYNC_HOOK = {"class": "tests.testapp.hooks.AsyncRecorder"}


def view(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"ok")


#: A URLconf without per-view hooks (the test project's has some).
urlpatterns = [path("", view)]


class SyncOnly:
    """A plain sync-only middleware with a ``process_view``: what a sync pipeline must
    cost no more than under ASGI."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        return self.get_response(request)  # type: ignore[no-any-return]

    def process_view(self, request: HttpRequest, *args: Any) -> None:
        return None


class SyncOnlyNoView:
    """:class:`SyncOnly` without ``process_view``."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        return self.get_response(request)  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("config", "is_async"),
    [
        ({}, True),
        ({"TWEENS": [T + "first"]}, False),
        ({"TWEENS": [T + "async_labelled"]}, True),  # marked @async_only_middleware
        ({"TWEENS": [{"handler": T + "async_chain_marker"}]}, True),
        ({"TWEENS": [{"handler": T + "chain_marker"}]}, False),
        ({"HOOKS": [SYNC_HOOK]}, False),
        ({"HOOKS": [ASYNC_HOOK]}, True),
        ({"HOOKS": [ASYNC_HOOK], "TWEENS": [T + "first"]}, False),
        ({"HANDLERS": ["tests.testapp.plugins.Recorder"]}, False),  # no prefilters
    ],
    ids=lambda v: repr(v) if isinstance(v, dict) else str(v),
)
def test_the_middleware_is_async_capable_when_its_pieces_are_async(
    config: dict[str, Any], is_async: bool
) -> None:
    with override_settings(HOOKPIPE=config):
        assert HookpipeMiddleware.async_capable is is_async
    assert HookpipeMiddleware.sync_capable is True  # WSGI: always sync


def test_prefiltered_plugins_do_not_make_it_sync() -> None:
    # They only run for the requests their prefilters let through.
    config = {
        "HANDLERS": ["tests.testapp.prefiltered.PostWebhooks"],
        "RESPONDERS": ["tests.testapp.prefiltered.FeedsGet"],
    }
    with override_settings(HOOKPIPE=config):
        assert HookpipeMiddleware.async_capable is True


@override_settings(ROOT_URLCONF=__name__)
def test_process_view_is_only_there_when_some_request_may_have_hooks() -> None:
    with override_settings(HOOKPIPE={"TWEENS": [T + "first"]}):
        assert not hasattr(HookpipeMiddleware(view), "process_view")
    with override_settings(HOOKPIPE={"HOOKS": [SYNC_HOOK]}):
        assert hasattr(HookpipeMiddleware(view), "process_view")


def test_views_with_their_own_hooks_keep_process_view() -> None:
    # The test project's URLconf has views with @with_hooks.
    with override_settings(HOOKPIPE={}):
        assert hasattr(HookpipeMiddleware(view), "process_view")


def hops(fetch: Fetch, monkeypatch: pytest.MonkeyPatch, **settings: Any) -> int:
    with override_settings(ROOT_URLCONF=__name__, **settings):
        fetch("/")  # the first request builds the pipeline
        with monkeypatch.context() as patch:
            counter = HopCounter(patch)
            fetch("/")
    return counter.count


@pytest.mark.parametrize("fetch", ["asgi"], indirect=True)
def test_under_asgi_a_sync_pipeline_costs_the_hops_of_one_sync_only_middleware(
    fetch: Fetch, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    # Before issue 12, hookpipe was async-capable whatever its pieces: Django then ran
    # the session, common, auth and messages middleware above it async, each crossing
    # threads for its process_request and process_response.
    above = [m for m in settings.MIDDLEWARE if "Hookpipe" not in m]
    plain = hops(fetch, monkeypatch, MIDDLEWARE=[*above, f"{__name__}.SyncOnly"])
    hooked = hops(
        fetch,
        monkeypatch,
        MIDDLEWARE=[*above, "hookpipe.middleware.HookpipeMiddleware"],
        HOOKPIPE={"TWEENS": [T + "first"], "HOOKS": [SYNC_HOOK]},
    )
    assert hooked == plain


@pytest.mark.parametrize("fetch", ["asgi"], indirect=True)
def test_under_asgi_sync_tweens_without_hooks_cost_no_process_view_hop(
    fetch: Fetch, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    above = [m for m in settings.MIDDLEWARE if "Hookpipe" not in m]
    plain = hops(fetch, monkeypatch, MIDDLEWARE=[*above, f"{__name__}.SyncOnlyNoView"])
    tweens = hops(fetch, monkeypatch, HOOKPIPE={"TWEENS": [T + "first"]})
    assert tweens == plain
