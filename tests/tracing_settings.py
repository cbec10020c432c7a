"""The settings of tests/test_tracing_worker.py's processes (the request's, the task
worker's): the test settings with a database file both see, a task handler on the
engine ``HOOKPIPE_TEST_ENGINE`` names (``db`` or ``rq``), tracing on, and the
OpenTelemetry SDK exporting every span as a JSON line to ``HOOKPIPE_TEST_SPANS``."""

from __future__ import annotations

import os
from collections.abc import Sequence

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

from tests.settings import *  # noqa: F403
from tests.settings import TASKS_PACKAGE

DATABASES = {
    "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["HOOKPIPE_TEST_DB"]}
}
QUEUE = "hookpipe-otel"
ENGINES = {
    "db": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": [QUEUE]},
    "rq": {"BACKEND": "hookpipe.tasks.RQBackend", "QUEUES": [QUEUE]},
}
TASKS = {
    "default": ENGINES[os.environ.get("HOOKPIPE_TEST_ENGINE", "db")],
    "immediate": {"BACKEND": f"{TASKS_PACKAGE}.backends.immediate.ImmediateBackend"},
}
RQ_QUEUES = {
    QUEUE: {
        "URL": os.environ.get("HOOKPIPE_TEST_REDIS_URL", "redis://127.0.0.1:6379/5"),
        "SERIALIZER": "rq.serializers.JSONSerializer",
    }
}
HOOKPIPE = {
    "TWEENS": [{"factory": "tests.testapp.tweens.labelled", "name": "auth"}],
    "HOOKS": [{"class": "tests.testapp.hooks.Recorder", "options": {"label": "audit"}}],
    "HANDLERS": [{"class": "tests.testapp.plugins.TaskRecorder", "TASK_QUEUE_NAME": QUEUE}],
    "TRACING": {"ENABLED": True},
}


class JsonLines(SpanExporter):
    """Appends each span to a file: RQ's work horse is a forked child, so the file is
    opened per export, not once in the parent."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with open(os.environ["HOOKPIPE_TEST_SPANS"], "a", encoding="utf-8") as out:
            for span in spans:
                out.write(span.to_json(indent=None) + "\n")
        return SpanExportResult.SUCCESS


_provider = TracerProvider()
_provider.add_span_processor(SimpleSpanProcessor(JsonLines()))
trace.set_tracer_provider(_provider)
