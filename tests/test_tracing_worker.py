"""A webhook's trace from the request to the task worker, in real processes: a request
(its own process) stores a task handler's job, a real worker process runs it, and the
worker's span is in the request's trace, the child of the span that stored the job;
for each engine (the database backend's db_worker, RQ's rqworker with its work horse)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.live import REPO_ROOT, RQ_SERIALIZER, manage
from tests.services import redis_or_skip

REQUEST = (
    "import django; django.setup()\n"
    "from django.test import Client\n"
    "r = Client().post('/webhooks/accept', b'{}', content_type='application/json')\n"
    "assert r.status_code == 202, (r.status_code, r.content)\n"
)


def read_spans(path: Path) -> dict[str, dict[str, Any]]:
    spans = [json.loads(line) for line in path.read_text().splitlines()]
    by_name = {s["name"]: s for s in spans}
    assert len(by_name) == len(spans), [s["name"] for s in spans]
    return by_name


@pytest.mark.parametrize("engine", ["db", "rq"])
def test_the_workers_run_is_in_the_requests_trace(engine: str, tmp_path: Path) -> None:
    redis_url = "redis://127.0.0.1:6379/5"
    if engine == "rq":
        redis_or_skip(redis_url)
    spans_file = tmp_path / "spans.jsonl"
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "DJANGO_SETTINGS_MODULE": "tests.tracing_settings",
        "HOOKPIPE_TEST_DB": str(tmp_path / "db.sqlite3"),
        "HOOKPIPE_TEST_ENGINE": engine,
        "HOOKPIPE_TEST_REDIS_URL": redis_url,
        "HOOKPIPE_TEST_SPANS": str(spans_file),
    }
    manage("migrate", "--noinput", env=env)
    if engine == "rq":
        manage(
            "rqworker", "--serializer", RQ_SERIALIZER, "--burst", "hookpipe-otel", env=env
        )  # empty what was left
        spans_file.unlink(missing_ok=True)
    subprocess.run([sys.executable, "-c", REQUEST], env=env, cwd=REPO_ROOT, check=True, timeout=120)
    before = read_spans(spans_file)
    assert "hookpipe.task.run task-recorder" not in before  # stored, not run
    if engine == "db":
        manage("db_worker", "--batch", "--queue-name", "*", "--no-startup-delay", env=env)
    else:
        manage("rqworker", "--serializer", RQ_SERIALIZER, "--burst", "hookpipe-otel", env=env)
    spans = read_spans(spans_file)
    request, store = spans["hookpipe"], spans["hookpipe.task.store task-recorder"]
    run = spans["hookpipe.task.run task-recorder"]
    trace_id = request["context"]["trace_id"]
    assert run["context"]["trace_id"] == trace_id
    assert store["context"]["trace_id"] == trace_id
    assert run["parent_id"] == store["context"]["span_id"]
    assert store["parent_id"] == spans["hookpipe.handler task-recorder"]["context"]["span_id"]
    assert (store["kind"], run["kind"]) == ("SpanKind.PRODUCER", "SpanKind.CONSUMER")
    assert run["attributes"]["hookpipe.task.attempt"] == 1
    assert run["status"]["status_code"] == "UNSET"
    # Stored once the response was final, inside the request's span; run later.
    assert request["start_time"] < store["start_time"] < store["end_time"] <= request["end_time"]
    assert run["start_time"] > request["end_time"]
