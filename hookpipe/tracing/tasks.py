"""Traces across a task job: its storing in a span (a producer), the W3C trace context
of that span carried in the job, and the worker's run in a span (a consumer) that is
the storing span's child, so that one trace goes from the request to the worker.

The trace context travels in the job's payload, the snapshot's wire form, under
``"trace"``: ``{"traceparent": ..., "tracestate": ...}``, nothing else (no baggage).
A worker of an older hookpipe reads the snapshot's own keys and ignores it; a worker
with tracing off runs the job without a span. It is the same for every engine, since
every engine stores the task's arguments as they are (the database backend, RQ).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .. import conf

if TYPE_CHECKING:
    from .spans import Spans

#: The key of the payload that carries the trace context.
KEY = "trace"


class TaskTracing:
    """What a task runner does with tracing on (set on it when the pipeline is built)."""

    def __init__(self, spans: Spans) -> None:
        self.spans = spans

    def capture(self) -> Any:
        """The request's context, while the handler takes the job: the parent of the
        storing, which may happen later (after a commit)."""
        from .spans import capture

        return capture()

    def store(
        self, enqueue: Callable[..., Any], args: tuple[Any, ...], parent: Any, backend: str
    ) -> None:
        """``enqueue(*args)`` in a producer span, the span's trace context in the
        payload (``args[2]``, a copy: the caller's stays as it was)."""
        from .spans import inject

        name, payload = args[0], args[2]
        opened = self.spans.start(
            f"hookpipe.task.store {name}",
            {
                "hookpipe.kind": "handler",
                "hookpipe.plugin": name,
                "hookpipe.runner": "task",
                "hookpipe.task.backend": backend,
            },
            kind="producer",
            parent=parent,
        )
        try:
            carried = {**payload, KEY: inject()}
            enqueue(args[0], args[1], carried, *args[3:])
        except BaseException as exc:
            self.spans.end(opened, exc)
            raise
        self.spans.end(opened)


def run_traced(
    payload: Mapping[str, Any], name: str, attempt: Any, run: Callable[[], None]
) -> None:
    """A task worker runs a job: ``run()`` in a consumer span, the child of the span
    that stored the job, when this worker has tracing on and the job carries a trace
    context; else ``run()`` as it is."""
    carrier = payload.get(KEY) if isinstance(payload, Mapping) else None
    tracing = conf.get_config().tracing
    if not isinstance(carrier, Mapping) or not tracing["ENABLED"] or "task" not in tracing["SPANS"]:
        run()
        return
    from .spans import Spans, extract

    spans = Spans()
    attributes: dict[str, Any] = {
        "hookpipe.kind": "handler",
        "hookpipe.plugin": name,
        "hookpipe.runner": "task",
    }
    if isinstance(attempt, int):
        attributes["hookpipe.task.attempt"] = attempt
    opened = spans.start(
        f"hookpipe.task.run {name}",
        attributes,
        kind="consumer",
        parent=extract({k: str(v) for k, v in carrier.items()}),
    )
    try:
        run()
    except BaseException as exc:
        spans.end(opened, exc)
        raise
    spans.end(opened)
