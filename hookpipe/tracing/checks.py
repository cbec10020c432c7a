"""The system check of ``HOOKPIPE["TRACING"]`` (its shape is :mod:`hookpipe.conf`'s)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.core import checks

from .. import conf
from ..check_ids import NO_OPENTELEMETRY
from .probes import missing_message


def check_tracing(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Tracing is on and the ``hookpipe[otel]`` extra is missing (NO_OPENTELEMETRY)."""
    if not conf.get_config().tracing["ENABLED"]:
        return []
    try:
        from .spans import Spans  # noqa: F401
    except ImportError as exc:
        return [
            checks.Error(
                missing_message(exc),
                hint='Or set HOOKPIPE["TRACING"]["ENABLED"] = False.',
                id=NO_OPENTELEMETRY,
            )
        ]
    return []
