"""Handlers and responders for the benchmark, none of which wants its requests.

Each ``handles()`` asks one question of the request (one header, as a real plugin
would look at a path or a header) and says no, so what is measured is the cost of
asking: one call per plugin, no snapshot, no pool job, no stream. Like the other parts
(:mod:`bench.parts`), a traced request makes each one note that it was asked.

The *filtered* classes declare prefilters (``methods = {"POST"}``, ``path_prefixes =
("/hooks/",)``) that the benchmark's ``GET /`` does not pass: hookpipe then asks none
of them, and reads no body.
"""

from __future__ import annotations

import time
from typing import Any

from django.http import HttpRequest

from hookpipe import HandlerImplementation, ResponderImplementation

from .parts import TRACE

#: The handler counts of the scaling variants (E).
SCALES: tuple[int, ...] = (10, 100, 1000)
_MOST = max((*SCALES, 10))
#: What the filtered plugins declare; the benchmark's GET / passes neither.
METHODS = frozenset({"POST"})
PATH_PREFIXES = ("/hooks/",)


def _asked(request: HttpRequest, name: str) -> bool:
    trace = request.META.get(TRACE)
    if trace is not None:
        trace.append(name)
    return request.META.get("HTTP_X_BENCH_PLUGIN") == name


class _NoHandler(HandlerImplementation):
    def handles(self, request: HttpRequest, content: bytes) -> bool:
        return _asked(request, self.name)

    def handle(self, request: Any, content: bytes) -> None:
        raise AssertionError("the benchmark's handlers never match")


class _NoResponder(ResponderImplementation):
    def handles(self, request: HttpRequest, content: bytes) -> bool:
        return _asked(request, self.name)

    def respond(self, request: HttpRequest, content: bytes) -> bytes:
        raise AssertionError("the benchmark's responders never match")


_FILTERS = {"methods": METHODS, "path_prefixes": PATH_PREFIXES}
#: The prefix that the prefilter-matching variants (M-n) ask for: 10 handlers and 5
#: responders declare it; the other plugins each declare a prefix of their own.
MATCHED_PREFIX = "/m/"
#: The plugin counts of the prefilter-matching variants.
MATCHED_SCALES: tuple[int, ...] = (15, 100, 1000)

# Settings name plugins by dotted path, so each one is a module-level class.
for _i in range(_MOST):
    globals()[f"Handler{_i}"] = type(f"Handler{_i}", (_NoHandler,), {"name": f"h{_i}"})
    globals()[f"FilteredHandler{_i}"] = type(
        f"FilteredHandler{_i}", (_NoHandler,), {"name": f"fh{_i}", **_FILTERS}
    )
    globals()[f"MatchedHandler{_i}"] = type(
        f"MatchedHandler{_i}",
        (_NoHandler,),
        {"name": f"mh{_i}", "path_prefixes": (MATCHED_PREFIX,)},
    )
    # Prefixes that are not the request's, of a few lengths, as a real site's would be.
    globals()[f"ElsewhereHandler{_i}"] = type(
        f"ElsewhereHandler{_i}", (_NoHandler,), {"name": f"eh{_i}", "path_prefixes": (f"/x{_i}/",)}
    )
for _i in range(5):
    globals()[f"MatchedResponder{_i}"] = type(
        f"MatchedResponder{_i}",
        (_NoResponder,),
        {"name": f"mr{_i}", "path_prefixes": (MATCHED_PREFIX,)},
    )
    globals()[f"Responder{_i}"] = type(f"Responder{_i}", (_NoResponder,), {"name": f"r{_i}"})
    globals()[f"FilteredResponder{_i}"] = type(
        f"FilteredResponder{_i}", (_NoResponder,), {"name": f"fr{_i}", **_FILTERS}
    )


class Sleeper(HandlerImplementation):
    """Wants every request and sleeps 50 ms on it, in the pool (the third variant of
    ``bench/e2e.py``): the response must not wait for it."""

    name = "sleep-50ms"
    SECONDS = 0.05

    def handles(self, request: HttpRequest, content: bytes) -> bool:
        return True

    def handle(self, request: Any, content: bytes) -> None:
        time.sleep(self.SECONDS)


class Offloaded(HandlerImplementation):
    """Wants the requests with ``X-Bench-Offload: 1`` and does nothing with them, in the
    pool: what offloading one job costs (variants O and O0, which send 1 and 0)."""

    name = "offloaded"

    def handles(self, request: HttpRequest, content: bytes) -> bool:
        return _asked(request, self.name) or request.META.get("HTTP_X_BENCH_OFFLOAD") == "1"

    def handle(self, request: Any, content: bytes) -> None:
        pass


def matched(total: int) -> dict[str, Any]:
    """``total`` plugins with prefilters, of which 10 handlers and 5 responders take
    ``MATCHED_PREFIX`` and the others each a prefix of their own."""
    return {
        "HANDLERS": [
            *(f"bench.plugins.MatchedHandler{i}" for i in range(10)),
            *(f"bench.plugins.ElsewhereHandler{i}" for i in range(total - 15)),
        ],
        "RESPONDERS": [f"bench.plugins.MatchedResponder{i}" for i in range(5)],
    }


def reference() -> dict[str, Any]:
    """HANDLERS and RESPONDERS of the reference pipeline (C): 10 and 5, no prefilters."""
    return scaled(10)


def scaled(count: int, *, filtered: bool = False) -> dict[str, Any]:
    """``count`` handlers and 5 responders, all with prefilters if ``filtered``."""
    prefix = "Filtered" if filtered else ""
    return {
        "HANDLERS": [f"bench.plugins.{prefix}Handler{i}" for i in range(count)],
        "RESPONDERS": [f"bench.plugins.{prefix}Responder{i}" for i in range(5)],
    }
