"""Handlers and responders for the benchmark, none of which matches its requests.

Filled in when hookpipe's plugin classes exist (issue 4); until then the reference
pipeline has tweens and hooks only, and the scaling variants are skipped.
"""

from __future__ import annotations

from typing import Any

import hookpipe

#: The handler counts of the scaling variants (E).
SCALES: tuple[int, ...] = ()


def reference() -> dict[str, Any]:
    """HANDLERS and RESPONDERS of the reference pipeline (C)."""
    if not hasattr(hookpipe, "HandlerImplementation"):
        return {}
    raise NotImplementedError


def scaled(count: int) -> dict[str, Any]:
    raise NotImplementedError
