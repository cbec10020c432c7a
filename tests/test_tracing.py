"""Tracing (HOOKPIPE["TRACING"]): OpenTelemetry spans read back with the SDK's in-memory
exporter, through real requests under WSGI and ASGI; the Server-Timing header; the
check for a missing extra. The worker's side is tests/test_tracing_worker.py."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from django.core import checks
from django.test import Client, override_settings
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from hookpipe.jobs import process_pool
from tests.conftest import Fetch
from tests.test_durations import whole
from tests.testapp import plugins as tp

P = "tests.testapp."
ON = {"ENABLED": True}

EXPORTER = InMemorySpanExporter()


def _provider() -> TracerProvider:
    """The process's SDK provider, set once (the API allows one per process)."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
        provider = trace.get_tracer_provider()
        assert isinstance(provider, TracerProvider)
    provider.add_span_processor(SimpleSpanProcessor(EXPORTER))
    return provider


PROVIDER = _provider()


@pytest.fixture(autouse=True)
def _fresh() -> Iterator[None]:
    EXPORTER.clear()
    tp.reset()
    yield
    process_pool.shutdown(5)
    process_pool.reset_for_tests()
    tp.reset()
    EXPORTER.clear()


def spans() -> list[ReadableSpan]:
    return list(EXPORTER.get_finished_spans())


def named(name: str) -> ReadableSpan:
    found = [s for s in spans() if s.name == name]
    assert len(found) == 1, [s.name for s in spans()]
    return found[0]


def parent_of(span: ReadableSpan) -> ReadableSpan | None:
    if span.parent is None:
        return None
    return next(s for s in spans() if s.context.span_id == span.parent.span_id)


def hookpipe_checks() -> list[checks.CheckMessage]:
    """What Django's registered checks say (those of the models left out: Django 6.1's
    ask the database)."""
    registered = checks.registry.registry.get_checks()
    return [m for check in registered if check.__module__.startswith("hookpipe") for m in check()]


def pipeline(**tracing: Any) -> dict[str, Any]:
    return {
        "TWEENS": [
            {"factory": P + "tweens.labelled", "name": "outer"},
            {"handler": P + "tweens.chain_marker", "name": "chain"},
        ],
        "HOOKS": [{"class": P + "hooks.Recorder", "options": {"label": "audit"}}],
        "HANDLERS": [P + "plugins.Recorder", P + "plugins.InlineRecorder"],
        "RESPONDERS": [P + "plugins.Echo", P + "plugins.Chunks"],
        "TRACING": {**ON, **tracing},
    }


def test_a_request_is_one_span_with_a_child_per_piece(fetch: Fetch) -> None:
    with override_settings(HOOKPIPE=pipeline()):
        response = fetch("/answer/echo", method="post", data=b"{}", content_type="a/b")
        assert response.status_code == 200
        assert tp.DONE["recorder"].wait(5)
        process_pool.shutdown(5)  # the pool job's span has ended
    root = named("hookpipe")
    assert root.attributes is not None
    assert root.attributes["hookpipe.answered_by"] == "responder echo"
    assert root.attributes["http.response.status_code"] == 200
    assert root.attributes["hookpipe.request_id"] == response.json()["request_id"]
    outer = named("hookpipe.tween outer")
    chain = named("hookpipe.tween chain")
    assert parent_of(outer) is root
    assert parent_of(chain) is outer
    assert chain.attributes == {"hookpipe.kind": "chain handler", "hookpipe.plugin": "chain"}
    label = "tests.testapp.hooks.Recorder"
    on_route = named(f"hookpipe.hook {label}.on_route")
    assert on_route.attributes is not None
    assert on_route.attributes["hookpipe.phase"] == "on_route"
    assert parent_of(on_route) is chain
    assert parent_of(named(f"hookpipe.hook {label}.after")) is chain
    responder = named("hookpipe.responder echo")
    assert parent_of(responder) is chain
    pool = named("hookpipe.handler recorder")
    assert pool.attributes is not None
    assert pool.attributes["hookpipe.runner"] == "pool"
    assert pool.attributes["hookpipe.job"] == "pool"
    job = named("hookpipe.job recorder")
    assert parent_of(job) is pool
    assert job.kind is trace.SpanKind.CONSUMER
    assert job.context.trace_id == root.context.trace_id
    inline = named("hookpipe.handler inline-recorder")
    assert inline.attributes is not None
    assert inline.attributes["hookpipe.job"] == "inline"
    # Every span of the request is in one trace, each ended after its children began.
    assert {s.context.trace_id for s in spans()} == {root.context.trace_id}


def test_hookpipe_nests_under_the_span_of_whoever_serves_the_request(fetch: Fetch) -> None:
    """The Django instrumentation makes the request's span current before the
    middleware runs; hookpipe's span is then its child (a span of the test's here)."""
    tracer = PROVIDER.get_tracer("test")
    with override_settings(HOOKPIPE=pipeline()), tracer.start_as_current_span("server") as server:
        fetch("/")
    assert parent_of(named("hookpipe")) is not None
    assert named("hookpipe").parent.span_id == server.get_span_context().span_id  # type: ignore[union-attr]


def test_with_the_django_instrumentation_hookpipe_is_the_child_of_its_span(fetch: Fetch) -> None:
    from opentelemetry.instrumentation.django import DjangoInstrumentor

    instrumentor = DjangoInstrumentor()
    instrumentor.instrument(tracer_provider=PROVIDER)
    try:
        with override_settings(HOOKPIPE=pipeline()):
            assert fetch("/").status_code == 200
    finally:
        instrumentor.uninstrument()
    root = named("hookpipe")
    server = parent_of(root)
    assert server is not None
    assert server.kind is trace.SpanKind.SERVER
    assert server.instrumentation_scope is not None
    assert server.instrumentation_scope.name.startswith("opentelemetry.instrumentation.django")


def test_the_view_answered_when_no_piece_did(fetch: Fetch) -> None:
    with override_settings(HOOKPIPE=pipeline()):
        assert fetch("/").status_code == 200
    assert named("hookpipe").attributes["hookpipe.answered_by"] == "django"  # type: ignore[index]


def test_a_tween_that_answers_is_named_as_such(fetch: Fetch) -> None:
    config = pipeline()
    config["TWEENS"].append({"factory": P + "tweens.short_circuit", "name": "gate"})
    with override_settings(HOOKPIPE=config):
        assert fetch("/?stop=1").status_code == 401
    root = named("hookpipe")
    assert root.attributes["hookpipe.answered_by"] == "tween gate"  # type: ignore[index]
    assert root.status.status_code is StatusCode.UNSET


def test_an_error_in_a_hook_is_recorded_on_its_span_and_the_request_fails(fetch: Fetch) -> None:
    config = pipeline()
    config["HOOKS"] = [
        {"class": P + "hooks.Recorder", "options": {"label": "bad", "raise_in": ["on_route"]}}
    ]
    with override_settings(HOOKPIPE=config):
        assert fetch("/").status_code == 500
    hook = named("hookpipe.hook tests.testapp.hooks.Recorder.on_route")
    assert hook.status.status_code is StatusCode.ERROR
    assert hook.status.description == "RuntimeError: hook failed"
    assert [e.name for e in hook.events] == ["exception"]
    root = named("hookpipe")
    answered = "error hook tests.testapp.hooks.Recorder.on_route"
    assert root.attributes["hookpipe.answered_by"] == answered  # type: ignore[index]
    assert root.status.status_code is StatusCode.ERROR
    assert root.attributes["http.response.status_code"] == 500  # type: ignore[index]


def test_an_error_in_a_tween_goes_to_the_failsafe_and_is_recorded(fetch: Fetch) -> None:
    config = pipeline()
    config["TWEENS"].append({"factory": P + "tweens.raising", "name": "broken"})
    with override_settings(HOOKPIPE=config):
        assert fetch("/").status_code == 500
    assert named("hookpipe.tween broken").status.status_code is StatusCode.ERROR
    assert named("hookpipe").attributes["hookpipe.answered_by"] == "error tween broken"  # type: ignore[index]
    # The tweens above it got the failsafe's response: not errors of theirs.
    assert named("hookpipe.tween chain").status.status_code is StatusCode.UNSET


def test_a_streamed_responder_has_its_span_and_streams_untouched(fetch: Fetch) -> None:
    config = pipeline(SERVER_TIMING=True)
    config["PLUGINS"] = {"chunks": {"COUNT": 3}}
    with override_settings(HOOKPIPE=config):
        response = fetch("/stream/sync")
        assert response.streaming
        # The request's span lasts until the last chunk is sent, the responder's does not.
        assert "hookpipe" not in [s.name for s in spans()]
        assert whole(response) == b"chunk 0\nchunk 1\nchunk 2\n"
    assert named("hookpipe").attributes["hookpipe.streamed"] is True  # type: ignore[index]
    responder = named("hookpipe.responder chunks")
    assert responder.attributes == {"hookpipe.kind": "responder", "hookpipe.plugin": "chunks"}
    assert named("hookpipe").attributes["hookpipe.answered_by"] == "responder chunks"  # type: ignore[index]
    assert "responder;dur=" in response["Server-Timing"]


def test_each_kind_of_span_can_be_switched_off(fetch: Fetch) -> None:
    with override_settings(HOOKPIPE=pipeline(SPANS=["responder"])):
        fetch("/answer/echo", method="post", data=b"{}", content_type="a/b")
        assert tp.DONE["recorder"].wait(5)
        process_pool.shutdown(5)
    assert sorted(s.name for s in spans()) == ["hookpipe", "hookpipe.responder echo"]


def test_off_by_default_no_span_and_no_header(fetch: Fetch) -> None:
    config = pipeline()
    del config["TRACING"]
    with override_settings(HOOKPIPE=config):
        response = fetch("/answer/echo", method="post", data=b"{}", content_type="a/b")
    assert spans() == []
    assert not response.has_header("Server-Timing")


#: One entry of the header, as the W3C grammar has it (``token *( ";" param )``), the
#: way hookpipe writes it: ``kind;dur=<ms>;desc="<name>"``.
ENTRY = re.compile(r'^[a-z]+;dur=\d+\.\d{3};desc="(?:[ !#-\[\]-~]|\\["\\])*"$')


def test_server_timing_has_one_entry_per_piece_that_ran_in_the_browsers_format(
    fetch: Fetch,
) -> None:
    config = pipeline(ENABLED=False, SERVER_TIMING=True)
    with override_settings(HOOKPIPE=config):
        response = fetch("/answer/echo", method="post", data=b"{}", content_type="a/b")
    assert spans() == []  # timing alone needs no OpenTelemetry
    entries = response["Server-Timing"].split(", ")
    assert all(ENTRY.match(e) for e in entries), entries
    described = [(e.split(";")[0], e.split('desc="')[1][:-1]) for e in entries]
    label = "tests.testapp.hooks.Recorder"
    # The whole first; then each piece as it finished, inner pieces before outer ones.
    assert described == [
        ("hookpipe", "hookpipe"),
        ("hook", f"{label}.on_route"),
        ("handler", "recorder"),
        ("handler", "inline-recorder"),
        ("responder", "echo"),
        ("hook", f"{label}.after"),
        ("main", "hookpipe.MAIN"),
        ("tween", "chain"),
        ("tween", "outer"),
    ]
    durations = [float(e.split("dur=")[1].split(";")[0]) for e in entries]
    assert durations[0] >= max(durations[1:])  # the whole holds every piece


def test_tracing_without_the_extra_is_a_check_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "hookpipe.tracing.spans", raising=False)
    monkeypatch.setitem(sys.modules, "opentelemetry", None)  # as if not installed
    with override_settings(HOOKPIPE={"TRACING": ON}):
        [found] = [m for m in hookpipe_checks() if m.id == "hookpipe.E070"]
        assert "pip install hookpipe[otel]" in found.msg
        # The pipeline does not build without it either: fail closed, as for any error.
        assert Client(raise_request_exception=False).get("/").status_code == 500


def test_with_tracing_off_hookpipe_never_imports_opentelemetry() -> None:
    """(Other packages may: redis does when it is installed. hookpipe's one module that
    imports it is not loaded.)"""
    import subprocess

    code = (
        "import sys, django; django.setup();"
        "from django.test import Client;"
        "assert Client().get('/').status_code == 200;"
        "print(sorted(m for m in sys.modules if m.startswith('hookpipe.tracing.spans')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**__import__("os").environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert out.stdout.strip() == "[]", out.stderr


def test_async_tweens_and_hooks_have_their_spans_too(fetch: Fetch) -> None:
    config = pipeline()
    config["TWEENS"] = [{"factory": P + "tweens.async_labelled", "name": "async-outer"}]
    config["HOOKS"] = [{"class": P + "hooks.AsyncRecorder", "options": {"label": "a"}}]
    with override_settings(HOOKPIPE=config):
        response = fetch("/answer/echo", method="post", data=b"{}", content_type="a/b")
        assert response.status_code == 200
    tween = named("hookpipe.tween async-outer")
    before = named("hookpipe.hook tests.testapp.hooks.AsyncRecorder.on_route")
    assert parent_of(tween) is named("hookpipe")
    assert parent_of(before) is tween
    assert parent_of(named("hookpipe.responder echo")) is tween


@pytest.mark.parametrize(
    ("tracing", "key"),
    [
        ({"ENABLED": "yes"}, "ENABLED"),
        ({"SPANS": ["tweens"]}, "SPANS"),
        ({"SERVER_TIMING": 1}, "SERVER_TIMING"),
    ],
)
def test_a_malformed_tracing_setting_is_a_check_error(tracing: dict[str, Any], key: str) -> None:
    with override_settings(HOOKPIPE={"TRACING": tracing}):
        found = [m.msg for m in hookpipe_checks() if m.id == "hookpipe.E009"]
    assert [m for m in found if f'["TRACING"]["{key}"]' in m], found


def test_a_handlers_error_is_recorded_on_its_jobs_span(fetch: Fetch) -> None:
    config = pipeline()
    config["HANDLERS"] = [P + "plugins.Failing", P + "plugins.FailingInline"]
    with override_settings(HOOKPIPE=config):
        assert (
            fetch("/webhooks/accept", method="post", data=b"{}", content_type="a/b").status_code
            == 202
        )
        assert tp.DONE["failing"].wait(5)
        process_pool.shutdown(5)
    for name, runner in (("failing", "pool"), ("failing-inline", "inline")):
        job = named(f"hookpipe.job {name}")
        assert job.status.status_code is StatusCode.ERROR
        assert job.status.description == "RuntimeError: handler failed on purpose"
        assert job.attributes["hookpipe.runner"] == runner  # type: ignore[index]
        assert parent_of(job) is named(f"hookpipe.handler {name}")
    # The request did not fail: a handler's error never reaches the client.
    assert named("hookpipe").status.status_code is StatusCode.UNSET


@pytest.mark.django_db(transaction=True)  # the job reads its handler's pause (stored on commit)
@pytest.mark.parametrize("traced", [True, False], ids=["task spans", "no task spans"])
def test_a_task_job_carries_the_trace_only_with_task_spans(fetch: Fetch, traced: bool) -> None:
    """On the immediate backend the job runs as it is stored, in this process: its run's
    span is the storing span's child, through the trace context in the payload."""
    config = pipeline(SPANS=["handler", "task"] if traced else ["handler"])
    config["HANDLERS"] = [P + "plugins.TaskRecorder"]
    with override_settings(HOOKPIPE=config):
        response = fetch("/webhooks/accept", method="post", data=b"{}", content_type="a/b")
        assert response.status_code == 202
    [(snapshot, _content, _token)] = tp.SEEN["task-recorder"]
    assert snapshot.method == "POST"  # the handler got its snapshot either way
    names = [s.name for s in spans()]
    if not traced:
        assert "hookpipe.task.store task-recorder" not in names
        assert "hookpipe.task.run task-recorder" not in names
        return
    store = named("hookpipe.task.store task-recorder")
    assert parent_of(named("hookpipe.task.run task-recorder")) is store
    assert parent_of(store) is named("hookpipe.handler task-recorder")
