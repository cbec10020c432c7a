"""Tweens and chain handlers, through real requests under WSGI and ASGI."""

from __future__ import annotations

import json
import logging
import os
from typing import Any

import asgiref.sync
import pytest
from django.test import override_settings

from hookpipe.core import process as pipeline_process
from tests.conftest import Fetch
from tests.testapp import tweens

T = "tests.testapp.tweens."


def trace(response: Any) -> list[str]:
    """Tween labels in the order their response side ran (innermost first)."""
    value = response.headers.get(tweens.TRACE, "")
    return value.split(",") if value else []


def entered(response: Any) -> list[str]:
    """Tween labels in the order their request side ran (outermost first)."""
    return json.loads(response.content)["trace_in"]  # type: ignore[no-any-return]


def tween(factory: str, **entry: Any) -> dict[str, Any]:
    return {"factory": T + factory, **entry}


def test_no_hookpipe_setting_passes_requests_through(fetch: Fetch) -> None:
    with override_settings(HOOKPIPE={}):
        response = fetch("/")
    assert response.status_code == 200
    assert entered(response) == []


def test_unhinted_tweens_run_in_list_order(fetch: Fetch) -> None:
    with override_settings(HOOKPIPE={"TWEENS": [T + "first", T + "second", T + "third"]}):
        response = fetch("/")
    assert entered(response) == ["first", "second", "third"]
    assert trace(response) == ["third", "second", "first"]


def test_hints_reorder(fetch: Fetch) -> None:
    config = {
        "TWEENS": [
            tween("first", over="hookpipe.MAIN"),
            T + "second",
            tween("third", over=T + "second"),
        ]
    }
    with override_settings(HOOKPIPE=config):
        assert entered(fetch("/")) == ["third", "second", "first"]


def test_one_factory_twice_under_aliases_with_options(fetch: Fetch) -> None:
    config = {
        "TWEENS": [
            tween("labelled", name="inner", options={"label": "inner"}),
            tween("labelled", name="outer", under="hookpipe.INGRESS", options={"label": "outer"}),
            tween("needs_option", options={"realm": "api"}),
        ]
    }
    with override_settings(HOOKPIPE=config):
        response = fetch("/")
    assert entered(response) == ["outer", "inner"]
    assert response.headers["X-Realm"] == "api"


def test_sync_async_and_class_styles_mix(fetch: Fetch) -> None:
    config = {
        "TWEENS": [
            tween("labelled", name="sync", options={"label": "sync"}),
            tween("async_labelled", name="async", options={"label": "async"}),
            tween("ClassTween", name="class", options={"label": "class"}),
            tween("AsyncClassTween", name="aclass", options={"label": "aclass"}),
            {"handler": T + "chain_marker"},
            {"handler": T + "async_chain_marker"},
        ]
    }
    with override_settings(HOOKPIPE=config):
        for path in ("/", "/async/"):
            response = fetch(path)
            assert response.status_code == 200
            assert entered(response) == ["sync", "async", "class", "aclass", "chain", "achain"]
            assert trace(response) == ["achain", "chain", "aclass", "class", "async", "sync"]


@pytest.mark.parametrize("path", ["/", "/async/"])
def test_tangled_handlers_call_next_handler_with_the_app(fetch: Fetch, path: str) -> None:
    # Tangled calls next_handler(app, request); hookpipe's own form is
    # next_handler(request). Both work, in any mix, with tweens of either kind below.
    config = {
        "TWEENS": [
            {"handler": T + "tangled_marker"},
            {"handler": T + "chain_marker"},
            {"handler": T + "tangled_marker", "name": "tangled-2"},
            {"handler": T + "async_tangled_marker"},
            tween("labelled", name="sync", options={"label": "sync"}),
            {"handler": T + "async_tangled_marker", "name": "atangled-2"},
        ]
    }
    with override_settings(HOOKPIPE=config):
        response = fetch(path)
    assert response.status_code == 200
    assert entered(response) == ["tangled", "chain", "tangled", "atangled", "sync", "atangled"]
    assert trace(response) == ["atangled", "sync", "atangled", "tangled", "chain", "tangled"]


def test_a_tween_that_returns_the_handler_is_omitted(fetch: Fetch) -> None:
    with override_settings(HOOKPIPE={"TWEENS": [T + "first", T + "omitted", T + "second"]}):
        response = fetch("/")
        described = pipeline_process.get_pipeline().describe()
    assert entered(response) == ["first", "second"]
    assert [(t["name"].rsplit(".", 1)[1], t["omitted"]) for t in described["tweens"]] == [
        ("first", False),
        ("omitted", True),
        ("second", False),
    ]


def test_a_tween_can_answer_without_calling_down(fetch: Fetch) -> None:
    config = {"TWEENS": [T + "first", T + "short_circuit", T + "second"]}
    with override_settings(HOOKPIPE=config):
        response = fetch("/?stop=1")
    assert response.status_code == 401
    assert response.content == b"stopped"
    assert trace(response) == ["first"]


def test_explicit_order_runs_exactly_those(fetch: Fetch) -> None:
    config = {
        "TWEENS": [T + "first", tween("second", over="hookpipe.MAIN"), T + "third"],
        "TWEEN_ORDER": [T + "second", T + "first"],
    }
    with override_settings(HOOKPIPE=config):
        response = fetch("/")
        assert pipeline_process.get_pipeline().describe()["tween_order"] == "explicit"
    assert entered(response) == ["second", "first"]


def test_registry_and_app_see_settings_and_pipeline(fetch: Fetch) -> None:
    config = {"TWEENS": [T + "sees_registry", {"handler": T + "chain_reads_app"}]}
    with override_settings(HOOKPIPE=config):
        response = fetch("/")
    assert response.headers["X-Tweens"] == f"{T}sees_registry,{T}chain_reads_app"
    assert response.headers["X-Debug-Setting"] == "False"
    assert response.headers["X-App-Order"] == "implicit"


# -------------------------------------------------------------------- failsafe


@pytest.mark.parametrize(
    ("factory", "status"),
    [("raising", 500), ("async_raising", 500), ("returns_none", 500)],
)
def test_a_failing_tween_gives_a_500_and_the_onion_unwinds(
    fetch: Fetch, caplog: pytest.LogCaptureFixture, factory: str, status: int
) -> None:
    config = {"TWEENS": [T + "first", T + factory, T + "second"]}
    with override_settings(HOOKPIPE=config), caplog.at_level(logging.WARNING, "hookpipe"):
        response = fetch("/")
    assert response.status_code == status
    # The tween above the failing one still ran its response side.
    assert trace(response) == ["first"]
    [record] = [r for r in caplog.records if r.name == "hookpipe"]
    assert record.levelno == logging.ERROR
    assert f"tween '{T}{factory}'" in record.getMessage()


@pytest.mark.parametrize(("exc", "status"), [("404", 404), ("403", 403)])
def test_django_exceptions_from_a_tween_keep_their_status(
    fetch: Fetch, caplog: pytest.LogCaptureFixture, exc: str, status: int
) -> None:
    config = {"TWEENS": [T + "first", tween("raising", options={"exc": exc})]}
    with override_settings(HOOKPIPE=config), caplog.at_level(logging.WARNING, "hookpipe"):
        response = fetch("/")
    assert response.status_code == status
    assert trace(response) == ["first"]
    [record] = [r for r in caplog.records if r.name == "hookpipe"]
    assert record.levelno == logging.WARNING


def test_debug_shows_the_technical_500_page(fetch: Fetch) -> None:
    config = {"TWEENS": [T + "raising"]}
    with override_settings(HOOKPIPE=config, DEBUG=True):
        response = fetch("/", HTTP_ACCEPT="text/html")
    assert response.status_code == 500
    assert b"tween failed" in response.content
    assert b"RuntimeError" in response.content


def test_chain_handler_returning_none_is_a_500_naming_it(
    fetch: Fetch, caplog: pytest.LogCaptureFixture
) -> None:
    config = {"TWEENS": [T + "first", {"handler": T + "chain_returns_none"}]}
    with override_settings(HOOKPIPE=config), caplog.at_level(logging.ERROR, "hookpipe"):
        response = fetch("/")
    assert response.status_code == 500
    assert trace(response) == ["first"]
    [record] = [r for r in caplog.records if r.name == "hookpipe"]
    assert f"chain handler '{T}chain_returns_none' returned NoneType" in record.getMessage()


def test_a_failing_view_still_passes_back_through_the_tweens(fetch: Fetch) -> None:
    with override_settings(HOOKPIPE={"TWEENS": [T + "first", T + "second"]}):
        response = fetch("/broken/")
    assert response.status_code == 500
    assert trace(response) == ["second", "first"]


@pytest.mark.parametrize(
    ("config", "logged"),
    [
        ({"TWEENS": [T + "factory_raises"]}, "ValueError: factory cannot start"),
        ({"TWEENS": [T + "not_callable_tween"]}, "returned int, not a callable"),
        ({"TWEENS": [T + "nope"]}, "hookpipe.E007"),
    ],
)
def test_a_pipeline_that_cannot_be_built_fails_closed(
    fetch: Fetch, caplog: pytest.LogCaptureFixture, config: dict[str, Any], logged: str
) -> None:
    with override_settings(HOOKPIPE=config), caplog.at_level(logging.ERROR, "hookpipe"):
        first = fetch("/")
        second = fetch("/")
    assert (first.status_code, second.status_code) == (500, 500)
    # Logged once, not once per request.
    [record] = [r for r in caplog.records if r.name == "hookpipe"]
    assert logged in record.getMessage()


# ------------------------------------------------------------------ lifecycle


def test_built_once_and_rebuilt_when_the_setting_changes(fetch: Fetch) -> None:
    with override_settings(HOOKPIPE={"TWEENS": [T + "first", T + "second"]}):
        for _ in range(3):
            fetch("/")
        assert [label for label, _ in tweens.CALLS] == ["second", "first"]
    with override_settings(HOOKPIPE={"TWEENS": [T + "third"]}):
        assert entered(fetch("/")) == ["third"]
    assert [label for label, _ in tweens.CALLS] == ["second", "first", "third"]


def test_nothing_is_built_before_the_first_request() -> None:
    from django.core.handlers.wsgi import WSGIHandler

    with override_settings(HOOKPIPE={"TWEENS": [T + "first"]}):
        WSGIHandler()  # loads every middleware, as a gunicorn --preload master does
        assert tweens.CALLS == []
        assert pipeline_process.current_pipeline() is None


class HopCounter:
    """Counts thread switches made through asgiref during a request."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        for cls in (asgiref.sync.SyncToAsync, asgiref.sync.AsyncToSync):
            original = cls.__call__

            def counting(self_: Any, *args: Any, _original: Any = original, **kw: Any) -> Any:
                self.count += 1
                return _original(self_, *args, **kw)

            monkeypatch.setattr(cls, "__call__", counting)


def hops(fetch: Fetch, monkeypatch: pytest.MonkeyPatch, config: dict[str, Any]) -> int:
    with override_settings(HOOKPIPE=config):
        fetch("/async/")  # build first: building may hop once
        with monkeypatch.context() as patch:
            counter = HopCounter(patch)
            fetch("/async/")
    return counter.count


def async_tweens(*labels: str) -> dict[str, Any]:
    return {"TWEENS": [tween("async_labelled", name=n, options={"label": n}) for n in labels]}


def test_a_run_of_tweens_of_one_kind_costs_no_more_switches_than_one(
    fetch: Fetch, monkeypatch: pytest.MonkeyPatch
) -> None:
    one = hops(fetch, monkeypatch, {"TWEENS": [T + "first"]})
    three = hops(fetch, monkeypatch, {"TWEENS": [T + "first", T + "second", T + "third"]})
    assert three == one
    one_async = hops(fetch, monkeypatch, async_tweens("a"))
    three_async = hops(fetch, monkeypatch, async_tweens("a", "b", "c"))
    assert three_async == one_async
    # Native kinds cost nothing: sync tweens under WSGI, async ones under ASGI.
    none = hops(fetch, monkeypatch, {})
    assert (one if fetch.kind == "wsgi" else one_async) == none  # type: ignore[attr-defined]


def test_a_factory_that_failed_is_tried_again_after_a_while(
    fetch: Fetch, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with override_settings(HOOKPIPE={"TWEENS": [T + "flaky"]}):
        assert fetch("/").status_code == 500
        assert fetch("/").status_code == 500  # within the retry interval: not rebuilt
        assert len(tweens.CALLS) == 1
        monkeypatch.setattr(pipeline_process, "RETRY_FAILED_BUILD_AFTER", 0.0)
        with caplog.at_level(logging.INFO, "hookpipe"):
            response = fetch("/")
    assert response.status_code == 200
    assert entered(response) == ["flaky"]
    assert f"pipeline built in process {os.getpid()}: {T}flaky" in caplog.text


@pytest.mark.parametrize("tweens", [["first", "second"], []], ids=["under-tweens", "alone"])
def test_an_error_in_main_is_hookpipes_not_the_innermost_tweens(
    fetch: Fetch, caplog: pytest.LogCaptureFixture, tweens: list[str]
) -> None:
    # A pool handler takes the request, so MAIN reads its query for the snapshot, and
    # Django refuses a query with more fields than DATA_UPLOAD_MAX_NUMBER_FIELDS.
    config = {"TWEENS": [T + t for t in tweens], "HANDLERS": ["tests.testapp.plugins.Recorder"]}
    with (
        override_settings(HOOKPIPE=config, DATA_UPLOAD_MAX_NUMBER_FIELDS=2),
        caplog.at_level(logging.WARNING, "hookpipe"),
    ):
        response = fetch("/webhooks/in?a=1&b=2&c=3", method="post", data=b"{}", content_type="a/b")
    assert response.status_code == 400  # Django's answer to TooManyFieldsSent
    # The tweens got a response back and ran their response side.
    assert trace(response) == list(reversed(tweens))
    [record] = [r for r in caplog.records if r.name == "hookpipe" and "raised" in r.getMessage()]
    assert record.getMessage().startswith("hookpipe 'hookpipe.MAIN' raised TooManyFieldsSent")
