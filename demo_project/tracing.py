"""The demo's OpenTelemetry SDK (``DEMO_TRACING=true``): spans to the console, or, when
``OTEL_EXPORTER_OTLP_ENDPOINT`` is set and ``opentelemetry-exporter-otlp-proto-http``
is installed, to that collector. A project sets up its own SDK the same way; hookpipe
itself needs only the API (``hookpipe[otel]``)."""

from __future__ import annotations

import os


def configure() -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    exporter: object = ConsoleSpanExporter()
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        # Reads the endpoint (and headers) from the standard OTEL_* variables.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "hookpipe-demo"}))
    # Batched, in a thread that the SDK starts again in a forked child (gunicorn's
    # workers, RQ's work horse).
    provider.add_span_processor(BatchSpanProcessor(exporter))  # type: ignore[arg-type]
    trace.set_tracer_provider(provider)
