"""The one module that imports OpenTelemetry: imported only when
``HOOKPIPE["TRACING"]["ENABLED"]`` is true (by a pipeline build, a task runner or a task
worker), so that a project without the ``hookpipe[otel]`` extra never loads it.

Spans are made with the API only (``opentelemetry-api``): the project chooses the SDK,
its processors and exporters; without an SDK the API's spans are no-ops. The tracer is
looked up through the global provider each time a build asks, so that a provider set
after the first build (a test, a late ``configure()``) is the one used.

A span is started with :meth:`Spans.start` and made current by attaching it to the
context, then ended by :meth:`Spans.end`: the same work ``start_as_current_span`` does,
without its generator-based context manager, which a span per piece would pay on
every call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import metadata
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

#: The instrumentation scope hookpipe's spans carry.
SCOPE = "hookpipe"

#: Only W3C Trace Context (``traceparent``, ``tracestate``) goes into a stored job: not
#: the project's global propagators, which may add baggage, whose values a project may
#: fill with what must not be stored with a job.
_PROPAGATOR = TraceContextTextMapPropagator()

Opened = tuple[Any, object]
#: The kinds of span the API knows, by the names hookpipe uses.
KINDS: Mapping[str, SpanKind] = {
    "internal": SpanKind.INTERNAL,
    "producer": SpanKind.PRODUCER,
    "consumer": SpanKind.CONSUMER,
}


class Spans:
    """Starts and ends hookpipe's spans; one per pipeline build or worker."""

    __slots__ = ("tracer",)

    def __init__(self) -> None:
        self.tracer = trace.get_tracer(SCOPE, _version())

    def start(
        self,
        name: str,
        attributes: Mapping[str, Any] | None = None,
        kind: str = "internal",
        parent: Any = None,
    ) -> Opened:
        """Start span ``name`` as a child of ``parent`` (an OTel context) or of the
        current span, and make it current; hand the result to :meth:`end`."""
        span = self.tracer.start_span(name, parent, KINDS[kind], attributes)
        return span, otel_context.attach(trace.set_span_in_context(span, parent))

    @staticmethod
    def end(opened: Opened, error: BaseException | None = None) -> None:
        """End a span :meth:`start` opened, recording ``error`` if there is one."""
        span, token = opened
        if error is not None:
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
        otel_context.detach(token)  # type: ignore[arg-type]
        span.end()

    @staticmethod
    def end_later(opened: Opened) -> Callable[..., None]:
        """No longer current, from now; the span ends when the function returned is
        called (with any arguments: a finished callback gets the request)."""
        span, token = opened
        otel_context.detach(token)  # type: ignore[arg-type]

        def end(*args: Any) -> None:
            span.end()

        return end

    @staticmethod
    def fail(opened: Opened, description: str) -> None:
        """Mark the span failed without an exception (a 5xx, a refused job)."""
        opened[0].set_status(Status(StatusCode.ERROR, description))

    @staticmethod
    def set(opened: Opened, key: str, value: Any) -> None:
        opened[0].set_attribute(key, value)


def _version() -> str | None:
    try:
        return metadata.version("hookpipe")
    except metadata.PackageNotFoundError:  # a source tree that is not installed
        return None


def capture() -> Any:
    """The current OTel context, to parent work that runs later or elsewhere on it."""
    return otel_context.get_current()


def attach(captured: Any) -> object:
    return otel_context.attach(captured)


def detach(token: object) -> None:
    otel_context.detach(token)  # type: ignore[arg-type]


def inject() -> dict[str, str]:
    """The current span's W3C trace context: ``{"traceparent": ..., "tracestate": ...}``
    (``tracestate`` only when there is one; empty without a recording span)."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier


def extract(carrier: Mapping[str, str]) -> Any:
    """The OTel context a job's trace context stands for (the root context for one
    that is malformed: a job's run is then a trace of its own)."""
    return _PROPAGATOR.extract(dict(carrier))
