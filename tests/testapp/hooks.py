"""Hooks used by the tests. Each records what it saw in ``EVENTS`` (reset per test by a
fixture in ``tests/test_hooks.py``), and ``after`` appends its label to an ``X-After``
response header, so tests can read the order from a real response."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseBase

from hookpipe import Hook, State
from hookpipe.hooks.viewer import view_name


@dataclass(frozen=True)
class Seen:
    label: str
    phase: str
    view: str = "-"
    status: int | None = None
    hooks: tuple[str, ...] = ()
    exc: str = ""
    thread: int = 0
    kwargs: tuple[tuple[str, Any], ...] = ()

    def __str__(self) -> str:
        return f"{self.label}.{self.phase}" if self.phase else self.label


EVENTS: list[Seen] = []
#: Recorder instances built, by label: lets tests count builds.
BUILT: list[str] = []


def trace() -> list[str]:
    return [str(e) for e in EVENTS]


def events(phase: str) -> list[Seen]:
    return [e for e in EVENTS if e.phase == phase]


def make_error(kind: str) -> Exception:
    return {
        "boom": RuntimeError("hook failed"),
        "404": Http404("hook says no such thing"),
        "403": PermissionDenied("hook says not you"),
    }[kind]


def label_of(hook: Any) -> str:
    return str(getattr(hook, "label", type(hook).__name__))


class Recorder(Hook):
    """Records every call. ``raise_in``/``respond_in`` name phases where it raises
    ``make_error(exc)`` or answers with ``"<label>.<phase>"`` (status ``status``)."""

    def __init__(
        self,
        label: str = "rec",
        priority: int = 100,
        raise_in: Iterable[str] = (),
        respond_in: Iterable[str] = (),
        exc: str = "boom",
        status: int = 200,
    ) -> None:
        self.label = label
        self.priority = priority
        self.raise_in = frozenset(raise_in)
        self.respond_in = frozenset(respond_in)
        self.exc = exc
        self.status = status
        BUILT.append(label)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.label}>"

    def record(
        self, phase: str, state: State, exc: Exception | None = None
    ) -> HttpResponseBase | None:
        EVENTS.append(
            Seen(
                self.label,
                phase,
                view=view_name(state.view),
                status=state.response.status_code if state.response is not None else None,
                hooks=tuple(label_of(h) for h in state.hooks),
                exc=type(exc).__name__ if exc is not None else "",
                thread=threading.get_ident(),
                kwargs=tuple(sorted(state.view_kwargs.items())),
            )
        )
        if phase == "after" and state.response is not None:
            previous = state.response.headers.get("X-After")
            state.response.headers["X-After"] = (
                f"{previous},{self.label}" if previous else self.label
            )
        if phase in self.raise_in:
            raise make_error(self.exc)
        if phase in self.respond_in:
            return HttpResponse(f"{self.label}.{phase}", status=self.status)
        return None

    def on_route(self, state: State) -> HttpResponseBase | None:
        return self.record("on_route", state)

    def before(self, state: State) -> HttpResponseBase | None:
        return self.record("before", state)

    def after(self, state: State) -> None:
        self.record("after", state)

    def on_error(self, state: State, exc: Exception) -> HttpResponseBase | None:
        return self.record("on_error", state, exc)


class AsyncRecorder(Recorder):
    """The same, with every method ``async def``."""

    async def on_route(self, state: State) -> HttpResponseBase | None:  # type: ignore[override]
        await asyncio.sleep(0)
        return self.record("on_route", state)

    async def before(self, state: State) -> HttpResponseBase | None:  # type: ignore[override]
        await asyncio.sleep(0)
        return self.record("before", state)

    async def after(self, state: State) -> None:  # type: ignore[override]
        await asyncio.sleep(0)
        self.record("after", state)

    async def on_error(self, state: State, exc: Exception) -> HttpResponseBase | None:  # type: ignore[override]
        await asyncio.sleep(0)
        return self.record("on_error", state, exc)


class BeforeOnly(Hook):
    """Overrides one method; the others are the base class's no-ops."""

    def before(self, state: State) -> None:
        EVENTS.append(Seen("before-only", "before"))


class Reroute(Hook):
    """on_route runs before URL resolution: it can send the request elsewhere."""

    def on_route(self, state: State) -> None:
        if state.request.path_info == "/hooks/old/":
            state.request.path_info = "/hooks/plain/"


class ReturnsNumber(Hook):
    def before(self, state: State) -> Any:
        return 42


class AsyncReturnsNumber(Hook):
    async def before(self, state: State) -> Any:
        return 42


class ReplacesResponse(Hook):
    def after(self, state: State) -> None:
        state.response = HttpResponse("replaced", status=202)


class SetsGarbage(Hook):
    def after(self, state: State) -> None:
        state.response = "not a response"  # type: ignore[assignment]


class AnswersNotFound(Hook):
    """on_error answering only for 404s, the way a custom error page would."""

    def on_error(self, state: State, exc: Exception) -> HttpResponseBase | None:
        EVENTS.append(Seen("answers-404", "on_error", exc=type(exc).__name__))
        if isinstance(exc, Http404):
            return HttpResponse(f"custom 404: {type(exc).__name__}", status=404)
        return None


# --------------------------------------------------------- for the checks


class NotAHook:
    def before(self, state: State) -> None:
        pass


class DuckHook:
    """Not a Hook subclass but has the four methods: accepted."""

    priority = 100

    def on_route(self, state: State) -> None:
        EVENTS.append(Seen("duck", "on_route"))

    def before(self, state: State) -> None:
        EVENTS.append(Seen("duck", "before"))

    def after(self, state: State) -> None:
        EVENTS.append(Seen("duck", "after"))

    def on_error(self, state: State, exc: Exception) -> None:
        EVENTS.append(Seen("duck", "on_error"))


class TextPriority(Hook):
    priority = "high"  # type: ignore[assignment]


class NeedsLevel(Hook):
    def __init__(self, level: int) -> None:
        self.level = level


class ExplodingInit(Hook):
    def __init__(self) -> None:
        raise ValueError("cannot start")


AN_INSTANCE = Recorder("instance")


# ------------------------------------------------- after pairs with on_route/before


class PairedBefore(Hook):
    """Relies on its own ``before``, as users' hooks do: its ``after`` reads what
    ``before`` set, and would fail (a 500) if it ran without it."""

    def before(self, state: State) -> None:
        EVENTS.append(Seen("paired-before", "before"))
        state.paired_started = "yes"

    def after(self, state: State) -> None:
        EVENTS.append(Seen("paired-before", "after"))
        assert state.response is not None
        state.response.headers["X-Paired"] = state.paired_started


class AsyncPairedBefore(Hook):
    async def before(self, state: State) -> None:
        await asyncio.sleep(0)
        EVENTS.append(Seen("async-paired-before", "before"))
        state.async_paired_started = "yes"

    async def after(self, state: State) -> None:
        await asyncio.sleep(0)
        EVENTS.append(Seen("async-paired-before", "after"))
        assert state.response is not None
        state.response.headers["X-Async-Paired"] = state.async_paired_started


class PairedRoute(Hook):
    """Defines ``on_route`` and ``after``: paired with its ``on_route``."""

    def on_route(self, state: State) -> None:
        EVENTS.append(Seen("paired-route", "on_route"))

    def after(self, state: State) -> None:
        EVENTS.append(Seen("paired-route", "after"))


class AfterOnly(Hook):
    """Defines neither entry method: ``after`` on every request it takes part in."""

    def after(self, state: State) -> None:
        EVENTS.append(Seen("after-only", "after", status=_status(state)))


def _status(state: State) -> int | None:
    return state.response.status_code if state.response is not None else None


class AnswersInBefore(Hook):
    priority = 50

    def before(self, state: State) -> HttpResponseBase:
        EVENTS.append(Seen("answers", "before"))
        return HttpResponse("no", status=401)

    def after(self, state: State) -> None:
        EVENTS.append(Seen("answers", "after"))


class SlowRoute(Hook):
    """``on_route`` sleeps ``seconds`` (a known time for the duration histograms)."""

    def __init__(self, seconds: float = 0.015) -> None:
        self.seconds = seconds

    def on_route(self, state: State) -> None:
        time.sleep(self.seconds)

    def after(self, state: State) -> None:
        pass


class UsesDatabase(Hook):
    """A sync hook that queries the database in each phase, as sync code may: Django
    refuses (``SynchronousOnlyOperation``) if it is called where an event loop runs."""

    priority = 2

    def _query(self, phase: str) -> None:
        from tests.testapp.models import Delivery

        Delivery.objects.count()
        EVENTS.append(Seen("db", phase))

    def on_route(self, state: State) -> None:
        self._query("on_route")

    def before(self, state: State) -> None:
        self._query("before")

    def after(self, state: State) -> None:
        self._query("after")
