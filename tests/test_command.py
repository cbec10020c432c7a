"""``manage.py hookpipe``: the pipeline as text (like Pyramid's ``ptweens``) and JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from hookpipe.core.build import Pipeline

from .test_cluster import put

ROOT = Path(__file__).resolve().parent.parent
T = "tests.testapp.tweens."


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("hookpipe", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def as_json() -> dict[str, Any]:
    out, _ = run("--json")
    data: dict[str, Any] = json.loads(out)
    return data


def names(data: dict[str, Any]) -> list[str]:
    return [t["name"] for t in data["tweens"]]


def tween_block(text: str) -> list[str]:
    """The tween table of the text output, without its indentation."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.lstrip().startswith("Position"))
    end = lines.index("", start)
    return [line[2:] for line in lines[start:end]]


@pytest.fixture
def describe_also(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Make ``Pipeline.describe()`` report more, as the plugin features will."""

    def patch(**extra: Any) -> None:
        original = Pipeline.describe
        monkeypatch.setattr(Pipeline, "describe", lambda self: {**original(self), **extra})

    return patch


# ----------------------------------------------------------------------- text


@override_settings(HOOKPIPE={})
def test_empty_configuration_prints_the_sentinels_only() -> None:
    out, err = run()
    assert err == ""
    assert out.startswith("Tween order: implicit")
    assert tween_block(out) == [
        "Position  Name              Factory  Kind  Over  Under  Notes",
        "--------  ----------------  -------  ----  ----  -----  -----",
        "-         hookpipe.INGRESS  -        -     -     -",
        "-         hookpipe.MAIN     -        -     -     -",
    ]
    assert 'Global hooks (HOOKPIPE["HOOKS"]), in priority order:\n  none' in out
    assert 'Handlers (HOOKPIPE["HANDLERS"]):\n  none' in out
    assert 'Responders (HOOKPIPE["RESPONDERS"]):\n  none' in out
    assert "  MAX_WORKERS: 8\n  MAX_QUEUE: 1000\n  ON_FULL: block\n" in out


@override_settings(
    HOOKPIPE={
        "TWEENS": [
            T + "first",
            {"factory": T + "labelled", "name": "auth", "over": "hookpipe.MAIN",
             "under": T + "first", "options": {"label": "auth"}},
            T + "omitted",
            {"factory": T + "async_labelled", "name": "timing", "over": "auth"},
            {"handler": T + "chain_marker", "under": ["nothere", "timing"]},
        ]
    }
)  # fmt: skip
def test_text_shows_the_chain_in_order_with_hints_kinds_and_omitted_tweens() -> None:
    """Positions count the tweens that run; over="hookpipe.MAIN" pulls auth to the bottom."""
    out, _ = run()
    assert out.startswith('Tween order: implicit (HOOKPIPE["TWEENS"] order and over/under hints)\n')
    assert tween_block(out) == [
        "Position  Name                               Factory                              "
        "Kind           Over           Under                       Notes",
        "--------  ---------------------------------  -----------------------------------  "
        "-------------  -------------  --------------------------  -------",
        "-         hookpipe.INGRESS                   -                                    "
        "-              -              -",
        "0         tests.testapp.tweens.first         tests.testapp.tweens.first           "
        "tween          -              -                           sync",
        "-         tests.testapp.tweens.omitted       tests.testapp.tweens.omitted         "
        "tween          -              -                           omitted",
        "1         timing                             tests.testapp.tweens.async_labelled  "
        "tween          auth           -                           async",
        "2         tests.testapp.tweens.chain_marker  tests.testapp.tweens.chain_marker    "
        "chain handler  -              nothere, timing             sync",
        "3         auth                               tests.testapp.tweens.labelled        "
        "tween          hookpipe.MAIN  tests.testapp.tweens.first  sync",
        "-         hookpipe.MAIN                      -                                    "
        "-              -              -",
    ]


@override_settings(
    HOOKPIPE={
        "TWEENS": [T + "first", T + "second", {"factory": T + "third", "over": T + "first"}],
        "TWEEN_ORDER": [T + "second", T + "first"],
    }
)
def test_explicit_order_is_said_and_only_listed_tweens_appear() -> None:
    out, _ = run()
    assert out.startswith(
        'Tween order: explicit (HOOKPIPE["TWEEN_ORDER"]; over/under hints are ignored)\n'
    )
    rows = [line.split()[:2] for line in tween_block(out)[2:]]
    assert rows == [
        ["-", "hookpipe.INGRESS"],
        ["0", T + "second"],
        ["1", T + "first"],
        ["-", "hookpipe.MAIN"],
    ]


@override_settings(
    ROOT_URLCONF="tests.testapp.pipeline_fixtures",
    HOOKPIPE={"HOOKS": ["tests.testapp.pipeline_fixtures.AuditHook"]},
)
def test_text_lists_global_hooks_and_per_view_hooks_from_the_urlconf() -> None:
    out, _ = run()
    hooks = out[out.index("Global hooks") : out.index("Handlers")]
    assert "AuditHook" in hooks
    assert "tests.testapp.pipeline_fixtures.AuditHook" in hooks
    per_view = hooks[hooks.index("Per-view hooks") :].splitlines()
    reports = next(line for line in per_view if "/api/reports/" in line)
    assert reports.split()[:2] == ["/api/reports/", "tests.testapp.pipeline_fixtures.report"]
    # In the order they run: by priority.
    assert reports.endswith("ApiKeyHook (priority 5), TimingHook (priority 100)")
    assert any(line.lstrip().startswith("/api/v2/reports/ ") for line in per_view)
    item = next(line for line in per_view if "/api/items/<int:pk>/" in line)
    assert "tests.testapp.pipeline_fixtures.ItemView" in item
    assert not any("/api/plain/" in line for line in per_view)


def test_handlers_and_responders_render_from_describe_with_secrets_redacted(
    describe_also: Callable[..., None],
) -> None:
    describe_also(
        handlers=[
            {
                "name": "webhook",
                "class": "myapp.plugins.WebhookHandler",
                "THREAD_SAFE": True,
                "subconfig": {"URL": "https://example.com/hook", "TOKEN": "s3cr3t"},
                "counters": {"calls": 3, "errors": 1},
            }
        ],
        responders=[{"name": "csv", "class": "myapp.plugins.CsvResponder"}],
    )
    out, _ = run()
    handlers = out[out.index("Handlers") : out.index("Responders")]
    assert handlers.splitlines() == [
        'Handlers (HOOKPIPE["HANDLERS"]):',
        "  webhook",
        "    class:        myapp.plugins.WebhookHandler",
        "    THREAD_SAFE:  yes",
        "    subconfig:",
        "      URL:    https://example.com/hook",
        "      TOKEN:  ********",
        "",
    ]
    assert "s3cr3t" not in out
    assert "calls" not in out  # live counters are the admin page's business
    assert "  csv\n    class:  myapp.plugins.CsvResponder" in out


def test_unusual_plugin_descriptions_still_render(describe_also: Callable[..., None]) -> None:
    """Whatever shape the plugin features report, the command shows it, never fails."""
    describe_also(
        handlers=[
            "legacy.Handler",
            {
                "class": "myapp.Unnamed",
                "ratio": 0.125,
                "tags": ["a", "b"],
                "routes": [{"path": "/x"}],
                "subconfig": {
                    "RETRY": {"MAX": 3, "BACKOFF": 1.5},
                    "KEY_FILE": {"value": "/etc/key", "secret": True},
                    "WHERE": Path("/srv"),
                },
                "counters": 4,
            },
        ]
    )
    out, _ = run()
    handlers = out[out.index("Handlers") : out.index("Responders")].splitlines()
    assert handlers == [
        'Handlers (HOOKPIPE["HANDLERS"]):',
        "  legacy.Handler",
        "  myapp.Unnamed",
        "    ratio:      0.125",
        "    tags:       a, b",
        '    routes:     [{"path": "/x"}]',
        "    subconfig:",
        "      RETRY MAX:      3",
        "      RETRY BACKOFF:  1.5",
        "      KEY_FILE:       ********",
        "      WHERE:          /srv",
        "",
    ]


# ----------------------------------------------------------------------- JSON


@override_settings(
    HOOKPIPE={
        "TWEENS": [
            {"factory": T + "first", "under": "hookpipe.INGRESS"},
            {"factory": T + "labelled", "name": "inner", "over": "hookpipe.MAIN"},
            T + "omitted",
            {"handler": T + "chain_marker"},
        ],
        "THREAD_POOL": {"MAX_WORKERS": 2},
    }
)
def test_json_has_the_documented_shape() -> None:
    data = as_json()
    assert {"tweens", "tween_order", "hooks", "handlers", "responders"} <= data.keys()
    assert data["tween_order"] == "implicit"
    assert names(data) == [T + "first", T + "omitted", T + "chain_marker", "inner"]
    first, omitted, chain, inner = data["tweens"]
    assert first == {
        "name": T + "first",
        "factory": T + "first",
        "kind": "factory",
        "over": [],
        "under": ["hookpipe.INGRESS"],
        "omitted": False,
        "is_async": False,
        "switch_name": T + "first",
        "enabled": True,
        "switchable": True,
    }
    assert omitted["omitted"] is True
    assert chain["kind"] == "handler"
    assert inner["factory"] == T + "labelled"
    assert inner["over"] == ["hookpipe.MAIN"]
    assert data["thread_pool"] == {"MAX_WORKERS": 2, "MAX_QUEUE": 1000, "ON_FULL": "block"}
    assert data["handlers"] == []
    assert data["responders"] == []


@override_settings(HOOKPIPE={"TWEENS": [T + "first", T + "second"], "TWEEN_ORDER": [T + "second"]})
def test_json_explicit_order() -> None:
    data = as_json()
    assert data["tween_order"] == "explicit"
    assert names(data) == [T + "second"]


@override_settings(ROOT_URLCONF="tests.testapp.pipeline_fixtures")
def test_json_per_view_hooks() -> None:
    by_pattern = {entry["pattern"]: entry for entry in as_json()["view_hooks"]}
    reports = by_pattern["/api/reports/"]
    assert reports["name"] == "api:report"
    assert reports["view"] == "tests.testapp.pipeline_fixtures.report"
    assert [(h["name"], h["priority"]) for h in reports["hooks"]] == [
        ("ApiKeyHook", 5),
        ("TimingHook", 100),
    ]
    assert by_pattern["/api/items/<int:pk>/"]["view"] == (
        "tests.testapp.pipeline_fixtures.ItemView"
    )
    assert "/api/plain/" not in by_pattern
    assert by_pattern["/api/v2/reports/"]["name"] == "api:v2:report"


@override_settings(ROOT_URLCONF="django.contrib.auth.urls")
def test_no_view_with_hooks() -> None:
    out, _ = run()
    assert (
        "Per-view hooks (@with_hooks, include_with_hooks; found by walking the URLconf):\n  none\n"
        in out
    )
    assert as_json()["view_hooks"] == []


@override_settings(ROOT_URLCONF="tests.testapp.broken_module")
def test_an_unreadable_urlconf_is_a_note_not_a_failure() -> None:
    out, err = run()
    assert "Per-view hooks are not shown: the URLconf cannot be read (RuntimeError" in err
    assert out.startswith("Tween order: implicit")


def test_json_keeps_counters_and_redacts_secrets(describe_also: Callable[..., None]) -> None:
    describe_also(
        handlers=[
            {
                "name": "webhook",
                "subconfig": {
                    "API_KEY": "abc",
                    "PASSWORD": "",
                    "SIGNING": {"value": "xyz", "secret": True},
                    "RETRIES": 3,
                },
                "counters": {"calls": 2},
            }
        ]
    )
    (handler,) = as_json()["handlers"]
    assert handler["subconfig"] == {
        "API_KEY": "********",
        "PASSWORD": "",
        "SIGNING": {"value": "********", "secret": True},
        "RETRIES": 3,
    }
    assert handler["counters"] == {"calls": 2}


# --------------------------------------------------------------------- errors


@override_settings(
    HOOKPIPE={"TWEENS": [{"factory": T + "first", "over": "nothere"}, T + "missing"]}
)
def test_broken_configuration_reports_check_ids_and_fails() -> None:
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError, match=r"hookpipe\.E007, hookpipe\.E014") as excinfo:
        call_command("hookpipe", stdout=out, stderr=err)
    assert excinfo.value.returncode == 1
    assert out.getvalue() == ""
    assert "The hookpipe pipeline cannot be built (2 problems):" in err.getvalue()
    assert "hookpipe.E007: " in err.getvalue()
    assert "hookpipe.E014: " in err.getvalue()
    assert "HINT: " in err.getvalue()


@override_settings(HOOKPIPE={"TWEENS": [T + "factory_raises"]})
def test_a_factory_that_raises_is_reported() -> None:
    err = StringIO()
    with pytest.raises(CommandError, match="cannot be built"):
        call_command("hookpipe", "--json", stdout=StringIO(), stderr=err)
    assert "factory_raises' raised ValueError: factory cannot start" in err.getvalue()


@override_settings(HOOKPIPE={"TWEENS": "not a list"})
def test_json_mode_fails_the_same_way() -> None:
    err = StringIO()
    with pytest.raises(CommandError, match=r"hookpipe\.E009"):
        call_command("hookpipe", "--json", stdout=StringIO(), stderr=err)
    assert "hookpipe.E009" in err.getvalue()


@override_settings(
    HOOKPIPE={"HOOKS": [{"class": "hookpipe.RequestViewerHook", "options": {"items": ["nosuch"]}}]}
)
def test_warnings_are_said_but_do_not_stop_the_command() -> None:
    out, err = run()
    assert "hookpipe.W" in err
    assert "RequestViewerHook" in out


def test_command_line_exit_status_and_no_traceback() -> None:
    """Through ``python -m django``, as a user runs it: status 1, errors on stderr."""
    code = (
        "import sys\n"
        "from django.conf import settings\n"
        "settings.HOOKPIPE = {'TWEENS': ['tests.testapp.tweens.missing']}\n"
        "from django.core.management import execute_from_command_line\n"
        "execute_from_command_line(['manage.py', 'hookpipe'])\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stdout == ""
    assert "hookpipe.E007" in result.stderr
    assert "CommandError: HOOKPIPE is not valid (hookpipe.E007)" in result.stderr
    assert "Traceback" not in result.stderr


def test_command_line_json_is_valid_json() -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "django", "hookpipe", "--json"], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert json.loads(result.stdout)["tweens"] == []


# ------------------------------------------------------------ counters as text


def block(text: str, heading: str) -> list[str]:
    """The lines under the line that starts with ``heading``, to the next blank line."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(heading))
    end = lines.index("", start) if "" in lines[start:] else len(lines)
    return lines[start + 1 : end]


@pytest.mark.django_db
@pytest.mark.usefixtures("clean_fleet_cache")
@override_settings(
    HOOKPIPE={
        "HANDLERS": ["tests.testapp.plugins.Recorder"],
        "RESPONDERS": ["tests.testapp.plugins.Chunks"],
    }
)
def test_the_fleet_is_a_table_per_kind_with_a_row_per_plugin_and_process() -> None:
    now = time.time()
    answered = {"answered": 4, "errors": 0, "stream_errors": 0, "handles_errors": 0}
    jobs = {"submitted": 3, "succeeded": 3, "failed": 0, "rejected": 0, "handles_errors": 0}
    put(11, now, {"chunks": answered, "recorder": jobs}, host="web")
    put(12, now - 30, {"chunks": {**answered, "answered": 16, "errors": 2}}, host="web")
    out, _ = run()
    fleet = block(out, "Fleet (cache")
    assert fleet[1].split() == ["Process", "State", "Last", "seen", "Started"]
    assert [line.split()[:2] for line in fleet[3:]] == [["web:11", "live"], ["web:12", "stale"]]
    assert "  stale !  " in fleet[4]  # marked: not seen for 30 s (STALE_AFTER is 15)
    assert fleet[3].endswith(iso(now - 100))
    # Numbers right-aligned, zeros as ".", a problem marked "!" in a column of its own;
    # a process's row under its plugin's; a handler has its own counters.
    assert block(out, "Fleet totals (summed over 2 processes) (. is 0, ! marks a problem):") == [
        "  Responders:",
        "    Plugin             answered   errors   stream_errors   handles_errors",
        "    -----------------  --------   ------   -------------   --------------",
        "    chunks                   20        2!              .                .",
        "      web:11                  4        .               .                .",
        "      web:12 (stale!)        16        2!              .                .",
        "  Handlers run in the thread pool:",
        "    Plugin    submitted   succeeded   failed   rejected   handles_errors",
        "    --------  ---------   ---------   ------   --------   --------------",
        "    recorder          3           3        .          .                .",
    ]
    assert block(out, "Fleet problems:") == ["  web:12: stale", "  chunks errors 2"]


def iso(timestamp: float) -> str:
    import datetime

    moment = datetime.datetime.fromtimestamp(timestamp, datetime.UTC)
    return moment.isoformat(timespec="seconds")


@pytest.mark.django_db(transaction=True)
@override_settings(
    HOOKPIPE={
        "HANDLERS": [{"class": "tests.testapp.plugins.TaskRecorder", "TASK_BACKEND": "db"}],
    }
)
def test_the_task_backends_are_a_table_with_the_backlog_marked() -> None:
    import datetime

    from django.test import Client
    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    Client().post("/webhooks/accept", b"x", content_type="a/b")
    DBTaskResult.objects.update(enqueued_at=timezone.now() - datetime.timedelta(minutes=10))
    out, _ = run()
    heading = (
        "Hookpipe's tasks by task backend and queue (database backends) "
        "(. is 0, ! marks a problem):"
    )
    header, _, row = block(out, heading)
    assert header.split() == [
        "Backend",
        "READY",
        "RUNNING",
        "SUCCESSFUL",
        "FAILED",
        "dead",
        "stale_running",
        "oldest_ready_s",
        "live_workers",
    ]
    cells = row.split()
    assert cells[:7] == ["db/default", "1", ".", ".", ".", ".", "."]
    assert cells[7].endswith("!")
    assert float(cells[7][:-1]) >= 600
    assert cells[8] == "0!"  # no task worker beats
    # The handler's details keep its task's settings, not its counts.
    details = out[out.index("  task-recorder") : out.index(heading)]
    assert "queue_name:" in details
    assert "enqueued" not in details
    assert "backend_view" not in details
