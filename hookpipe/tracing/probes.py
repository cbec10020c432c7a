"""The pieces of a pipeline wrapped in probes: a span each, an entry of the
``Server-Timing`` header each, or both; decided when the pipeline is built.

A pipeline build asks :func:`instruments` once. With ``HOOKPIPE["TRACING"]``'s
``ENABLED`` and ``SERVER_TIMING`` both off it gets ``None`` and wraps nothing: a
request then runs exactly the code it ran before this package existed. Otherwise the
build hands each piece to :class:`Instruments` as it builds it (the places where
:mod:`hookpipe.durations` puts its timers): the chain as a whole (the request's span,
the header), MAIN, each tween and chain handler, each hook method, the responders'
answer, each handler's runner.

What answered the request (``hookpipe.answered_by`` on the request's span) is worked
out by the probes on the way back, in one :class:`Record` per request: the innermost
piece that made a response without passing the request on claims it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from asgiref.sync import sync_to_async
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponseBase

from ..context import RequestContext
from .record import Record, current_record
from .timing import header_value

if TYPE_CHECKING:
    from .spans import Opened, Spans

#: The name of MAIN's probe and of its ``Server-Timing`` entry: ``hookpipe.MAIN``, spelt
#: out since this layer is below the core that defines it.
MAIN_NAME = "hookpipe.MAIN"


def missing_message(exc: ImportError) -> str:
    return (
        f'HOOKPIPE["TRACING"]["ENABLED"] is True, but OpenTelemetry cannot be imported '
        f"({exc}). Install it with: pip install hookpipe[otel]"
    )


def instruments(tracing: Mapping[str, Any]) -> Instruments | None:
    """The probes a build of ``HOOKPIPE["TRACING"]`` puts in, ``None`` for none."""
    if not tracing["ENABLED"] and not tracing["SERVER_TIMING"]:
        return None
    return Instruments(tracing)


class Instruments:
    """Wraps the pieces of one pipeline build (see the module's docstring)."""

    def __init__(self, tracing: Mapping[str, Any]) -> None:
        self.timing: bool = tracing["SERVER_TIMING"]
        self.spans: Spans | None = None
        self.kinds: frozenset[str] = frozenset()
        if tracing["ENABLED"]:
            try:
                from .spans import Spans  # the extra: imported only when asked for
            except ImportError as exc:  # the system check says so too
                raise ImproperlyConfigured(missing_message(exc)) from exc
            self.spans = Spans()
            self.kinds = frozenset(tracing["SPANS"])

    def traces(self, kind: str) -> bool:
        """Whether pieces of ``kind`` get spans of their own."""
        return self.spans is not None and kind in self.kinds

    def _spans_for(self, kind: str) -> Spans | None:
        return self.spans if kind in self.kinds else None

    # ------------------------------------------------------------ the pieces

    def request(self, call_sync: Any, call_async: Any) -> tuple[Any, Any]:
        """The chain's two entry points, wrapped: the request's span and header."""
        return (
            _request_probe(call_sync, False, self.spans, self.timing),
            _request_probe(call_async, True, self.spans, self.timing),
        )

    def main(self, fn: Callable[..., Any], is_async: bool) -> Callable[..., Any]:
        """MAIN: no span of its own (the request's span covers it), but it tells the
        record that the request got past the tweens, and its time goes in the header."""
        return _probe(fn, is_async, "main", MAIN_NAME, {}, None, self.timing, _enter_link)

    def tween(self, fn: Callable[..., Any], name: str, what: str, is_async: bool) -> Any:
        attributes = {"hookpipe.kind": what, "hookpipe.plugin": name}
        spans = self._spans_for("tween")
        return _probe(fn, is_async, "tween", name, attributes, spans, self.timing, _enter_link)

    def hook(self, fn: Callable[..., Any], label: str, phase: str, is_async: bool) -> Any:
        attributes = {"hookpipe.kind": "hook", "hookpipe.plugin": label, "hookpipe.phase": phase}
        spans = self._spans_for("hook")
        name = f"{label}.{phase}"
        return _probe(fn, is_async, "hook", name, attributes, spans, self.timing, None)

    def responder(
        self, fn: Callable[..., Any], names: Mapping[int, str], is_async: bool
    ) -> Callable[..., Any]:
        """``fn(request, responder, content) -> Answer``, the answer of whichever
        responder a request chose: a probe per responder, picked per call."""
        spans = self._spans_for("responder")
        probes = {
            key: _Probe(
                "responder",
                name,
                {"hookpipe.kind": "responder", "hookpipe.plugin": name},
                spans,
                self.timing,
                None,
            )
            for key, name in names.items()
        }
        return _wrap(fn, is_async, None, probes)

    def runner(self, runner: Any) -> Any:
        """A handler's runner: a span for each job it takes (the handler's decision:
        where the job went), and the job's run in the pool as that span's child; a task
        runner stores its jobs in a span and carries the trace into them."""
        if self.traces("task") and hasattr(runner, "tracing"):
            from .tasks import TaskTracing

            runner.tracing = TaskTracing(self.spans)  # type: ignore[arg-type]
        if not self.traces("handler") and not self.timing:
            return runner
        from .handlers import TracedRunner

        return TracedRunner(runner, self._spans_for("handler"), self.timing)


# ------------------------------------------------------------------ probes


def _enter_link(record: Record, name: str) -> None:
    record.last = name


class _Probe:
    """One piece's span and timing, entered and left around each of its calls."""

    __slots__ = ("attributes", "kind", "name", "on_enter", "span_name", "spans", "timing")

    def __init__(
        self,
        kind: str,
        name: str,
        attributes: Mapping[str, Any],
        spans: Spans | None,
        timing: bool,
        on_enter: Callable[[Record, str], None] | None,
    ) -> None:
        self.kind = kind
        self.name = name
        self.span_name = f"hookpipe.{kind} {name}"
        self.attributes = dict(attributes)
        self.spans = spans
        self.timing = timing
        self.on_enter = on_enter

    def enter(self) -> tuple[Record | None, Opened | None, float]:
        record = current_record.get()
        if record is not None and self.on_enter is not None:
            self.on_enter(record, self.name)
        spans = self.spans
        opened = None if spans is None else spans.start(self.span_name, self.attributes)
        return record, opened, time.perf_counter()

    def leave(
        self,
        entered: tuple[Record | None, Opened | None, float],
        result: Any,
        error: BaseException | None,
    ) -> None:
        record, opened, start = entered
        if record is not None:
            if self.timing:
                record.timings.append((self.kind, self.name, time.perf_counter() - start))
            if error is None:
                error = _settle(self, record, result)
            else:
                record.answered = f"error {self.kind} {self.name}"
        if opened is not None:
            self.spans.end(opened, error)  # type: ignore[union-attr]


def _settle(probe: _Probe, record: Record, result: Any) -> BaseException | None:
    """What ``result`` says of who answered; an error it carries."""
    kind = probe.kind
    if kind == "responder":  # an Answer
        error: BaseException | None = result.error
        record.answered = f"{'error ' if error else ''}responder {probe.name}"
        return error
    if kind == "hook":
        # on_route, before and on_error answer with a response; after returns None.
        if isinstance(result, HttpResponseBase):
            record.answered = f"hook {probe.name}"
        return None
    if record.answered is None:
        if kind == "main":
            record.answered = "django"  # no hook or responder answered: URL routing, the view
        elif record.last == probe.name:  # a tween that did not call the handler
            record.answered = f"{kind} {probe.name}"
    return None


def _probe(
    fn: Callable[..., Any],
    is_async: bool,
    kind: str,
    name: str,
    attributes: Mapping[str, Any],
    spans: Spans | None,
    timing: bool,
    on_enter: Callable[[Record, str], None] | None,
) -> Callable[..., Any]:
    """``fn`` called inside its probe; an async wrapper for an async ``fn``."""
    if spans is None and not timing and on_enter is None:
        return fn  # this kind is switched off: as built without tracing
    return _wrap(fn, is_async, _Probe(kind, name, attributes, spans, timing, on_enter))


def _wrap(
    fn: Callable[..., Any],
    is_async: bool,
    probe: _Probe | None,
    by_responder: Mapping[int, _Probe] | None = None,
) -> Callable[..., Any]:
    """``fn`` called inside ``probe``, or, for the responders' answer
    ``fn(request, responder, content)``, inside the chosen responder's probe."""
    # Twins by necessity, as hookpipe.durations.timed's: an async piece must stay a
    # coroutine function (the chain and the hooks ask), a sync one must not be one.
    wrapper: Callable[..., Any]
    if is_async:

        async def probed_async(*args: Any) -> Any:
            chosen = probe or by_responder[id(args[1])]  # type: ignore[index]
            entered = chosen.enter()
            try:
                result = await fn(*args)
            except BaseException as exc:
                chosen.leave(entered, None, exc)
                raise
            chosen.leave(entered, result, None)
            return result

        wrapper = probed_async
    else:

        def probed_sync(*args: Any) -> Any:
            chosen = probe or by_responder[id(args[1])]  # type: ignore[index]
            entered = chosen.enter()
            try:
                result = fn(*args)
            except BaseException as exc:
                chosen.leave(entered, None, exc)
                raise
            chosen.leave(entered, result, None)
            return result

        wrapper = probed_sync
    wrapper.__qualname__ = f"<traced {getattr(fn, '__qualname__', type(fn).__name__)}>"
    return wrapper


# ------------------------------------------------------------- the request

SPAN_NAME = "hookpipe"


def _request_probe(call: Any, is_async: bool, spans: Spans | None, timing: bool) -> Any:
    """The chain's entry, wrapped: the request's span around the chain and the work
    that waits for the outcome (storing task jobs), and the ``Server-Timing`` header.

    The serve functions run that work after the chain when it is still waiting
    (``ctx.waiting``); it is run here instead, the same way, so that the job's storing
    is inside the request's span."""
    if is_async:

        async def request_async(request: HttpRequest) -> HttpResponseBase:
            record, opened, token = _open(request, spans)
            try:
                response: HttpResponseBase = await call(request)
                ctx: RequestContext = request.hookpipe  # type: ignore[attr-defined]
                if ctx.waiting is not None:
                    response = await sync_to_async(ctx.answered, thread_sensitive=True)(response)
            except BaseException as exc:
                _close(request, record, opened, token, spans, None, exc, timing)
                raise
            _close(request, record, opened, token, spans, response, None, timing)
            return response

        return request_async

    def request_sync(request: HttpRequest) -> HttpResponseBase:
        record, opened, token = _open(request, spans)
        try:
            response: HttpResponseBase = call(request)
            ctx: RequestContext = request.hookpipe  # type: ignore[attr-defined]
            if ctx.waiting is not None:
                response = ctx.answered(response)
        except BaseException as exc:
            _close(request, record, opened, token, spans, None, exc, timing)
            raise
        _close(request, record, opened, token, spans, response, None, timing)
        return response

    return request_sync


def _open(request: HttpRequest, spans: Spans | None) -> tuple[Record, Opened | None, Any]:
    record = Record()
    token = current_record.set(record)
    opened = None
    if spans is not None:
        ctx: RequestContext = request.hookpipe  # type: ignore[attr-defined]
        opened = spans.start(
            SPAN_NAME,
            {
                "hookpipe.request_id": ctx.request_id,
                "http.request.method": request.method or "",
            },
        )
    record.timings.append(("hookpipe", SPAN_NAME, time.perf_counter()))  # its start
    return record, opened, token


def _close(
    request: HttpRequest,
    record: Record,
    opened: Opened | None,
    token: Any,
    spans: Spans | None,
    response: HttpResponseBase | None,
    error: BaseException | None,
    timing: bool,
) -> None:
    current_record.reset(token)
    if timing and response is not None:
        kind, name, start = record.timings[0]
        record.timings[0] = (kind, name, time.perf_counter() - start)
        existing = response.get("Server-Timing")
        value = header_value(record.timings)
        response["Server-Timing"] = f"{existing}, {value}" if existing else value
    if opened is not None and spans is not None:
        spans.set(opened, "hookpipe.answered_by", record.answered or "unknown")
        if response is not None:
            status = response.status_code
            spans.set(opened, "http.response.status_code", status)
            if status >= 500:
                spans.fail(opened, f"{status} ({record.answered})")
            if response.streaming:
                # The responder's output is produced while the body is sent: the span
                # ends when the response is closed, after its last chunk.
                spans.set(opened, "hookpipe.streamed", True)
                ctx: RequestContext = request.hookpipe  # type: ignore[attr-defined]
                ctx.add_finished_callback(spans.end_later(opened))
                return
        spans.end(opened, error)
