"""Hooks (Pecan semantics), through real requests under WSGI and ASGI.

Every ordering and error rule of docs/hooks.rst has a test here. Recording hooks live in
``tests/testapp/hooks.py``; each call lands in ``th.EVENTS`` and each ``after`` appends
its label to the ``X-After`` response header.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core import checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import AsyncClient, override_settings

import hookpipe
from hookpipe.checks import check_hookpipe
from hookpipe.core import process as pipeline
from hookpipe.hooks import runtime as hook_runtime
from tests.conftest import Fetch, manage_check
from tests.testapp import hook_views
from tests.testapp import hooks as th

ROOT = Path(__file__).resolve().parent.parent
H = "tests.testapp.hooks."
VIEWER = "hookpipe.RequestViewerHook"


def rec(label: str, **options: Any) -> dict[str, Any]:
    return {"class": H + "Recorder", "options": {"label": label, **options}}


def arec(label: str, **options: Any) -> dict[str, Any]:
    return {"class": H + "AsyncRecorder", "options": {"label": label, **options}}


def with_hooks(*entries: Any) -> Any:
    """``override_settings`` with these ``HOOKS``."""
    return override_settings(HOOKPIPE={"HOOKS": list(entries)})


def body(response: Any) -> bytes:
    return response.content  # type: ignore[no-any-return]


def after_header(response: Any) -> list[str]:
    value = response.headers.get("X-After", "")
    return value.split(",") if value else []


def phases(*names: str) -> list[str]:
    return [str(e) for e in th.EVENTS if e.phase in names]


@pytest.fixture(autouse=True)
def _fresh_events() -> Iterator[None]:
    th.EVENTS.clear()
    th.BUILT.clear()
    yield
    th.EVENTS.clear()
    th.BUILT.clear()


# ------------------------------------------------------------------ no hooks


def test_without_hooks_the_request_is_left_alone(fetch: Fetch) -> None:
    with override_settings(HOOKPIPE={}):
        response = fetch("/hooks/plain/")
        hooks = pipeline.get_pipeline().hooks
        assert not hooks.active
        assert hooks.for_view(hook_views.plain) is None
    assert response.status_code == 200
    assert body(response) == b"plain"
    assert th.trace() == ["view"]
    assert "X-After" not in response.headers


def test_without_hooks_errors_are_djangos(fetch: Fetch) -> None:
    with override_settings(HOOKPIPE={}):
        assert fetch("/hooks/plain-broken/").status_code == 500
        assert fetch("/hooks/nowhere/").status_code == 404


# --------------------------------------------------------------------- order


def test_global_hooks_run_by_priority_then_declaration(fetch: Fetch) -> None:
    with with_hooks(rec("c"), rec("a", priority=10), rec("b")):
        response = fetch("/hooks/plain/")
    assert th.trace() == [
        "a.on_route", "c.on_route", "b.on_route",
        "a.before", "c.before", "b.before",
        "view",
        "b.after", "c.after", "a.after",
    ]  # fmt: skip
    assert after_header(response) == ["b", "c", "a"]


def test_view_hooks_join_the_global_ones_in_one_sorted_list(fetch: Fetch) -> None:
    # hooked has V1 (priority 100), V2 (10) and V1 again, which counts once.
    with with_hooks(rec("g", priority=50)):
        fetch("/hooks/hooked/")
    assert th.trace() == [
        "g.on_route",
        "v2.before", "g.before", "v1.before",
        "view",
        "v1.after", "g.after", "v2.after",
    ]  # fmt: skip
    assert th.events("on_route")[0].hooks == ("g",)  # before routing: global hooks only
    assert th.events("before")[0].hooks == ("v2", "g", "v1")


def test_on_route_runs_before_routing_and_before_after_it(fetch: Fetch) -> None:
    with with_hooks(rec("g")):
        fetch("/hooks/plain/3/three/")
    (on_route,) = th.events("on_route")
    (before,) = th.events("before")
    assert on_route.view == "-"
    assert on_route.kwargs == ()
    assert before.view == "tests.testapp.hook_views.plain"
    assert before.kwargs == (("number", 3), ("slug", "three"))


def test_on_route_can_send_the_request_elsewhere(fetch: Fetch) -> None:
    with with_hooks(H + "Reroute"):
        response = fetch("/hooks/old/")
    assert response.status_code == 200
    assert body(response) == b"plain"


def test_hooks_overriding_one_method_and_duck_typed_hooks(fetch: Fetch) -> None:
    with with_hooks(H + "BeforeOnly", H + "DuckHook"):
        fetch("/hooks/plain/")
    assert th.trace() == [
        "duck.on_route", "before-only.before", "duck.before", "view", "duck.after"
    ]  # fmt: skip


# ------------------------------------------------------------ short circuits


def test_a_response_from_on_route_skips_routing_and_later_hooks(fetch: Fetch) -> None:
    with with_hooks(
        rec("a", priority=1), rec("b", priority=2, respond_in=["on_route"]), rec("c", priority=3)
    ):
        response = fetch("/hooks/plain/")
    assert body(response) == b"b.on_route"
    # c was never entered: neither its on_route nor its after runs.
    assert th.trace() == ["a.on_route", "b.on_route", "b.after", "a.after"]


def test_a_response_from_before_skips_the_view(fetch: Fetch) -> None:
    with with_hooks(rec("g", priority=50, respond_in=["before"], status=401)):
        response = fetch("/hooks/hooked/")
    assert response.status_code == 401
    # v1 (priority 100) was not entered; v2 (10) and g were.
    assert phases("before", "after") == ["v2.before", "g.before", "g.after", "v2.after"]
    assert "view" not in th.trace()


# -------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("path", "status", "exc"),
    [
        ("/hooks/plain-broken/", 500, "RuntimeError"),
        ("/hooks/plain-404/", 404, "Http404"),
        ("/hooks/plain-403/", 403, "PermissionDenied"),
        ("/hooks/nowhere/", 404, "Resolver404"),
    ],
    ids=["view-500", "view-404", "view-403", "routing-404"],
)
def test_unanswered_errors_get_djangos_response_which_after_sees(
    fetch: Fetch, path: str, status: int, exc: str
) -> None:
    with with_hooks(rec("a", priority=1), rec("b", priority=2)):
        response = fetch(path)
    assert response.status_code == status
    assert phases("on_error", "after") == ["b.on_error", "a.on_error", "b.after", "a.after"]
    assert {e.exc for e in th.events("on_error")} == {exc}
    assert {e.status for e in th.events("on_error")} == {None}  # no response yet
    assert [e.status for e in th.events("after")] == [status, status]


def test_the_first_on_error_response_wins_and_the_rest_are_skipped(fetch: Fetch) -> None:
    with with_hooks(
        rec("a", priority=1, respond_in=["on_error"]),
        rec("b", priority=2, respond_in=["on_error"], status=503),
        rec("c", priority=3),
    ):
        response = fetch("/hooks/plain-broken/")
    assert response.status_code == 503
    assert body(response) == b"b.on_error"
    assert phases("on_error") == ["c.on_error", "b.on_error"]
    assert [e.status for e in th.events("after")] == [503, 503, 503]


def test_routing_errors_reach_on_error(fetch: Fetch) -> None:
    with with_hooks(H + "AnswersNotFound"):
        not_found = fetch("/hooks/nowhere/")
        broken = fetch("/hooks/plain-broken/")
    assert not_found.status_code == 404
    assert body(not_found) == b"custom 404: Resolver404"
    assert broken.status_code == 500  # it answers only 404s: Django handles the rest


def test_a_failing_url_converter_reaches_on_error(fetch: Fetch) -> None:
    with with_hooks(rec("g")):
        response = fetch("/hooks/explode/now/")
    assert response.status_code == 500
    assert [e.exc for e in th.events("on_error")] == ["RuntimeError"]
    assert th.events("on_error")[0].view == "-"


def test_a_response_with_an_error_status_is_not_an_error(fetch: Fetch) -> None:
    with with_hooks(rec("g")):
        response = fetch("/hooks/returns-404/")
    assert response.status_code == 404
    assert th.events("on_error") == []
    assert phases("after") == ["g.after"]


def test_a_middleware_answering_in_process_view_first_skips_before_hooks(fetch: Fetch) -> None:
    # Django calls process_view in MIDDLEWARE order: one listed above hookpipe runs
    # first, and its answer means no before hook (nor the view) runs. The global hooks
    # entered on_route, so their after hooks run; an answer is not an error.
    middleware = [
        "tests.testapp.hook_views.AnswersInProcessView",
        "hookpipe.middleware.HookpipeMiddleware",
    ]
    with override_settings(MIDDLEWARE=middleware, HOOKPIPE={"HOOKS": [rec("g")]}):
        denied = fetch("/hooks/plain/?deny=1")
        allowed = fetch("/hooks/plain/")
    assert denied.status_code == 403
    assert allowed.status_code == 200
    assert th.trace() == [
        "g.on_route", "g.after",
        "g.on_route", "g.before", "view", "g.after",
    ]  # fmt: skip


def test_a_before_error_is_logged_with_the_hooks_name_and_handled(
    fetch: Fetch, caplog: pytest.LogCaptureFixture
) -> None:
    with with_hooks(rec("g", priority=50, raise_in=["before"])):
        response = fetch("/hooks/hooked/")
    assert response.status_code == 500
    assert "view" not in th.trace()
    # v1 (priority 100) was never entered, so it gets neither on_error nor after.
    assert phases("before", "on_error", "after") == [
        "v2.before", "g.before", "g.on_error", "v2.on_error", "g.after", "v2.after"
    ]  # fmt: skip
    assert "hook tests.testapp.hooks.Recorder.before raised RuntimeError: hook failed" in (
        caplog.text
    )
    assert any(r.name == "hookpipe" and r.levelno == logging.ERROR for r in caplog.records)


@pytest.mark.parametrize(("exc", "status"), [("404", 404), ("403", 403)])
def test_a_hook_may_raise_http_errors(
    fetch: Fetch, caplog: pytest.LogCaptureFixture, exc: str, status: int
) -> None:
    with with_hooks(rec("g", raise_in=["before"], exc=exc)):
        response = fetch("/hooks/plain/")
    assert response.status_code == status
    hook_records = [r for r in caplog.records if r.name == "hookpipe"]
    assert [r.levelno for r in hook_records] == [logging.WARNING]  # a client error


def test_an_on_route_error_stops_the_request_before_routing(fetch: Fetch) -> None:
    with with_hooks(
        rec("a", priority=1), rec("b", priority=2, raise_in=["on_route"]), rec("c", priority=3)
    ):
        response = fetch("/hooks/plain/")
    assert response.status_code == 500
    assert th.trace() == [
        "a.on_route", "b.on_route", "b.on_error", "a.on_error", "b.after", "a.after"
    ]  # fmt: skip


def test_an_on_error_hook_may_answer_an_on_route_error(fetch: Fetch) -> None:
    with with_hooks(
        rec("a", priority=1, respond_in=["on_error"], status=418),
        rec("b", priority=2, raise_in=["on_route"]),
    ):
        response = fetch("/hooks/plain/")
    assert response.status_code == 418


def test_an_on_error_hook_may_answer_a_before_error(fetch: Fetch) -> None:
    with with_hooks(rec("g", priority=50, raise_in=["before"], respond_in=["on_error"])):
        response = fetch("/hooks/hooked/")
    assert body(response) == b"g.on_error"
    assert "view" not in th.trace()
    assert phases("after") == ["g.after", "v2.after"]


def test_a_middleware_below_answering_before_routing_is_not_a_routing_error(
    fetch: Fetch,
) -> None:
    middleware = [
        "hookpipe.middleware.HookpipeMiddleware",
        "tests.testapp.hook_views.AnswersInProcessView",
    ]
    answer_404 = rec("g", respond_in=["on_error"], status=404)
    with override_settings(MIDDLEWARE=middleware, HOOKPIPE={"HOOKS": [answer_404]}):
        blocked_routable = fetch("/hooks/plain/?block=1")
        blocked_unroutable = fetch("/hooks/nowhere/?block=1")
        not_found = fetch("/hooks/nowhere/")
    # The middleware's answers stand; only Django's own routing error reaches on_error.
    assert body(blocked_routable) == body(blocked_unroutable) == b"blocked"
    assert body(not_found) == b"g.on_error"
    assert [e.exc for e in th.events("on_error")] == ["Resolver404"]


def test_an_after_error_is_handled_and_the_other_after_hooks_still_run(fetch: Fetch) -> None:
    with with_hooks(
        rec("a", priority=1), rec("b", priority=2, raise_in=["after"]), rec("c", priority=3)
    ):
        response = fetch("/hooks/plain/")
    assert response.status_code == 500
    assert phases("on_error", "after") == [
        "c.after", "b.after", "c.on_error", "b.on_error", "a.on_error", "a.after"
    ]  # fmt: skip
    assert [e.status for e in th.events("after")] == [200, 200, 500]
    assert after_header(response) == ["a"]  # the 500 is a new response


def test_an_on_error_hook_that_raises_is_logged_and_skipped(
    fetch: Fetch, caplog: pytest.LogCaptureFixture
) -> None:
    with with_hooks(
        rec("a", priority=1, respond_in=["on_error"]), rec("b", priority=2, raise_in=["on_error"])
    ):
        response = fetch("/hooks/plain-broken/")
    assert body(response) == b"a.on_error"
    assert {e.exc for e in th.events("on_error")} == {"RuntimeError"}
    assert "hook tests.testapp.hooks.Recorder.on_error raised RuntimeError" in caplog.text


def test_returning_something_else_than_a_response_is_an_error(
    fetch: Fetch, caplog: pytest.LogCaptureFixture
) -> None:
    with with_hooks(H + "ReturnsNumber"):
        response = fetch("/hooks/plain/")
    assert response.status_code == 500
    assert "view" not in th.trace()
    assert "ReturnsNumber.before returned int; it must be an HttpResponse" in caplog.text


def test_an_async_hook_returning_something_else_is_an_error(
    fetch: Fetch, caplog: pytest.LogCaptureFixture
) -> None:
    with with_hooks(H + "AsyncReturnsNumber"):
        response = fetch("/hooks/plain/")
    assert response.status_code == 500
    assert "AsyncReturnsNumber.before returned int" in caplog.text


def test_after_may_replace_the_response(fetch: Fetch) -> None:
    with with_hooks(H + "ReplacesResponse"):
        response = fetch("/hooks/plain/")
    assert response.status_code == 202
    assert body(response) == b"replaced"


def test_after_setting_something_else_than_a_response_is_an_error(
    fetch: Fetch, caplog: pytest.LogCaptureFixture
) -> None:
    with with_hooks(H + "SetsGarbage"):
        response = fetch("/hooks/plain/")
    assert response.status_code == 500
    assert "SetsGarbage.after set state.response to str" in caplog.text


@pytest.mark.parametrize("phase", ["on_route", "before", "after"])
def test_hook_errors_show_djangos_debug_page(fetch: Fetch, phase: str) -> None:
    with override_settings(DEBUG=True, HOOKPIPE={"HOOKS": [rec("g", raise_in=[phase])]}):
        response = fetch("/hooks/plain/")
    assert response.status_code == 500
    assert b"hook failed" in body(response)
    assert b"RuntimeError" in body(response)


# --------------------------------------------------------------------- async


def test_async_hooks_and_mixed_runs_keep_the_order(fetch: Fetch) -> None:
    with with_hooks(
        rec("s1", priority=1), arec("a1", priority=2), arec("a2", priority=3), rec("s2", priority=4)
    ):
        sync_view = fetch("/hooks/plain/")
        async_view = fetch("/hooks/async-plain/")
    assert after_header(sync_view) == after_header(async_view) == ["s2", "a2", "a1", "s1"]
    expected = [
        "s1.on_route", "a1.on_route", "a2.on_route", "s2.on_route",
        "s1.before", "a1.before", "a2.before", "s2.before",
        "view",
        "s2.after", "a2.after", "a1.after", "s1.after",
    ]  # fmt: skip
    assert th.trace() == expected * 2


@pytest.mark.django_db
def test_a_sync_hook_after_an_async_one_runs_where_it_may_use_the_database(fetch: Fetch) -> None:
    # Under WSGI the async hook is awaited on an event loop; the sync hook after it must
    # be called back in the request's thread, not on that loop, or its query fails.
    with with_hooks(arec("a1", priority=1), H + "UsesDatabase"):
        response = fetch("/hooks/plain/")
    assert response.status_code == 200
    assert [str(e) for e in th.EVENTS if e.label == "db"] == [
        "db.on_route", "db.before", "db.after",
    ]  # fmt: skip


def test_async_on_error_answers_view_and_routing_errors(fetch: Fetch) -> None:
    with with_hooks(arec("a", respond_in=["on_error"], status=418)):
        assert fetch("/hooks/plain-broken/").status_code == 418
        assert fetch("/hooks/nowhere/").status_code == 418
        assert fetch("/hooks/async-plain/").status_code == 200


@pytest.mark.parametrize("phase", ["on_route", "before", "after", "on_error"])
def test_async_hook_errors_are_handled(fetch: Fetch, phase: str) -> None:
    path = "/hooks/plain-broken/" if phase == "on_error" else "/hooks/plain/"
    with with_hooks(arec("a", raise_in=[phase])):
        response = fetch(path)
    assert response.status_code == 500
    assert th.events("after")  # after ran all the same


def test_sync_hooks_run_in_the_thread_of_a_sync_view(fetch: Fetch) -> None:
    # What TransactionHook relies on: one thread, one database connection.
    with with_hooks(rec("g")):
        fetch("/hooks/plain/")
    threads = {e.thread for e in th.EVENTS if e.phase in ("before", "after") or e.label == "view"}
    assert len(threads) == 1


async def test_native_async_client() -> None:
    with with_hooks(arec("g")):
        response = await AsyncClient().get("/hooks/async-hooked/")
    assert response.status_code == 200
    assert th.trace() == [
        "g.on_route", "g.before", "av.before", "view", "av.after", "g.after"
    ]  # fmt: skip


# ------------------------------------------------------------ per-view hooks


def test_view_hooks_run_without_global_hooks(fetch: Fetch) -> None:
    with override_settings(HOOKPIPE={}):
        response = fetch("/hooks/hooked/7/")
        other = fetch("/hooks/plain/")
    assert th.trace() == ["v2.before", "v1.before", "view", "v1.after", "v2.after", "view"]
    assert th.events("before")[0].kwargs == (("number", 7),)
    assert after_header(response) == ["v1", "v2"]
    assert "X-After" not in other.headers


def test_view_hooks_see_view_errors(fetch: Fetch) -> None:
    with override_settings(HOOKPIPE={}):
        response = fetch("/hooks/hooked-broken/")
    assert response.status_code == 500
    assert th.trace() == ["bv.before", "view", "bv.on_error", "bv.after"]
    assert th.events("after")[0].status == 500


def test_async_view_hooks_on_an_async_view(fetch: Fetch) -> None:
    with override_settings(HOOKPIPE={}):
        response = fetch("/hooks/async-hooked/")
    assert body(response) == b"async hooked"
    assert th.trace() == ["av.before", "view", "av.after"]


@pytest.mark.parametrize(
    ("path", "before"),
    [
        ("/hooks/cbv/base/", ["shared", "base"]),
        # Own hooks, then the MRO (ChildView, Mixin, BaseView); SHARED counted once.
        ("/hooks/cbv/child/", ["shared", "child", "mixin", "base"]),
        ("/hooks/cbv/quiet/", ["shared", "base"]),
        # Hooks on the as_view() function come before the class's.
        ("/hooks/cbv/decorated/", ["shared", "fn-level", "base"]),
        ("/hooks/cbv/async/", ["acbv"]),
    ],
)
def test_class_based_views_and_inheritance(fetch: Fetch, path: str, before: list[str]) -> None:
    with override_settings(HOOKPIPE={}):
        response = fetch(path)
    assert response.status_code == 200
    assert [e.label for e in th.events("before")] == before
    assert after_header(response) == before[::-1]


def test_stacked_decorators_declare_the_outer_one_first(fetch: Fetch) -> None:
    with override_settings(HOOKPIPE={}):
        fetch("/hooks/stacked/")
    assert th.trace() == ["outer.before", "inner.before", "view", "inner.after", "outer.after"]


def test_hooks_survive_decorators_that_use_functools_wraps(fetch: Fetch) -> None:
    with override_settings(HOOKPIPE={}):
        fetch("/hooks/wrapped/")
    assert th.trace() == ["wrapped.before", "view", "wrapped.after"]


def test_view_hook_lists_are_computed_once_per_view(
    fetch: Fetch, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Any] = []
    real = hook_runtime.view_hooks

    def counting(view: Any) -> tuple[Any, ...]:
        calls.append(view)
        return real(view)

    monkeypatch.setattr(hook_runtime, "view_hooks", counting)
    with with_hooks(rec("g")):
        for _ in range(3):
            fetch("/hooks/hooked/")
            fetch("/hooks/plain/")
        runtime = pipeline.get_pipeline().hooks
        assert runtime.for_view(hook_views.hooked) is runtime.for_view(hook_views.hooked)
    assert calls == [hook_views.hooked, hook_views.plain]


@pytest.mark.parametrize(
    ("hook", "fragment"),
    [
        (th.Recorder, "is a class; pass an instance, Recorder()"),
        (object(), "is not a hookpipe.Hook and lacks on_route, before, after, on_error"),
        (th.TextPriority(), "priority must be an int, not 'high'"),
    ],
)
def test_with_hooks_rejects_what_is_not_a_hook_instance(hook: Any, fragment: str) -> None:
    with pytest.raises(TypeError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        hookpipe.with_hooks(hook)


def test_with_hooks_rejects_what_it_cannot_decorate() -> None:
    with pytest.raises(TypeError, match="cannot decorate"):
        hookpipe.with_hooks(th.Recorder("x"))(len)


def test_redecorating_a_served_view_is_seen(fetch: Fetch) -> None:
    def view(request: Any) -> Any:
        return hook_views.plain(request)

    with with_hooks(rec("g")):
        runtime = pipeline.get_pipeline().hooks
        assert runtime.for_view(view) is runtime.globals
        hookpipe.with_hooks(th.Recorder("late"))(view)
        hook_list = runtime.for_view(view)
        assert hook_list is not None
        assert [th.label_of(h) for h in hook_list.hooks] == ["g", "late"]


# --------------------------------------------------------------------- build


def test_global_hooks_are_built_once_per_pipeline_with_their_options(fetch: Fetch) -> None:
    with with_hooks(rec("g", priority=7)):
        for _ in range(3):
            fetch("/hooks/plain/")
        (hook,) = pipeline.get_pipeline().hooks.globals.hooks
        assert hook.priority == 7
    assert th.BUILT == ["g"]
    with with_hooks(rec("h")):
        fetch("/hooks/plain/")
    assert th.BUILT == ["g", "h"]


def test_a_hook_whose_constructor_raises_fails_the_build_not_the_server(
    fetch: Fetch, caplog: pytest.LogCaptureFixture
) -> None:
    with with_hooks(H + "ExplodingInit"):
        response = fetch("/hooks/plain/")
    assert response.status_code == 500
    assert 'HOOKPIPE["HOOKS"][0]' in caplog.text
    assert "building the hook raised ValueError: cannot start" in caplog.text


def test_a_built_hook_with_a_bad_priority_fails_the_build(
    fetch: Fetch, caplog: pytest.LogCaptureFixture
) -> None:
    # The class's priority is fine, so the check passes; the instance's is not.
    with with_hooks(rec("g", priority="high")):
        assert check_hookpipe() == []
        response = fetch("/hooks/plain/")
    assert response.status_code == 500
    assert "Recorder.priority must be an int, not 'high'" in caplog.text


def test_describe_lists_global_and_per_view_hooks() -> None:
    with with_hooks(rec("g", priority=5), H + "BeforeOnly"):
        described = pipeline.get_pipeline().describe()["hooks"]
    assert described[0] == {
        "name": "Recorder",
        "class": "tests.testapp.hooks.Recorder",
        "priority": 5,
        "methods": ["on_route", "before", "after", "on_error"],
        "async": [],
        "scope": "global",
        "entry": "HOOKPIPE[\"HOOKS\"][0] ('tests.testapp.hooks.Recorder')",
        "options": {"label": "g", "priority": 5},
    }
    assert described[1]["methods"] == ["before"]
    per_view = [d for d in described if d["scope"] == "view"]
    routes = {route for d in per_view for route in d["routes"]}
    assert {"/hooks/hooked/", "/hooks/cbv/child/", "/hooks/stacked/"} <= routes
    assert "/hooks/plain/" not in routes
    (shared,) = [d for d in per_view if "/hooks/cbv/base/" in d["routes"] and d["priority"] == 50]
    assert shared["routes"] == [
        "/hooks/cbv/base/", "/hooks/cbv/child/", "/hooks/cbv/quiet/", "/hooks/cbv/decorated/"
    ]  # fmt: skip


# --------------------------------------------------------------- transactions


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "status", "kept"),
    [("", 201, True), ("?fail=raise", 500, False), ("?fail=500", 500, False)],
    ids=["committed", "view-raised", "server-error"],
)
def test_transaction_hook(fetch: Fetch, query: str, status: int, kept: bool) -> None:
    with with_hooks("hookpipe.TransactionHook"):
        response = fetch("/hooks/groups/" + query, method="post", data={"name": "g1"})
    assert response.status_code == status
    assert Group.objects.filter(name="g1").exists() is kept


@pytest.mark.django_db
def test_transaction_hook_leaves_safe_methods_alone(fetch: Fetch) -> None:
    with with_hooks("hookpipe.TransactionHook", rec("g")):
        response = fetch("/hooks/groups/?name=g3")
    assert response.status_code == 201
    assert Group.objects.filter(name="made").exists()


@pytest.mark.django_db
def test_transaction_hook_rolls_back_even_when_on_error_answers(fetch: Fetch) -> None:
    with with_hooks("hookpipe.TransactionHook", rec("answer", respond_in=["on_error"], status=200)):
        response = fetch("/hooks/groups/?fail=raise", method="post", data={"name": "g2"})
    assert response.status_code == 200
    assert not Group.objects.filter(name="g2").exists()


# -------------------------------------------------------------------- checks


def problems(*entries: Any) -> list[checks.CheckMessage]:
    with override_settings(HOOKPIPE={"HOOKS": list(entries)}):
        return check_hookpipe()


def test_good_hook_entries_are_clean() -> None:
    assert (
        problems(
            H + "Recorder",
            {"class": H + "Recorder", "options": {"label": "x", "priority": 3}},
            H + "AsyncRecorder",
            H + "DuckHook",
            {"class": VIEWER, "options": {"items": ["path", "user", "get_full_path", "META"]}},
            {"class": VIEWER},
            "hookpipe.TransactionHook",
        )
        == []
    )


@pytest.mark.parametrize(
    ("entry", "expected_id", "fragment"),
    [
        (42, "hookpipe.E020", "must be a dotted path or a dict, not int"),
        ({"klass": H + "Recorder"}, "hookpipe.E020", "has unknown key(s) 'klass'"),
        ({"options": {}}, "hookpipe.E020", 'needs "class"'),
        (H + "Missing", "hookpipe.E021", "cannot import hook class 'tests.testapp.hooks.Missing'"),
        ("no_such_module.Hook", "hookpipe.E021", "ModuleNotFoundError"),
        (H + "NotAHook", "hookpipe.E022", "is not a hookpipe.Hook subclass and lacks on_route"),
        (H + "AN_INSTANCE", "hookpipe.E022", "is a Recorder, not a class"),
        ({"class": H + "Recorder", "options": ["x"]}, "hookpipe.E023", '"options" must be a dict'),
        ({"class": H + "NeedsLevel"}, "hookpipe.E024", "missing a required argument: 'level'"),
        (
            {"class": H + "Recorder", "options": {"colour": "red"}},
            "hookpipe.E024",
            "unexpected keyword argument 'colour'",
        ),
        (H + "TextPriority", "hookpipe.E025", "priority must be an int, not 'high'"),
        (
            {"class": VIEWER, "options": {"itemz": ["path"]}},
            "hookpipe.E024",
            "unexpected keyword argument 'itemz'",
        ),
        (
            {"class": VIEWER, "options": {"items": "path"}},
            "hookpipe.E026",
            "items must be a list of strings",
        ),
        (
            {"class": VIEWER, "options": {"items": ["path", "not-a-name"]}},
            "hookpipe.E026",
            "items must be attribute names",
        ),
        (
            {"class": VIEWER, "options": {"blacklist": "/static/"}},
            "hookpipe.E026",
            "blacklist must be a list of strings",
        ),
        (
            {"class": VIEWER, "options": {"headers": "yes"}},
            "hookpipe.E026",
            "headers must be True or False",
        ),
        (
            {"class": VIEWER, "options": {"max_length": 3}},
            "hookpipe.E026",
            "max_length must be an int >= 16",
        ),
    ],
)
def test_bad_hook_entries(entry: Any, expected_id: str, fragment: str) -> None:
    found = problems(H + "Recorder", entry)
    assert [p.id for p in found] == [expected_id]
    assert fragment in found[0].msg
    assert found[0].msg.startswith('HOOKPIPE["HOOKS"][1]')
    assert found[0].hint


def test_unknown_viewer_items_are_a_warning() -> None:
    found = problems({"class": VIEWER, "options": {"items": ["path", "flavour", "read"]}})
    assert [p.id for p in found] == ["hookpipe.W020"]
    assert found[0].level == checks.WARNING
    assert "'flavour', 'read'" in found[0].msg


def test_a_hooks_setting_that_is_not_a_list() -> None:
    with override_settings(HOOKPIPE={"HOOKS": H + "Recorder"}):
        assert [p.id for p in check_hookpipe()] == ["hookpipe.E009"]


def test_registered_with_manage_py_check() -> None:
    with (
        override_settings(HOOKPIPE={"HOOKS": ["no_such_module.Hook"]}),
        pytest.raises(SystemCheckError, match=r"hookpipe\.E021"),
    ):
        call_command("check")


BROKEN_SETTINGS = """
from tests.settings import *
HOOKPIPE = {"HOOKS": [BROKEN]}
"""


@pytest.mark.parametrize(
    ("broken", "expected"),
    [
        ('"exploding.Hook"', "hookpipe.E021"),
        ('"tests.testapp.hook_views.plain"', "hookpipe.E022"),
        ('{"class": "tests.testapp.hooks.NeedsLevel", "options": {"lvl": 1}}', "hookpipe.E024"),
    ],
)
def test_manage_py_check_prints_no_traceback(tmp_path: Path, broken: str, expected: str) -> None:
    (tmp_path / "exploding.py").write_text('raise RuntimeError("exploded at import")\n')
    result = manage_check(tmp_path, BROKEN_SETTINGS.replace("BROKEN", broken))
    assert result.returncode == 1
    assert expected in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
