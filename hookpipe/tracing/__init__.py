"""Tracing (``HOOKPIPE["TRACING"]``, docs/tracing.rst): OpenTelemetry spans for
hookpipe's part of each request, for its pieces and across task jobs, and the
``Server-Timing`` header. Opt in; with both off a pipeline is built without a probe.

OpenTelemetry (the ``hookpipe[otel]`` extra) is imported by :mod:`.spans` only, and
only when ``ENABLED`` is true.
"""

from __future__ import annotations

from .probes import Instruments, instruments

__all__ = ["Instruments", "instruments"]
