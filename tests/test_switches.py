"""Runtime switches: a disabled plugin behaves as if it were not configured, the switch
is read at most once per CHECK_EVERY seconds per process, and the command line and the
admin page switch plugins for whoever may."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.test import Client, override_settings

from hookpipe.fleet import operations, store
from hookpipe.fleet.models import PluginSwitch
from tests.conftest import Fetch
from tests.testapp import hooks as th
from tests.testapp import plugins as tp
from tests.testapp.tweens import TRACE

T = "tests.testapp.tweens."
P = "tests.testapp.plugins."
HOOK = "tests.testapp.hooks.Recorder"
URL = "/admin/hookpipe/pipeline/"
SWITCH_URL = URL + "switch/"
PIPELINE = {
    "TWEENS": [
        {"factory": T + "labelled", "name": "outer", "options": {"label": "outer"}},
        {"factory": T + "labelled", "name": "inner", "options": {"label": "inner"}},
    ],
    "HOOKS": [{"class": HOOK, "options": {"label": "rec"}}],
    "RESPONDERS": [P + "Chunks"],
    "SWITCHES": {"LOCKED": ["outer"]},
}

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("switches_live")]


@pytest.fixture
def switches_live() -> Iterator[None]:
    """The switch check on, as in a server: the next request reads the table."""
    operations.current().watch.reset()
    th.EVENTS.clear()
    tp.reset()
    yield
    operations.current().watch.reset()


def switch(name: str, enabled: bool) -> None:
    store.set_enabled(name, enabled, "tests", via="command")
    operations.current().watch.expire()  # as if CHECK_EVERY had passed


# ----------------------------------------------------------------- behaviour


@override_settings(HOOKPIPE=PIPELINE)
def test_a_disabled_tween_is_passed_through_and_comes_back(fetch: Fetch) -> None:
    assert fetch("/")[TRACE] == "inner,outer"
    switch("inner", False)
    assert fetch("/")[TRACE] == "outer"
    switch("inner", True)
    assert fetch("/")[TRACE] == "inner,outer"


@override_settings(HOOKPIPE=PIPELINE)
def test_a_disabled_responder_lets_django_answer(fetch: Fetch) -> None:
    assert fetch("/stream/sync").status_code == 200
    switch("chunks", False)
    assert fetch("/stream/sync").status_code == 404  # no such URL: Django's answer
    switch("chunks", True)
    assert fetch("/stream/sync").status_code == 200


@override_settings(HOOKPIPE=PIPELINE)
def test_a_disabled_hook_does_not_run(fetch: Fetch) -> None:
    fetch("/")
    assert th.events("on_route")
    th.EVENTS.clear()
    switch(HOOK, False)
    fetch("/")
    assert th.EVENTS == []


@override_settings(HOOKPIPE={"HANDLERS": [P + "InlineRecorder"]})
def test_a_disabled_handler_does_not_run(fetch: Fetch) -> None:
    switch("inline-recorder", False)
    fetch("/webhooks/x", method="post", data=b"{}", content_type="application/json")
    assert tp.SEEN["inline-recorder"] == []
    switch("inline-recorder", True)
    fetch("/webhooks/x", method="post", data=b"{}", content_type="application/json")
    assert len(tp.SEEN["inline-recorder"]) == 1


@override_settings(HOOKPIPE=PIPELINE)
def test_a_locked_plugin_stays_on_even_if_the_table_says_off(fetch: Fetch) -> None:
    PluginSwitch.objects.create(name="outer", enabled=False, changed_at="2026-01-01T00:00Z")
    operations.current().watch.expire()
    assert fetch("/")[TRACE] == "inner,outer"


@override_settings(HOOKPIPE={**PIPELINE, "SWITCHES": {"CHECK_EVERY": 60}})
def test_no_query_per_request_until_check_every_has_passed(
    fetch: Fetch, django_assert_num_queries: Any
) -> None:
    fetch("/")  # builds the pipeline and reads the switches once
    store.set_enabled("inner", False, "tests", via="command")
    with django_assert_num_queries(0):
        for _ in range(5):
            # Not yet seen: this process reads the table again only after 60 s.
            assert fetch("/")[TRACE] == "inner,outer"
    operations.current().watch.next_at = 0.0  # the 60 s are over
    with django_assert_num_queries(1):
        assert fetch("/")[TRACE] == "outer"


@override_settings(HOOKPIPE=PIPELINE)
def test_counters_survive_a_rebuild_for_a_switch(fetch: Fetch) -> None:
    fetch("/stream/sync")
    switch("inner", False)
    fetch("/stream/sync")
    out = io.StringIO()
    call_command("hookpipe", "--json", stdout=out)
    [chunks] = json.loads(out.getvalue())["responders"]
    assert chunks["counters"]["answered"] == 2


# --------------------------------------------------------------- command line


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("hookpipe", *args, stdout=out)
    return out.getvalue()


@override_settings(HOOKPIPE=PIPELINE)
def test_the_command_disables_and_enables() -> None:
    assert "responder 'chunks' disabled; every process applies it within 10 seconds" in run(
        "--disable", "chunks"
    )
    row = PluginSwitch.objects.get(name="chunks")
    assert row.enabled is False
    assert "(manage.py hookpipe)" in row.changed_by
    data = json.loads(run("--json"))
    [chunks] = data["responders"]
    assert chunks["enabled"] is False
    assert chunks["switchable"] is True
    assert [t["enabled"] for t in data["tweens"]] == [True, True]
    assert "is already disabled; nothing changed" in run("--disable", "chunks")
    run("--enable", "chunks")
    assert json.loads(run("--json"))["responders"][0]["enabled"] is True


@override_settings(HOOKPIPE=PIPELINE)
def test_json_lists_a_disabled_tween_in_its_place() -> None:
    run("--disable", "inner")
    tweens = json.loads(run("--json"))["tweens"]
    assert [(t["name"], t["enabled"]) for t in tweens] == [("outer", True), ("inner", False)]
    text = run()
    assert "inner" in text
    assert "disabled" in text
    assert "DISABLED" in text  # the switches table


@override_settings(HOOKPIPE=PIPELINE)
def test_the_command_refuses_unknown_and_locked_names() -> None:
    with pytest.raises(CommandError, match=r"No configured plugin is named 'nope'. Plugins: "):
        run("--disable", "nope")
    with pytest.raises(CommandError, match=r"named 'inenr'. Did you mean 'inner'\? Plugins: "):
        run("--disable", "inenr")
    with pytest.raises(CommandError, match=r"'outer' cannot be switched: it is in"):
        run("--disable", "outer")
    assert not PluginSwitch.objects.exists()


# --------------------------------------------------------------------- admin


@pytest.fixture
def staff(django_user_model: Any) -> Callable[..., Client]:
    def make(*codenames: str, csrf: bool = False) -> Client:
        account = django_user_model.objects.create_user(
            f"u{django_user_model.objects.count()}", "", "pw", is_staff=True
        )
        for codename in codenames:
            account.user_permissions.add(
                Permission.objects.get(content_type__app_label="hookpipe", codename=codename)
            )
        client = Client(enforce_csrf_checks=csrf)
        client.force_login(account)
        return client

    return make


@override_settings(HOOKPIPE=PIPELINE)
def test_admin_switch_is_logged_and_shown(staff: Callable[..., Client]) -> None:
    client = staff("view_pipeline", "change_pipeline")
    response = client.post(SWITCH_URL, {"name": "chunks", "action": "disable"})
    assert response.status_code == 302
    assert response["Location"] == URL + "#hp-switches"
    assert PluginSwitch.objects.get(name="chunks").enabled is False
    [entry] = LogEntry.objects.all()
    assert entry.action_flag == CHANGE
    assert entry.object_repr == "chunks (disabled)"
    assert "Disabled the responder 'chunks'." in entry.get_change_message()
    html = client.get(URL).content.decode()
    row = html[html.index('data-switch="chunks"') :]
    row = row[: row.index("</tr>")]
    assert "disabled by <strong>u0</strong> at" in row
    assert 'value="enable"' in row
    assert "Every process applies it within 10 seconds." in html
    # The tween still has its button; the locked one has none.
    outer = html[html.index('data-switch="outer"') :]
    assert "locked" in outer[: outer.index("</tr>")]


@override_settings(HOOKPIPE=PIPELINE)
def test_admin_switch_needs_change_pipeline(staff: Callable[..., Client]) -> None:
    client = staff("view_pipeline")
    assert client.post(SWITCH_URL, {"name": "chunks", "action": "disable"}).status_code == 403
    assert 'name="action"' not in client.get(URL).content.decode()
    assert not PluginSwitch.objects.exists()


def test_admin_switch_sends_anonymous_users_to_the_login_page() -> None:
    response = Client().post(SWITCH_URL, {"name": "chunks", "action": "disable"})
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@override_settings(HOOKPIPE=PIPELINE)
def test_admin_switch_without_csrf_token_is_403(staff: Callable[..., Client]) -> None:
    client = staff("view_pipeline", "change_pipeline", csrf=True)
    assert client.post(SWITCH_URL, {"name": "chunks", "action": "disable"}).status_code == 403
    assert not PluginSwitch.objects.exists()


@override_settings(HOOKPIPE=PIPELINE)
@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "nope", "action": "disable"}, "No configured plugin is named 'nope'"),
        ({"name": "outer", "action": "disable"}, "'outer' is locked on"),
        ({"name": "chunks", "action": "toggle"}, "action must be"),
    ],
)
def test_admin_switch_refuses_bad_requests(
    staff: Callable[..., Client], data: dict[str, str], message: str
) -> None:
    response = staff("view_pipeline", "change_pipeline").post(SWITCH_URL, data)
    assert response.status_code == 400
    assert message in response.content.decode()


def test_admin_switch_is_post_only(staff: Callable[..., Client]) -> None:
    assert staff("view_pipeline", "change_pipeline").get(SWITCH_URL).status_code == 405


# -------------------------------------------------------------------- checks


@pytest.mark.parametrize(
    ("value", "msg"),
    [
        ({"CHECK_EVERY": 0}, 'HOOKPIPE["SWITCHES"]["CHECK_EVERY"] must be a number > 0'),
        ({"LOCKED": "outer"}, 'HOOKPIPE["SWITCHES"]["LOCKED"] must be a list of plugin names'),
        ({"CHEK_EVERY": 1}, "Did you mean 'CHECK_EVERY'?"),
    ],
)
def test_bad_switch_settings_are_check_errors(value: Any, msg: str) -> None:
    from hookpipe import conf

    problems = conf.load({"SWITCHES": value}).problems
    assert any(msg in (p.msg + (p.hint or "")) for p in problems), problems
    assert {p.id for p in problems} <= {"hookpipe.E002", "hookpipe.E009"}


@override_settings(HOOKPIPE=PIPELINE)
def test_an_unreadable_table_keeps_the_last_set_and_warns_once(
    fetch: Fetch, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="hookpipe")
    switch("inner", False)
    assert fetch("/")[TRACE] == "outer"

    def down() -> frozenset[str]:
        raise ConnectionError("database down")

    monkeypatch.setattr(store, "disabled_names", down)
    for _ in range(3):
        operations.current().watch.expire()
        assert fetch("/")[TRACE] == "outer"  # still without "inner"
    warnings = [r for r in caplog.records if "cannot read the plugin switches" in r.message]
    assert len(warnings) == 1
    assert "(ConnectionError: database down); keeping ['inner']" in warnings[0].getMessage()
    monkeypatch.undo()
    store.set_enabled("inner", True, "tests", via="command")
    operations.current().watch.expire()
    assert fetch("/")[TRACE] == "inner,outer"
    assert any("can be read again" in r.getMessage() for r in caplog.records)
