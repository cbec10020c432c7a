"""hookpipe's test helpers, the hookpipe_tester fixture and the public typing names.

The user's view of these is docs/examples/myproject (run by this suite too); here are
the promises behind it: build_plugin says what ``manage.py check`` says, run_handlers
picks the handlers a real request picks and starts no pool, the pytest plugin does not
disturb a project without Django settings, and a user's ``mypy --strict`` passes on the
documented names (and fails on the mistakes they exist to catch)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.http import HttpRequest
from django.test import RequestFactory, override_settings
from myproject.plugins import SignedWebhook, signature

import hookpipe
from hookpipe import (
    HandlerImplementation,
    PluginConfigError,
    PluginTester,
    RequestSnapshot,
    build_plugin,
    context_of,
    run_handlers,
    snapshot_of,
)
from hookpipe.jobs import process_pool
from hookpipe.plugins.planning import plan_plugins
from tests.conftest import ROOT, Fetch
from tests.testapp import plugins as tp

P = "tests.testapp.plugins."
WEBHOOK = "myproject.plugins.SignedWebhook"


@pytest.fixture(autouse=True)
def _fresh() -> Iterator[None]:
    tp.reset()
    process_pool.reset_for_tests()
    yield
    process_pool.reset_for_tests()
    tp.reset()


def post(path: str = "/webhooks/", body: bytes = b"{}", **kwargs: Any) -> HttpRequest:
    return RequestFactory().post(path, body, content_type="application/json", **kwargs)


# ------------------------------------------------------------------ build_plugin


def _what(message: str) -> str:
    """A check message without the part that says where (which entry, or build_plugin())."""
    return re.sub(r'^(HOOKPIPE\["HANDLERS"\]\[\d+\] \([^)]*\)|build_plugin\(\)): ', "", message)


@pytest.mark.parametrize(
    ("given", "environ"),
    [
        pytest.param({}, {}, id="missing-required"),
        pytest.param({"SECRET": "s", "RECIPIENTS": "a@example.com"}, {}, id="wrong-type"),
        pytest.param({"SECRET": "s", "TYPO": 1}, {}, id="unknown-key"),
        pytest.param({"SECRET": 5}, {}, id="secret-wrong-type-redacted"),
        pytest.param({}, {"HOOKPIPE_SIGNED_WEBHOOK_SECRET": "s"}, id="env-ok"),
    ],
)
def test_build_plugin_says_what_the_checks_say(given: Any, environ: dict[str, str]) -> None:
    """The same ids, messages and hints as HOOKPIPE["PLUGINS"] gets from the checks
    (after the part that says where: a settings entry there, build_plugin() here)."""
    _, problems = plan_plugins([WEBHOOK], [], {"signed-webhook": given}, environ)
    expected = [(p.id, _what(p.msg), p.hint) for p in problems]
    if not expected:
        assert build_plugin(SignedWebhook, given, environ=environ).config.SECRET == "s"
        return
    with pytest.raises(PluginConfigError) as caught:
        build_plugin(SignedWebhook, given, environ=environ)
    assert [(p.id, _what(p.msg), p.hint) for p in caught.value.messages] == expected
    for check_id, msg, _ in expected:
        assert f"{check_id}: " in str(caught.value)
        assert msg in str(caught.value)
    if given.get("SECRET") == 5:
        assert "5" not in str(expected)  # a secret's value is not shown, in either


def test_build_plugin_casts_and_fills_defaults() -> None:
    plugin = build_plugin(tp.Configured, {"TOKEN": "t", "RATIO": 2, "TAGS": ("x", "y")})
    assert isinstance(plugin, tp.Configured)
    assert dict(plugin.config) == {
        "TOKEN": "t",
        "BATCH": 10,
        "RATIO": 2.0,
        "ENABLED": True,
        "TAGS": ["x", "y"],
    }
    assert "'t'" not in repr(plugin)  # the secret stays redacted


def test_build_plugin_reads_the_environment_only_when_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HOOKPIPE_SIGNED_WEBHOOK_SECRET", "from-env")
    monkeypatch.setenv("HOOKPIPE_SIGNED_WEBHOOK_RECIPIENTS", "a@example.com,b@example.com")
    with pytest.raises(PluginConfigError, match="needs a value for SECRET"):
        build_plugin(SignedWebhook)
    plugin = build_plugin(SignedWebhook, environ=os.environ)
    assert plugin.config.SECRET == "from-env"
    assert plugin.config.RECIPIENTS == ["a@example.com", "b@example.com"]
    with pytest.raises(PluginConfigError) as caught:
        build_plugin(tp.Configured, {"TOKEN": "t"}, environ={"HOOKPIPE_WEBHOOK_STORE_BATCH": "x"})
    assert caught.value.ids == ["hookpipe.E039"]


@pytest.mark.parametrize(
    ("cls", "check_id"),
    [
        (tp.NoName, "hookpipe.E033"),
        (tp.BadName, "hookpipe.E034"),
        (tp.BadSubconfigKey, "hookpipe.E036"),
        (tp.BadDefault, "hookpipe.E036"),
        (tp.MissingHandle, "hookpipe.E041"),
        (tp.AsyncHandle, "hookpipe.E041"),
    ],
)
def test_build_plugin_checks_the_class(cls: type[HandlerImplementation], check_id: str) -> None:
    with pytest.raises(PluginConfigError) as caught:
        build_plugin(cls)
    assert caught.value.ids == [check_id]


def test_build_plugin_refuses_what_is_not_a_plugin_class() -> None:
    with pytest.raises(TypeError, match="HandlerImplementation or"):
        build_plugin(tp.Recorder())  # type: ignore[arg-type]


def test_a_plugin_constructor_error_is_raised_as_it_is() -> None:
    with pytest.raises(RuntimeError, match="cannot start"):
        build_plugin(tp.ConstructorRaises)


# -------------------------------------------------------------------- snapshot_of


def test_snapshot_of_a_request_factory_request() -> None:
    user = User(pk=7, username="alice")
    request = RequestFactory().put(
        "/items/3?a=1&a=2&b=",
        b"raw",
        content_type="text/plain",
        headers={"X-Token": "t"},
        secure=True,
    )
    request.user = user
    snapshot = snapshot_of(request)
    assert (snapshot.method, snapshot.path, snapshot.full_path) == (
        "PUT",
        "/items/3",
        "/items/3?a=1&a=2&b=",
    )
    assert snapshot.query == (("a", "1"), ("a", "2"), ("b", ""))
    assert snapshot.headers["x-token"] == "t"
    assert snapshot.headers["Content-Type"] == "text/plain"
    assert (snapshot.content, snapshot.scheme, snapshot.user_id) == (b"raw", "https", 7)
    assert re.fullmatch(r"[0-9a-f]{32}", snapshot.request_id)
    assert snapshot_of(request, b"other", request_id="r1").content == b"other"


def test_snapshot_of_an_anonymous_request_has_no_user() -> None:
    assert snapshot_of(RequestFactory().get("/")).user_id is None


# ------------------------------------------------------------------- run_handlers


@override_settings(HOOKPIPE={"HANDLERS": [P + "Recorder", P + "InlineRecorder", P + "Failing"]})
def test_run_handlers_runs_them_now_with_what_their_runner_gives() -> None:
    request = post("/webhooks/?x=1", b'{"a": 1}')
    jobs = run_handlers(request)
    assert jobs.names == ["recorder", "inline-recorder", "failing"]
    recorder, inline, failing = jobs
    assert (recorder.runner, inline.runner, failing.runner) == ("pool", "inline", "pool")
    # Pool handlers share one snapshot; the inline one gets the request itself.
    assert recorder.snapshot is failing.snapshot
    assert recorder.snapshot.content == b'{"a": 1}'
    assert inline.request is request
    with pytest.raises(TypeError, match="got the live request"):
        inline.snapshot  # noqa: B018
    # One request id for the request's context and the snapshot.
    assert recorder.snapshot.request_id == context_of(request).request_id
    # In this thread, now, and nothing went near the pool or its counters.
    [(_, _, thread)] = tp.SEEN["recorder"]
    assert thread == __import__("threading").current_thread().name
    assert process_pool.current_pool() is None
    assert process_pool.counters().names() == []
    assert isinstance(failing.error, RuntimeError)
    assert jobs.errors == [failing]
    with pytest.raises(RuntimeError, match="'failing': handle\\(\\) raised") as caught:
        jobs.raise_errors()
    assert caught.value.__cause__ is failing.error


@override_settings(HOOKPIPE={"HANDLERS": [P + "HandlesRaises", P + "Recorder"]})
def test_a_handles_error_is_kept_and_the_others_still_run() -> None:
    jobs = run_handlers(post())
    assert jobs.names == ["recorder"]
    [(name, exc)] = jobs.handles_errors
    assert (name, type(exc)) == ("handles-raises", KeyError)
    with pytest.raises(RuntimeError, match="handles\\(\\) raised") as caught:
        jobs.raise_errors()
    assert caught.value.__cause__ is exc


@override_settings(
    HOOKPIPE={"HANDLERS": [WEBHOOK, P + "Recorder"], "PLUGINS": {"signed-webhook": {"SECRET": "s"}}}
)
def test_run_handlers_applies_the_prefilters_as_a_request_does() -> None:
    # SignedWebhook takes POST /webhooks/ only: a GET never asks it.
    jobs = run_handlers(RequestFactory().get("/webhooks/"))
    assert jobs.asked == ("recorder",)
    assert jobs.names == ["recorder"]
    with pytest.raises(KeyError, match="'signed-webhook' did not run; ran: \\['recorder'\\]"):
        jobs.named("signed-webhook")


@override_settings(HOOKPIPE={"HANDLERS": [P + "Recorder"]}, DATA_UPLOAD_MAX_MEMORY_SIZE=10)
def test_a_body_over_the_limit_is_refused_as_by_a_request() -> None:
    jobs = run_handlers(post(body=b"x" * 11))
    assert len(jobs) == 0
    assert jobs.refused is not None
    assert jobs.refused.status_code == 413
    with pytest.raises(ValueError, match="too large"):
        snapshot_of(post(body=b"x" * 11))


@override_settings(HOOKPIPE={"HANDLERS": [P + "Recorder", P + "InlineRecorder"]})
@pytest.mark.django_db
def test_run_handlers_picks_what_a_real_request_picks(fetch: Fetch) -> None:
    for path in ("/webhooks/a", "/elsewhere/"):
        tp.reset()
        fetch(path, method="post", data=b"{}", content_type="application/json")
        process_pool.shutdown(5.0)  # the pool's jobs have run
        process_pool.reset_for_tests()
        through_pipeline = sorted(name for name in tp.SEEN if tp.SEEN[name])
        tp.reset()
        assert sorted(run_handlers(post(path)).names) == through_pipeline


def test_run_handlers_with_given_instances_needs_no_settings() -> None:
    webhook = build_plugin(SignedWebhook, {"SECRET": "s"})
    recorder = build_plugin(tp.Recorder)
    body = b'{"type": "push"}'
    request = post(body=body, headers={"X-Signature": signature("s", body)})
    jobs = run_handlers(request, [recorder, webhook], content=body)
    assert [job.handler for job in jobs] == [recorder, webhook]
    with pytest.raises(TypeError, match="HandlerImplementation instances"):
        run_handlers(request, [tp.Recorder])  # type: ignore[list-item,unused-ignore]
    assert len(run_handlers(request, [])) == 0


@override_settings(
    HOOKPIPE={"HANDLERS": [P + "TaskRecorder", {"class": P + "Recorder", "RUNNER": "task"}]}
)
def test_task_handlers_run_now_with_the_snapshot_a_worker_would_rebuild() -> None:
    from hookpipe.tasks import runner as task

    # The task counters are the process's: another test may have enqueued before.
    enqueued = task.counters().snapshot("task-recorder")["enqueued"]
    jobs = run_handlers(post("/webhooks/?x=1", b'{"a": 1}'))
    assert [(job.name, job.runner) for job in jobs] == [
        ("task-recorder", "task"),
        ("recorder", "task"),
    ]
    first, second = jobs
    # Rebuilt from the JSON form for each job, as each task's worker rebuilds it.
    assert first.snapshot == second.snapshot
    assert first.snapshot is not second.snapshot
    assert first.snapshot.param("x") == "1"
    assert first.snapshot.json() == {"a": 1}
    assert task.counters().snapshot("task-recorder")["enqueued"] == enqueued  # none queued


def test_build_plugin_checks_the_runner() -> None:
    class Elsewhere(tp.NoName):
        name = "elsewhere"
        RUNNER = "elsewhere"

    with pytest.raises(PluginConfigError) as caught:
        build_plugin(Elsewhere)
    assert caught.value.ids == ["hookpipe.E050"]


@override_settings(HOOKPIPE={"HANDLERS": [P + "TaskRecorder"]})
def test_run_handlers_runs_a_handler_whatever_its_runner() -> None:
    from hookpipe.tasks import runner as task

    enqueued = task.counters().snapshot("task-recorder")["enqueued"]
    [job] = run_handlers(post())
    assert job.runner == "task"
    assert isinstance(job.request, RequestSnapshot)
    assert len(tp.SEEN["task-recorder"]) == 1  # ran here, now
    assert task.counters().snapshot("task-recorder")["enqueued"] == enqueued  # not stored


# ---------------------------------------------------------------------- the fixture


def test_the_tester_configures_for_one_test_only() -> None:
    tester = PluginTester()
    tester.configure(HANDLERS=[P + "Recorder"])
    request = tester.request("POST", "/webhooks/", {"a": 1}, content_type="application/json")
    assert tester.run_handlers(request).names == ["recorder"]
    tester.close()
    from django.conf import settings

    assert settings.HOOKPIPE == {}
    assert len(run_handlers(post())) == 0


@pytest.mark.parametrize("method", ["GET", "HEAD", "DELETE", "PUT", "PROPFIND", "TRACE"])
def test_the_tester_makes_requests_of_any_method(method: str) -> None:
    user = User(pk=3)
    request = PluginTester().request(method, "/x?q=1", headers={"X-A": "b"}, user=user)
    snapshot = snapshot_of(request)
    assert (snapshot.method, snapshot.query, snapshot.headers["X-A"]) == (
        method,
        (("q", "1"),),
        "b",
    )
    assert snapshot.content == b""
    assert snapshot.user_id == 3


#: pytest as a project without pytest-django runs it (and without pytest-asyncio, whose
#: own configuration warning is no business of these tests).
BARE = ("-p", "no:django", "-p", "no:asyncio", "-p", "no:cacheprovider")


def _pytest(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """pytest in a bare project: no settings, no pytest-django, hookpipe installed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST_"))}
    return subprocess.run(
        [sys.executable, "-m", "pytest", *BARE, *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
        check=False,
    )


def test_the_pytest_plugin_leaves_a_project_without_django_alone(tmp_path: Path) -> None:
    (tmp_path / "test_plain.py").write_text(
        textwrap.dedent(
            """
            import sys

            def test_plain():
                assert "pytest_hookpipe" in sys.modules  # loaded by its entry point
                from django.conf import settings
                assert not settings.configured  # and it configured nothing

            def test_fixture_without_settings(hookpipe_tester):
                pass
            """
        )
    )
    result = _pytest(tmp_path, "-W", "error", "-rA")
    assert "1 passed" in result.stdout, result.stdout + result.stderr
    assert "1 error" in result.stdout
    assert "hookpipe_tester needs Django settings" in result.stdout
    fixtures = _pytest(tmp_path, "--fixtures")
    assert "hookpipe_tester" in fixtures.stdout
    off = _pytest(tmp_path, "-p", "no:hookpipe", "-k", "fixture")
    assert "fixture 'hookpipe_tester' not found" in off.stdout


def test_the_fixture_sets_django_up_from_the_settings_module(tmp_path: Path) -> None:
    (tmp_path / "test_with_settings.py").write_text(
        textwrap.dedent(
            """
            def test_it(hookpipe_tester):
                hookpipe_tester.configure(HANDLERS=["tests.testapp.plugins.Recorder"])
                request = hookpipe_tester.request("POST", "/webhooks/", b"{}",
                                                  content_type="application/json")
                assert hookpipe_tester.run_handlers(request).names == ["recorder"]
            """
        )
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", *BARE, "-q"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONPATH": str(ROOT)},
        timeout=120,
        check=False,
    )
    assert "1 passed" in result.stdout, result.stdout + result.stderr


# ------------------------------------------------------------------------ typing


def test_context_of_a_request_that_never_met_the_middleware() -> None:
    with pytest.raises(LookupError, match="GET /x has no hookpipe context"):
        context_of(RequestFactory().get("/x"))


def test_the_public_names() -> None:
    from hookpipe.core.build import Registry

    for name in hookpipe.__all__:
        assert getattr(hookpipe, name) is not None
    assert hookpipe.Registry is Registry
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        hookpipe.Nope  # noqa: B018
    # A settings module may import hookpipe for INGRESS/MAIN: that leaves the pipeline,
    # its runners and Django's settings alone (the pure ordering module is all it loads).
    code = (
        "import sys, hookpipe; from django.conf import settings; "
        "print(sorted(m for m in sys.modules if m.startswith(('hookpipe.core.', "
        "'hookpipe.jobs'))), settings.configured)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    assert out.strip() == "['hookpipe.core.ordering'] False"


TWEENS = "myproject.tweens."


TYPED_TWEENS = {
    "TWEENS": [
        TWEENS + "timing_factory",
        {"factory": TWEENS + "request_id_factory", "options": {"header": "X-Id"}},
        TWEENS + "MaintenanceTween",
        {"handler": TWEENS + "require_api_key"},
        {"handler": TWEENS + "async_require_api_key"},
    ]
}


@override_settings(HOOKPIPE=TYPED_TWEENS, API_KEYS=["k"])
def test_the_typed_example_tweens_work(fetch: Fetch) -> None:
    response = fetch("/")
    assert response.status_code == 200
    assert response["Server-Timing"].startswith("app;dur=")
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Id"])
    assert fetch("/api/x").status_code == 401
    assert fetch("/api/x", headers={"X-Api-Key": "k"}).status_code == 404
    # The factory reads MAINTENANCE_MODE once per build: a new HOOKPIPE rebuilds.
    with override_settings(MAINTENANCE_MODE=True, HOOKPIPE={**TYPED_TWEENS}):
        assert fetch("/").status_code == 503


CONFORMS = """
from django.http import HttpRequest

from hookpipe import (
    AsyncChainHandler, AsyncTween, ChainHandler, RequestContext, Tween, TweenFactory,
    context_of,
)
from myproject import tweens

FACTORIES: list[TweenFactory] = [
    tweens.timing_factory, tweens.request_id_factory, tweens.MaintenanceTween,
]
CHAIN: ChainHandler = tweens.require_api_key
ASYNC_CHAIN: AsyncChainHandler = tweens.async_require_api_key


def ctx(request: HttpRequest) -> RequestContext:
    return context_of(request)
"""

MISTAKES = """
from django.http import HttpRequest, HttpResponseBase

from hookpipe import ChainHandler, Registry, Tween, TweenFactory


def returns_text(handler: Tween, registry: Registry) -> Tween:
    def tween(request: HttpRequest) -> str:
        return "no"
    return tween  # line 10: not a tween


def two_args(request: HttpRequest, next_handler: Tween) -> HttpResponseBase:
    return next_handler(request)


CHAIN: ChainHandler = two_args  # line 17: a chain handler takes (app, request, next)
FACTORY: TweenFactory = two_args  # line 18: not a factory


def untyped(request: HttpRequest) -> str:
    return request.hookpipe.request_id  # line 22: why context_of() exists
"""


def test_a_users_mypy_strict_passes_on_the_documented_names(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """mypy --strict, as a user runs it (django-stubs and its plugin; hookpipe an
    installed, typed library), on the docs' example project, on a module using every
    protocol, and on one with the mistakes the names exist to catch."""
    (tmp_path / "conforms.py").write_text(CONFORMS)
    (tmp_path / "mistakes.py").write_text(MISTAKES)
    config = tmp_path / "mypy.ini"
    config.write_text(
        "[mypy]\nstrict = True\nplugins = mypy_django_plugin.main\n"
        f"mypy_path = {ROOT / 'docs' / 'examples'}\n"
        "[mypy.plugins.django-stubs]\ndjango_settings_module = tests.settings\n"
        # Checked as a user's project sees an installed package: its own errors are not
        # the user's (make types checks them).
        "[mypy-hookpipe.*]\nfollow_imports = silent\n"
    )
    # A cache that outlives the test when pytest keeps one: a cold run takes ~20 s.
    keeps = hasattr(request.config, "cache")
    cache = request.config.cache.mkdir("mypy-user") if keeps else tmp_path
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(config),
            "--cache-dir",
            str(cache),
            "--no-error-summary",
            "--show-error-codes",
            str(ROOT / "docs" / "examples" / "myproject"),
            str(tmp_path / "conforms.py"),
            str(tmp_path / "mistakes.py"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    where = sorted({(Path(line.split(":")[0]).name, int(line.split(":")[1])) for line in errors})
    assert where == [
        ("mistakes.py", 10),
        ("mistakes.py", 17),
        ("mistakes.py", 18),
        ("mistakes.py", 22),
    ], result.stdout + result.stderr
    assert "type: ignore" not in "".join(
        p.read_text() for p in (ROOT / "docs" / "examples" / "myproject").glob("*.py")
    )
