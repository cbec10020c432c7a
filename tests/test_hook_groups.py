"""Hooks for a group of URLs: ``include_with_hooks``, through real requests.

``tests/testapp/group_root_urls.py`` mounts one URLconf (``group_urls``) under
``/group/`` with a hook and under ``/bare/`` without, and nests groups under
``/outer/``. The same view functions serve all of them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, resolve, reverse

import hookpipe
from hookpipe import include_with_hooks
from hookpipe.core import process as pipeline
from hookpipe.hooks import view_hooks
from tests.conftest import Fetch
from tests.testapp import hook_views
from tests.testapp import hooks as th

ROOT = override_settings(ROOT_URLCONF="tests.testapp.group_root_urls", HOOKPIPE={})


def rec(label: str, **options: Any) -> dict[str, Any]:
    return {"class": "tests.testapp.hooks.Recorder", "options": {"label": label, **options}}


@pytest.fixture(autouse=True)
def _grouped_root() -> Iterator[None]:
    th.EVENTS.clear()
    with ROOT:
        yield
    th.EVENTS.clear()


def test_every_view_of_the_include_gets_the_hooks(fetch: Fetch) -> None:
    response = fetch("/group/plain/3/")
    assert response.status_code == 200
    assert th.trace() == ["group.before", "view", "group.after"]
    assert th.events("before")[0].kwargs == (("number", 3),)


def test_the_same_views_mounted_without_the_group_have_no_hooks(fetch: Fetch) -> None:
    assert fetch("/bare/plain/").status_code == 200
    assert th.trace() == ["view"]
    # ... and cost what a view without hooks costs: no hook list at all.
    assert pipeline.get_pipeline().hooks.for_view(resolve("/bare/plain/").func) is None
    assert view_hooks(hook_views.plain) == ()  # the view function itself is untouched


@pytest.mark.parametrize(
    ("path", "body"),
    [("/group/async/", b"async plain"), ("/group/cbv/", b"BaseView"),
     ("/group/cbv-async/", b"async cbv")],
    ids=["async-function", "class-based", "async-class-based"],
)  # fmt: skip
def test_async_and_class_based_views(fetch: Fetch, path: str, body: bytes) -> None:
    response = fetch(path)
    assert response.status_code == 200
    assert response.content == body
    assert "group.before" in th.trace()
    assert "group.after" in th.trace()


def test_order_with_the_views_own_and_global_hooks(fetch: Fetch) -> None:
    # hooked has V1 (100) and V2 (10); BaseView has SHARED (50) and "base" (100). The
    # group's hook is declared before the view's own; the global hook before both.
    with override_settings(HOOKPIPE={"HOOKS": [rec("g")]}):
        fetch("/group/hooked/")
        fetch("/group/cbv/")
    befores = [e.label for e in th.events("before")]
    assert befores == ["v2", "g", "group", "v1", "shared", "g", "group", "base"]


def test_equal_priority_global_hooks_come_first(fetch: Fetch) -> None:
    with override_settings(HOOKPIPE={"HOOKS": [rec("g")]}):
        fetch("/group/plain/")
    assert th.trace() == [
        "g.on_route", "g.before", "group.before", "view", "group.after", "g.after"
    ]  # fmt: skip


def test_nested_groups_outer_first(fetch: Fetch) -> None:
    fetch("/outer/inner/plain/")
    fetch("/outer/bare/plain/")
    assert th.trace() == [
        "outer.before", "inner.before", "view", "inner.after", "outer.after",
        "outer.before", "view", "outer.after",
    ]  # fmt: skip


def test_a_grouped_views_error_reaches_the_groups_on_error(fetch: Fetch) -> None:
    response = fetch("/group/broken/")
    assert response.status_code == 500
    assert th.trace() == ["group.before", "view", "group.on_error", "group.after"]


def test_names_namespaces_and_view_attributes_are_kept() -> None:
    assert reverse("grouped:plain") == "/group/plain/"
    assert reverse("inner:plain-number", args=[4]) == "/outer/inner/plain/4/"
    assert resolve("/group/form/").func.csrf_exempt is True  # type: ignore[attr-defined]
    match = resolve("/group/cbv/")
    assert match.func.view_class is hook_views.BaseView  # type: ignore[attr-defined]
    assert match.func.__name__ == "view"
    assert match.namespaces == ["grouped"]
    csrf = Client(enforce_csrf_checks=True).post("/group/form/", {"x": "1"})
    assert csrf.status_code == 200  # csrf_exempt still applies through the group


def test_the_listings_show_group_hooks_per_route() -> None:
    out = StringIO()
    call_command("hookpipe", "--json", stdout=out)
    by_pattern = {e["pattern"]: e for e in json.loads(out.getvalue())["view_hooks"]}
    assert [h["name"] for h in by_pattern["/group/plain/"]["hooks"]] == ["Recorder"]
    assert by_pattern["/group/plain/"]["view"] == "tests.testapp.hook_views.plain"
    assert by_pattern["/group/plain/"]["name"] == "grouped:plain"
    assert len(by_pattern["/outer/inner/plain/"]["hooks"]) == 2
    assert [h["priority"] for h in by_pattern["/group/hooked/"]["hooks"]] == [10, 100, 100]
    assert "/bare/plain/" not in by_pattern
    assert by_pattern["/bare/hooked/"]["hooks"] == by_pattern["/group/hooked/"]["hooks"][::2]
    routes = [h.get("routes", []) for h in pipeline.get_pipeline().describe()["hooks"]]
    assert any("/group/cbv/" in r and "/group/plain/" in r for r in routes)  # the group's


@pytest.mark.django_db
def test_the_admin_page_lists_group_hooks(django_user_model: Any) -> None:
    client = Client()
    client.force_login(django_user_model.objects.create_superuser("root", "", "pw"))
    html = client.get("/admin/hookpipe/pipeline/").content.decode()
    per_view = html[html.index("Per-view hooks") : html.index('id="hp-handlers"')]
    row = per_view[per_view.index("/group/plain/") :]
    assert "Recorder" in row[: row.index("</tr>")]
    assert "<code>/bare/plain/</code>" not in per_view


def test_mistakes_fail_when_the_urlconf_is_imported() -> None:
    with pytest.raises(TypeError, match="is a class; pass an instance"):
        include_with_hooks("tests.testapp.group_urls", th.Recorder)
    with pytest.raises(TypeError, match="at least one hook"):
        include_with_hooks("tests.testapp.group_urls")


def test_admin_site_urls_can_be_grouped() -> None:
    hook = th.Recorder("admin-group")
    patterns, app_name, namespace = include_with_hooks(admin.site.urls, hook)
    assert (app_name, namespace) == ("admin", "admin")
    assert patterns
    views = [p.callback for p in patterns if isinstance(p, URLPattern)]
    nested = [p for p in patterns if isinstance(p, URLResolver)]
    assert views
    assert nested  # one per ModelAdmin
    views += [q.callback for p in nested for q in p.url_patterns if isinstance(q, URLPattern)]
    assert all(hook in view_hooks(view) for view in views)


def test_it_is_public() -> None:
    assert "include_with_hooks" in hookpipe.__all__
