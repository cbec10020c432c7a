"""Handlers and responders for the benchmark, none of which matches its requests.

Each ``handles()`` does the same small work as the other parts (reads one header from
``request.META``) and says no, so what is measured is the cost of asking: reading the
body once, one call per plugin, no snapshot, no pool job, no stream.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from hookpipe import HandlerImplementation, ResponderImplementation

#: The handler counts of the scaling variants (E).
SCALES: tuple[int, ...] = (1, 10, 50)
_MOST = max((*SCALES, 10))


class _NoHandler(HandlerImplementation):
    def handles(self, request: HttpRequest, content: bytes) -> bool:
        return request.META.get("HTTP_X_BENCH_PLUGIN") == self.name

    def handle(self, request: Any, content: bytes) -> None:
        raise AssertionError("the benchmark's handlers never match")


class _NoResponder(ResponderImplementation):
    def handles(self, request: HttpRequest, content: bytes) -> bool:
        return request.META.get("HTTP_X_BENCH_PLUGIN") == self.name

    def respond(self, request: HttpRequest, content: bytes) -> bytes:
        raise AssertionError("the benchmark's responders never match")


# Settings name plugins by dotted path, so each one is a module-level class.
for _i in range(_MOST):
    globals()[f"Handler{_i}"] = type(f"Handler{_i}", (_NoHandler,), {"name": f"h{_i}"})
for _i in range(5):
    globals()[f"Responder{_i}"] = type(f"Responder{_i}", (_NoResponder,), {"name": f"r{_i}"})


def _handlers(count: int) -> list[str]:
    return [f"bench.plugins.Handler{i}" for i in range(count)]


def reference() -> dict[str, Any]:
    """HANDLERS and RESPONDERS of the reference pipeline (C): 10 and 5."""
    return {
        "HANDLERS": _handlers(10),
        "RESPONDERS": [f"bench.plugins.Responder{i}" for i in range(5)],
    }


def scaled(count: int) -> dict[str, Any]:
    """The reference pipeline's tweens and hooks with ``count`` handlers."""
    return {"HANDLERS": _handlers(count)}
