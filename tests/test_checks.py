"""Every malformed HOOKPIPE gives a check message with a stable id, naming the entry."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from hookpipe.checks import check_hookpipe
from tests.conftest import manage, manage_check

T = "tests.testapp.tweens."
ROOT = Path(__file__).resolve().parent.parent


def run(hookpipe: Any, **settings: Any) -> list[tuple[str, str, str | None]]:
    with override_settings(HOOKPIPE=hookpipe, **settings):
        return [(m.id or "", m.msg, m.hint) for m in check_hookpipe()]


def ids(hookpipe: Any, **settings: Any) -> list[str]:
    return [i for i, _, _ in run(hookpipe, **settings)]


def test_valid_configuration_is_clean() -> None:
    config = {
        "TWEENS": [
            T + "first",
            {"factory": T + "labelled", "name": "x", "over": "hookpipe.MAIN"},
            {"handler": T + "chain_marker", "under": [T + "first", "absent"]},
        ],
        "THREAD_POOL": {"MAX_WORKERS": 2, "ON_FULL": "reject"},
    }
    assert run(config) == []


@pytest.mark.parametrize("empty", [{}, None])
def test_empty_or_none_is_valid(empty: Any) -> None:
    assert run(empty) == []


@pytest.mark.parametrize(
    ("config", "expected", "fragment"),
    [
        ([T + "first"], "hookpipe.E001", "must be a dict, not list"),
        ({"TWEEN": []}, "hookpipe.E002", "'TWEEN'"),
        ({"THREAD_POOL": {"MAX_WORKER": 1}}, "hookpipe.E002", "'MAX_WORKER'"),
        ({"TWEENS": [42]}, "hookpipe.E005", 'HOOKPIPE["TWEENS"][0]'),
        ({"TWEENS": [{"name": "x"}]}, "hookpipe.E005", 'exactly one of "factory"'),
        (
            {"TWEENS": [{"factory": T + "first", "handler": T + "chain_marker"}]},
            "hookpipe.E005",
            "exactly one",
        ),
        ({"TWEENS": [{"factory": ""}]}, "hookpipe.E005", "dotted path"),
        ({"TWEENS": [{"factory": T + "first", "name": ""}]}, "hookpipe.E005", '"name"'),
        ({"TWEENS": [{"factory": T + "first", "over": 3}]}, "hookpipe.E005", '"over"'),
        ({"TWEENS": [{"factory": T + "first", "under": []}]}, "hookpipe.E005", '"under"'),
        ({"TWEENS": [{"factory": T + "first", "options": [1]}]}, "hookpipe.E005", "options"),
        (
            {"TWEENS": [{"handler": T + "chain_marker", "options": {"a": 1}}]},
            "hookpipe.E005",
            "chain handler",
        ),
        ({"TWEENS": [{"factory": T + "first", "ovr": "x"}]}, "hookpipe.E006", "'ovr'"),
        ({"TWEENS": [T + "does_not_exist"]}, "hookpipe.E007", T + "does_not_exist"),
        ({"TWEENS": ["nodots"]}, "hookpipe.E007", "nodots"),
        ({"TWEENS": ["no_such_module.factory"]}, "hookpipe.E007", "no_such_module"),
        ({"TWEENS": [T + "NOT_CALLABLE"]}, "hookpipe.E008", "str, not a callable"),
        ({"TWEENS": "x"}, "hookpipe.E009", '"TWEENS"] must be a list'),
        ({"HOOKS": {}}, "hookpipe.E009", '"HOOKS"] must be a list'),
        ({"PLUGINS": []}, "hookpipe.E009", '"PLUGINS"] must be a dict'),
        ({"THREAD_POOL": {"MAX_WORKERS": 0}}, "hookpipe.E009", "MAX_WORKERS"),
        ({"THREAD_POOL": {"MAX_QUEUE": True}}, "hookpipe.E009", "MAX_QUEUE"),
        ({"TASK_RUNNER": {"CONSUMER_TIMEOUT": 0}}, "hookpipe.E009", "CONSUMER_TIMEOUT"),
        ({"THREAD_POOL": {"ON_FULL": "drop"}}, "hookpipe.E009", "'drop'"),
        (
            {"TWEENS": [{"factory": T + "first", "over": "hookpipe.INGRESS"}]},
            "hookpipe.E010",
            'HOOKPIPE["TWEENS"][0]',
        ),
        (
            {"TWEENS": [{"factory": T + "first", "under": "hookpipe.MAIN"}]},
            "hookpipe.E011",
            "under=",
        ),
        (
            {"TWEENS": [{"factory": T + "first", "name": "hookpipe.MAIN"}]},
            "hookpipe.E012",
            "reserved",
        ),
        (
            {"TWEENS": [T + "first", T + "second", T + "first"]},
            "hookpipe.E013",
            'HOOKPIPE["TWEENS"][0] and HOOKPIPE["TWEENS"][2]',
        ),
        (
            {"TWEENS": [{"factory": T + "first", "under": ["auth", "csrf"]}]},
            "hookpipe.E014",
            "['auth', 'csrf']",
        ),
        (
            {
                "TWEENS": [
                    {"factory": T + "first", "name": "auth", "over": "timing"},
                    {"factory": T + "second", "name": "timing", "over": "auth"},
                ]
            },
            "hookpipe.E015",
            "auth -> timing -> auth",
        ),
        ({"TWEENS": [T + "first"], "TWEEN_ORDER": ["second"]}, "hookpipe.E016", "'second'"),
        ({"TWEEN_ORDER": "first"}, "hookpipe.E017", "TWEEN_ORDER"),
        (
            {"TWEENS": [T + "first"], "TWEEN_ORDER": [T + "first", T + "first"]},
            "hookpipe.E018",
            "more than once",
        ),
    ],
)
def test_bad_configuration(config: Any, expected: str, fragment: str) -> None:
    messages = run(config)
    assert [i for i, _, _ in messages] == [expected], messages
    _, msg, _ = messages[0]
    assert fragment in msg


def test_unknown_key_suggests_the_closest_one() -> None:
    [(_, _, hint)] = run({"TWEENS": [{"factory": T + "first", "undre": "x"}]})
    assert hint is not None
    assert hint.startswith("Did you mean 'under'?")


def test_all_problems_reported_at_once() -> None:
    config = {"TWEENS": [T + "nope", {"factory": T + "first", "under": "missing"}], "X": 1}
    assert sorted(ids(config)) == ["hookpipe.E002", "hookpipe.E007", "hookpipe.E014"]


def test_middleware_missing_while_hookpipe_is_set() -> None:
    middleware = ["django.middleware.common.CommonMiddleware"]
    assert ids({}, MIDDLEWARE=middleware) == ["hookpipe.E003"]


def test_middleware_missing_without_hookpipe_is_fine() -> None:
    from django.conf import settings

    with override_settings(MIDDLEWARE=[]):
        del settings.HOOKPIPE
        assert check_hookpipe() == []


def test_middleware_listed_twice() -> None:
    path = "hookpipe.middleware.HookpipeMiddleware"
    assert ids({}, MIDDLEWARE=[path, path]) == ["hookpipe.E004"]


SESSION = "django.contrib.sessions.middleware.SessionMiddleware"
AUTH = "django.contrib.auth.middleware.AuthenticationMiddleware"
HOOKPIPE_MIDDLEWARE = "hookpipe.middleware.HookpipeMiddleware"


@pytest.mark.parametrize(
    ("middleware", "names"),
    [
        ([HOOKPIPE_MIDDLEWARE, SESSION, AUTH], "request.session and request.user"),
        ([SESSION, HOOKPIPE_MIDDLEWARE, AUTH], "request.user"),
    ],
    ids=["above-both", "above-auth"],
)
def test_middleware_above_the_session_or_the_user_is_a_warning(
    middleware: list[str], names: str
) -> None:
    [(id_, msg, hint)] = run({}, MIDDLEWARE=middleware)
    assert id_ == "hookpipe.W001"
    assert f"see requests without {names} (reading it raises AttributeError)" in msg
    assert hint is not None
    assert hint.startswith(f"Move {HOOKPIPE_MIDDLEWARE!r} below {AUTH!r}.")


@pytest.mark.parametrize(
    "middleware",
    [[SESSION, AUTH, HOOKPIPE_MIDDLEWARE], [HOOKPIPE_MIDDLEWARE]],
    ids=["below-both", "without-auth"],
)
def test_middleware_below_the_session_and_the_user_is_fine(middleware: list[str]) -> None:
    assert run({}, MIDDLEWARE=middleware) == []


@override_settings(
    MIDDLEWARE=[HOOKPIPE_MIDDLEWARE, SESSION, AUTH],
    HOOKPIPE={"HANDLERS": ["tests.testapp.plugins.Recorder"]},
)
def test_hookpipe_above_the_user_still_answers(fetch: Any) -> None:
    # hookpipe itself never reads request.user where there is none.
    response = fetch("/webhooks/accept", method="post", data=b"{}", content_type="text/plain")
    assert response.status_code == 202


def test_registered_with_django() -> None:
    with (
        override_settings(HOOKPIPE={"TWEENS": [T + "missing"]}),
        pytest.raises(SystemCheckError, match=r"hookpipe\.E007"),
    ):
        call_command("check")


BROKEN_SETTINGS = """
from tests.settings import *
HOOKPIPE = {BROKEN}
"""


@pytest.mark.parametrize(
    ("broken", "expected"),
    [
        ('{"TWEENS": ["tests.testapp.tweens.first", {"factory": 3}]}', "hookpipe.E005"),
        ('{"TWEENS": ["tests.testapp.nomodule.f"]}', "hookpipe.E007"),
        ('{"TWEENS": ["tests.testapp.broken_module.factory"]}', "hookpipe.E007"),
        ("[1, 2]", "hookpipe.E001"),
    ],
)
def test_manage_py_check_prints_no_traceback(tmp_path: Path, broken: str, expected: str) -> None:
    result = manage_check(tmp_path, BROKEN_SETTINGS.replace("{BROKEN}", broken))
    assert result.returncode == 1
    assert expected in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_every_check_id_is_listed_in_one_place_and_documented_once() -> None:
    pattern = re.compile(r"hookpipe\.[EW]\d{3}")
    listing = ROOT / "hookpipe" / "check_ids.py"
    in_code = pattern.findall(listing.read_text())
    assert len(in_code) == len(set(in_code)), "an id is listed twice"
    elsewhere = {
        str(source.relative_to(ROOT)): found
        for source in (ROOT / "hookpipe").rglob("*.py")
        if source != listing and (found := pattern.findall(source.read_text()))
    }
    assert elsewhere == {}, "ids are written in hookpipe/check_ids.py only"
    documented = set(pattern.findall((ROOT / "docs" / "checks.rst").read_text()))
    assert set(in_code) == documented


E014_SETTINGS = """
from tests.settings import *
HOOKPIPE = {"TWEENS": [
    {"factory": "tests.testapp.tweens.first", "name": "request-id"},
    {"factory": "tests.testapp.tweens.labelled", "name": "auth", "under": "requst-id"},
    {"factory": "tests.testapp.tweens.second", "over": ["sesion", "csrf"]},
    {"factory": "tests.testapp.tweens.third", "under": "tests.testapp.tweens.labelled"},
    {"factory": "tests.testapp.tweens.omitted", "under": ("zzz",)},
]}
"""


def test_e014_suggests_the_closest_name_and_quotes_the_hint_as_written(tmp_path: Path) -> None:
    result = manage_check(tmp_path, E014_SETTINGS)
    assert result.returncode == 1
    out = result.stderr
    assert "Traceback" not in out
    # A string hint is quoted as a string, with the closest configured name.
    assert "has under='requst-id', and no tween of that name is configured." in out
    assert "HINT: Did you mean 'request-id'? Configured tween names: 'request-id'" in out
    # A list stays a list; the suggestion is for its first entry that has one.
    assert "has over=['sesion', 'csrf'], and none of those tweens is configured." in out
    # A tween named by its factory's path when it has an alias.
    assert (
        "HINT: 'tests.testapp.tweens.labelled' is the path of the tween named 'auth'; "
        "hints use names." in out
    )
    # A tuple is shown as written; nothing close, so no suggestion.
    assert "has under=('zzz',), and no tween of that name is configured." in out
    assert out.count("Did you mean") == 1
    assert out.count("hookpipe.E014") == 4


CAST_SETTINGS = """
from tests.settings import *
import os
os.environ["HOOKPIPE_WEBHOOK_STORE_BATCH"] = "many"
HOOKPIPE = {
    "HANDLERS": ["tests.testapp.plugins.Configured"],
    "PLUGINS": {"webhook-store": {"TOKEN": "t", "RATIO": "half"}},
}
"""


def test_a_subconfig_cast_error_names_the_plugin(tmp_path: Path) -> None:
    result = manage_check(tmp_path, CAST_SETTINGS)
    assert result.returncode == 1
    where = "HOOKPIPE[\"HANDLERS\"][0] ('webhook-store', tests.testapp.plugins.Configured)"
    assert (
        f"{where}: the environment variable HOOKPIPE_WEBHOOK_STORE_BATCH='many' cannot be "
        "read as int." in result.stderr
    )
    assert (
        f"{where}: HOOKPIPE[\"PLUGINS\"]['webhook-store']['RATIO'] must be float, not str "
        "('half')." in result.stderr
    )


@pytest.mark.parametrize(
    ("key", "path", "closest"),
    [
        ("TWEENS", T + "labeled", "tests.testapp.tweens.labelled"),
        ("HOOKS", "tests.testapp.hooks.Recordr", "tests.testapp.hooks.Recorder"),
        ("HANDLERS", "tests.testapp.plugins.Recordr", "tests.testapp.plugins.Recorder"),
    ],
)
def test_a_misspelt_name_in_a_module_that_imports_gets_the_closest_one(
    key: str, path: str, closest: str
) -> None:
    with override_settings(HOOKPIPE={key: [path]}):
        [message] = [m for m in check_hookpipe() if "cannot import" in m.msg]
    assert message.hint is not None
    assert message.hint.startswith(f"Did you mean {closest}?")


@pytest.mark.parametrize(
    ("plugin", "method"),
    [("HandleWithoutContent", "handle"), ("HandlesWithoutContent", "handles")],
)
def test_a_method_that_cannot_take_request_and_content_is_an_error(
    plugin: str, method: str
) -> None:
    with override_settings(HOOKPIPE={"HANDLERS": ["tests.testapp.plugins." + plugin]}):
        [message] = [m for m in check_hookpipe() if m.id == "hookpipe.E041"]
    assert f".{method}(self, request" in message.msg
    assert f"cannot be called as {method}(request, content)" in message.msg


def test_a_static_method_or_extra_arguments_are_fine() -> None:
    assert ids({"HANDLERS": ["tests.testapp.plugins.StaticHandles"]}) == []


FRESH_DATABASE = """
from tests.settings import *
DATABASES = {{"default": {{"ENGINE": "django.db.backends.sqlite3", "NAME": {name!r}}}}}
HOOKPIPE = {{"HANDLERS": ["tests.testapp.plugins.DeliveryChecker"]}}
"""


def test_unapplied_migrations_are_a_warning_with_a_database_and_say_migrate(
    tmp_path: Path,
) -> None:
    settings_source = FRESH_DATABASE.format(name=str(tmp_path / "db.sqlite3"))
    # Without a database asked for, the check reads none.
    assert "hookpipe.W060" not in manage(tmp_path, settings_source, "check").stderr
    found = manage(tmp_path, settings_source, "check", "--database", "default")
    assert found.returncode == 0, found.stderr  # a warning
    assert (
        "(hookpipe.W060) The database 'default' lacks migrations that hookpipe needs: "
        "django_tasks_database (" in found.stderr
    )
    assert "), hookpipe (7), hookpipe_fleet (1). " in found.stderr
    assert "HINT: Run `manage.py migrate`." in found.stderr
    # What a command reading the missing tables says: run migrate.
    switched = manage(tmp_path, settings_source, "hookpipe", "--disable", "delivery-checker")
    assert switched.returncode == 1
    assert "no such table" in switched.stderr
    assert "(the database lacks a table: run `manage.py migrate`)" in switched.stderr
    assert "Traceback" not in switched.stderr
    migrated = manage(tmp_path, settings_source, "migrate", "--verbosity", "0")
    assert migrated.returncode == 0, migrated.stderr
    after = manage(tmp_path, settings_source, "check", "--database", "default")
    assert "hookpipe.W060" not in after.stderr


def test_a_job_refused_for_a_missing_table_says_run_migrate(tmp_path: Path) -> None:
    settings_source = (
        FRESH_DATABASE.format(name=str(tmp_path / "db.sqlite3"))
        + 'HOOKPIPE = {"HANDLERS": [{"class": "tests.testapp.plugins.TaskRecorder", '
        '"TASK_BACKEND": "db"}]}\n'
    )
    post = (
        "from django.test import Client; "
        "print(Client().post('/webhooks/accept', b'x', content_type='a/b').status_code)"
    )
    posted = manage(tmp_path, settings_source, "shell", "-c", post)
    assert posted.stdout.split()[-1] == "503", posted.stderr
    assert "job could not be stored on task backend 'db': OperationalError: no such table" in (
        posted.stderr
    )
    assert "(the database lacks a table: run `manage.py migrate`); answering 503" in (posted.stderr)
