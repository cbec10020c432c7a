"""The reference pipeline (variant C of ``bench/run.py``) as ``HOOKPIPE`` values, and
the same work as plain middleware (variant D).

Plain data, importable before Django is set up, so that the in-process benchmark and
the end-to-end settings (``bench/e2e_settings.py``) measure the same pipeline.
"""

from __future__ import annotations

from typing import Any

from . import plugins

#: Five pass-through tweens (bench/parts.py), in this order, outermost first.
TWEENS: list[dict[str, Any]] = [
    {"factory": "bench.parts.passthrough", "name": f"t{i}", "options": {"n": i}} for i in range(5)
]
#: Five global hooks with a ``before`` and an ``after`` that do nothing.
HOOKS: list[dict[str, Any]] = [{"class": "bench.parts.Noop", "options": {"n": i}} for i in range(5)]
#: The same as ``async def`` tweens and hooks (the ASGI variant F-Cx).
ASYNC_TWEENS = [{**t, "factory": "bench.parts.passthrough_async"} for t in TWEENS]
ASYNC_HOOKS = [{**h, "class": "bench.parts.AsyncNoop"} for h in HOOKS]
#: D: what the reference pipeline's tweens and hooks do, and what its plugins ask, as 10
#: plain middleware.
NATIVE = [
    *(f"bench.parts.Passthrough{i}" for i in range(5)),
    *(f"bench.parts.Hook{i}" for i in range(4)),
    "bench.parts.Dispatch4",
]


def pipeline(handlers: int = 10, *, filtered: bool = False, **extra: Any) -> dict[str, Any]:
    """``HOOKPIPE`` for the reference pipeline: its tweens and hooks, ``handlers``
    handlers and 5 responders that want no request (with prefilters if ``filtered``),
    and ``extra`` keys."""
    return {
        "TWEENS": TWEENS,
        "HOOKS": HOOKS,
        **plugins.scaled(handlers, filtered=filtered),
        **extra,
    }
