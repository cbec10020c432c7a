"""Handlers and responders in ``MAIN``: who handles a request, and who answers it.

:class:`PluginRuntime` holds the plugins of one pipeline build. For each request, in
``MAIN`` after the ``on_route`` hooks:

0. the prefilters (:mod:`hookpipe.plugins.prefilters`) pick the plugins the request may meet,
   by method and path; if there are none, the request goes on at once: no body is
   read, nothing is allocated, and none of the steps below happens;
1. ``content``: the body, read once (413 if it is over ``DATA_UPLOAD_MAX_MEMORY_SIZE``;
   no plugin is called then);
2. every candidate handler whose ``handles()`` is true: ``THREAD_SAFE`` ones are
   submitted to the pool with one :class:`~hookpipe.plugins.RequestSnapshot` (the
   response never waits for them), the others run here, in order, with the live
   request;
3. the first candidate responder whose ``handles()`` is true: ``respond()``, its first
   chunk pulled, the response built (:mod:`hookpipe.streaming`).

The result is an :class:`Answer`, or ``None`` when no responder answers and Django
carries on. An error in ``respond()`` or in its first chunk comes back in the answer
for the pipeline to hand to ``on_error`` hooks and the failsafe; an error in
``handles()`` or in a handler is logged with the plugin's name and goes no further.

Under async ``MAIN`` the sync part (reading the body, every ``handles()``, inline
handlers, a sync ``respond()`` and its first chunk) runs in one hop to Django's
per-request thread, so plugin code may use the ORM and ``request.user`` as in a sync
view; an ``async def respond()`` then runs on the event loop."""

from __future__ import annotations

import inspect
import logging
import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from asgiref.sync import async_to_sync, iscoroutinefunction, sync_to_async
from django.http import HttpRequest, HttpResponse, HttpResponseBase

from .. import conf
from ..context import request_id
from ..durations import Durations, timed_by_plugin
from ..jobs import Runner, runner_for
from ..jobs.counters import job_keys
from ..jobs.process_pool import counters
from ..streaming.response import Streamer
from ..streaming.streams import Context
from .base import HandlerImplementation, Plugin, ResponderImplementation, dotted
from .body import read_content
from .planning import PluginSpec
from .prefilters import Filtered, PrefilterIndex, Selection
from .snapshot import PendingSnapshot
from .subconfig import env_prefix
from .validation import prefilters

if TYPE_CHECKING:
    from ..tracing import Instruments

logger = logging.getLogger("hookpipe")


@dataclass(frozen=True)
class Answer:
    """What the plugins made of a request that they answer.

    ``responder`` is ``None`` for the 413 hookpipe gives a body that is too large.
    Exactly one of ``response`` and ``error`` is set.
    """

    responder: ResponderImplementation | None
    response: HttpResponseBase | None = None
    error: Exception | None = None


@dataclass
class _Counts:
    answered: int = 0
    errors: int = 0
    stream_errors: int = 0
    handles_errors: int = 0


async def _await(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


#: A candidate as the index hands it back: the plugin and its bound ``handles``, looked
#: up once per build rather than once per request.
Candidate = tuple[Any, Callable[[HttpRequest, bytes], Any]]


class PluginRuntime:
    """The handlers and responders of one pipeline build, and their counters."""

    def __init__(
        self,
        plugins: Sequence[Plugin],
        specs: Sequence[PluginSpec] = (),
        thread_pool: Mapping[str, Any] | None = None,
        task_runner: Mapping[str, Any] | None = None,
        timer: Durations | None = None,
        instruments: Instruments | None = None,
    ) -> None:
        self.handlers: tuple[HandlerImplementation, ...] = tuple(
            p for p in plugins if isinstance(p, HandlerImplementation)
        )
        self.responders: tuple[ResponderImplementation, ...] = tuple(
            p for p in plugins if isinstance(p, ResponderImplementation)
        )
        #: False when nothing is configured: MAIN then skips all of this.
        self.active = bool(self.handlers or self.responders)
        self._specs = {id(p): s for p, s in zip(plugins, specs, strict=False)}
        # Where each handler's jobs run: decided here, once per build.
        pool_settings = thread_pool or conf.DEFAULTS["THREAD_POOL"]
        task_settings = task_runner or conf.DEFAULTS["TASK_RUNNER"]
        self._runners: dict[int, Runner] = {}
        #: A task handler's job that cannot be stored runs in the pool: counted there.
        self._falls_back_to_pool = task_settings["ON_ENQUEUE_ERROR"] == "pool"
        for handler in self.handlers:
            spec = self._specs.get(id(handler))
            choice = spec.runner if spec is not None else None
            runner = runner_for(handler, choice, pool_settings, task_settings)
            if instruments is not None:  # TRACING: the handler's decision, its job
                runner = instruments.runner(runner)
            self._runners[id(handler)] = runner
        self._lock = threading.Lock()
        self._counts = {p.name: _Counts() for p in plugins}
        #: ``id(selection)`` -> whether its plugins need the body (:meth:`reads_content`).
        self._content_needed: dict[int, bool] = {}
        # Decided once: a responder whose respond() must be awaited runs on the loop.
        self._async_respond = {
            id(r): iscoroutinefunction(r.respond) or inspect.isasyncgenfunction(r.respond)
            for r in self.responders
        }
        # A responder's answer, timed per responder when ``timer`` is given
        # (METRICS["DURATIONS"]); decided here, so that without it nothing is wrapped.
        self._answer_sync: Callable[..., Any] = self._respond_sync
        self._answer_async: Callable[..., Any] = self._respond_async
        if timer is not None:
            series = {id(r): timer.series("responder", r.name, "respond") for r in self.responders}
            self._answer_sync = timed_by_plugin(self._respond_sync, series, False)
            self._answer_async = timed_by_plugin(self._respond_async, series, True)
        if instruments is not None:  # TRACING: outside the timer, as for the other pieces
            names = {id(r): r.name for r in self.responders}
            self._answer_sync = instruments.responder(self._answer_sync, names, False)
            self._answer_async = instruments.responder(self._answer_async, names, True)
        self._filters = {id(p): prefilters(type(p)) for p in plugins}
        self.index: PrefilterIndex[Candidate] = PrefilterIndex(
            [
                Filtered(
                    (p, p.handles), isinstance(p, ResponderImplementation), *self._filters[id(p)]
                )
                for p in (*self.handlers, *self.responders)
            ]
        )

    def runner_of(self, handler: HandlerImplementation) -> Runner:
        """Where ``handler``'s jobs run in this build (:mod:`hookpipe.testing` asks)."""
        return self._runners[id(handler)]

    # ----------------------------------------------------------------- sync

    def run_sync(self, request: HttpRequest) -> Answer | None:
        """From sync ``MAIN``: the answer, or ``None`` for "Django carries on"."""
        selection = self.index.everyone  # no plugin has prefilters: the usual case
        if selection is None:
            selection = self.index.select(request.method or "", request.path_info)
            if selection is None:
                return None  # no plugin is plausible: the body is not even read
        return self._prepare(request, selection, defer_async=False)  # type: ignore[return-value]

    # ---------------------------------------------------------------- async

    async def run_async(self, request: HttpRequest) -> Answer | None:
        """From async ``MAIN``: one hop for the sync part, then an async ``respond()``.

        No hop at all when no plugin is plausible (the prefilters run on the loop).
        """
        selection = self.index.everyone
        if selection is None:
            selection = self.index.select(request.method or "", request.path_info)
            if selection is None:
                return None
        outcome = await sync_to_async(self._prepare, thread_sensitive=True)(
            request, selection, defer_async=True
        )
        if not isinstance(outcome, tuple):
            return outcome
        responder, content = outcome
        return await self._answer_async(request, responder, content)  # type: ignore[no-any-return]

    def _prepare(
        self, request: HttpRequest, selection: Selection[Candidate], defer_async: bool
    ) -> Answer | tuple[ResponderImplementation, bytes] | None:
        """The sync part: the body, the handlers, the responder's choice and, unless it
        is ``async def`` and ``defer_async`` (the caller is on an event loop), its
        ``respond()`` with the first chunk. A tuple means: await ``respond()`` there."""
        content = read_content(request) if self.reads_content(selection) else b""
        if isinstance(content, HttpResponse):
            return Answer(None, content)
        refused = self._run_handlers(request, content, selection)
        if refused is not None:  # a task handler's job could not be stored: 413 or 503
            return Answer(None, refused)
        responder = self._choose(request, content, selection)
        if responder is None:
            return None
        if defer_async and self._async_respond[id(responder)]:
            return responder, content
        return self._answer_sync(request, responder, content)  # type: ignore[no-any-return]

    def reads_content(self, selection: Selection[Candidate]) -> bool:
        """Whether a plugin of ``selection`` needs the body (``NEEDS_CONTENT``). The
        selections are made once, by the prefilter index: the answer is kept."""
        key = id(selection)
        needed = self._content_needed.get(key)
        if needed is None:
            plugins = (p for p, _ in (*selection.handlers, *selection.responders))
            needed = self._content_needed[key] = any(p.NEEDS_CONTENT for p in plugins)
        return needed

    def _respond_sync(
        self, request: HttpRequest, responder: ResponderImplementation, content: bytes
    ) -> Answer:
        """The chosen responder's answer: ``respond()``, its first chunk, the response."""
        try:
            result = responder.respond(request, content)
            if inspect.isawaitable(result):  # async def respond() under sync MAIN
                result = async_to_sync(_await)(result)
            response = self._streamer(request, responder).build_sync(result)
        except Exception as exc:
            return self._settled(responder, error=exc)
        return self._settled(responder, response)

    async def _respond_async(
        self, request: HttpRequest, responder: ResponderImplementation, content: bytes
    ) -> Answer:
        try:
            result = responder.respond(request, content)  # may be an async generator
            if inspect.isawaitable(result):
                result = await result
            response = await self._streamer(request, responder).build_async(result)
        except Exception as exc:
            return self._settled(responder, error=exc)
        return self._settled(responder, response)

    def _settled(
        self,
        responder: ResponderImplementation,
        response: HttpResponseBase | None = None,
        error: Exception | None = None,
    ) -> Answer:
        self._count(responder.name, "answered" if error is None else "errors")
        return Answer(responder, response, error)

    # --------------------------------------------------------------- shared

    def _handles_failed(self, plugin: Plugin, request: HttpRequest, exc: Exception) -> None:
        """``handles()`` raised (or its answer had no truth value): taken as False."""
        self._count(plugin.name, "handles_errors")
        rid = request_id(request)
        logger.error(
            "hookpipe: %s %r: handles() raised %s: %s; taken as False (%s %s, request %s)",
            plugin.kind,
            plugin.name,
            type(exc).__name__,
            exc,
            request.method,
            request.path,
            rid,
            exc_info=exc,
            extra={"request_id": rid},
        )

    def _run_handlers(
        self, request: HttpRequest, content: bytes, selection: Selection[Candidate]
    ) -> HttpResponse | None:
        """Run or submit every matching handler; a response if a runner refused a job
        (a task handler's, not stored): the request is answered with it."""
        snapshot: PendingSnapshot | None = None
        for handler, handles in selection.handlers:
            try:
                if not handles(request, content):
                    continue
            except Exception as exc:
                self._handles_failed(handler, request, exc)
                continue
            rid = request_id(request)
            runner = self._runners[id(handler)]
            subject: Any = request
            if runner.wants_snapshot:
                if snapshot is None:  # one snapshot per request, shared by the handlers
                    snapshot = PendingSnapshot(request, content, rid)
                subject = snapshot
            refused = runner.submit(handler, subject, content, request.hookpipe)  # type: ignore[attr-defined]
            if refused is not None:
                return refused
        return None

    def _choose(
        self, request: HttpRequest, content: bytes, selection: Selection[Candidate]
    ) -> ResponderImplementation | None:
        for responder, handles in selection.responders:
            try:
                if handles(request, content):
                    return responder  # type: ignore[no-any-return]
            except Exception as exc:
                self._handles_failed(responder, request, exc)
        return None

    def _streamer(self, request: HttpRequest, responder: ResponderImplementation) -> Streamer:
        name = responder.name
        context = Context(name, request_id(request), lambda exc: self._count(name, "stream_errors"))
        return Streamer(
            request,
            context,
            content_type=responder.content_type,
            status=responder.status,
            headers=responder.headers,
        )

    def _count(self, name: str, what: str) -> None:
        with self._lock:
            counts = self._counts.setdefault(name, _Counts())
            setattr(counts, what, getattr(counts, what) + 1)

    # -------------------------------------------------------- introspection

    def describe(self) -> dict[str, list[dict[str, Any]]]:
        """Handlers and responders as ``describe()`` lists them; secrets redacted."""
        with self._lock:
            counts = {name: dict(vars(c)) for name, c in self._counts.items()}
        handlers = []
        for handler in self.handlers:
            runner = self._runners[id(handler)]
            shown = job_keys(runner.kind, self._falls_back_to_pool)
            jobs = counters().snapshot(handler.name)
            handlers.append(
                {
                    **self._common(handler),
                    "THREAD_SAFE": bool(handler.THREAD_SAFE),
                    **runner.describe(),
                    "counters": {
                        **{key: value for key, value in jobs.items() if key in shown},
                        "handles_errors": counts.get(handler.name, {}).get("handles_errors", 0),
                    },
                }
            )
        responders = []
        for responder in self.responders:
            responders.append(
                {
                    **self._common(responder),
                    "async": self._async_respond[id(responder)],
                    "content_type": responder.content_type,
                    "status": responder.status,
                    "counters": counts.get(responder.name, dict(vars(_Counts()))),
                }
            )
        return {"handlers": handlers, "responders": responders}

    def _common(self, plugin: Plugin) -> dict[str, Any]:
        spec = self._specs.get(id(plugin))
        config = plugin.config
        methods, prefixes = self._filters[id(plugin)]
        return {
            "name": plugin.name,
            "class": dotted(type(plugin)),
            "entry": spec.label if spec else "",
            "env_prefix": env_prefix(plugin.name),
            "methods": None if methods is None else sorted(methods),
            "path_prefixes": None if prefixes is None else list(prefixes),
            "subconfig": config.redacted() if hasattr(config, "redacted") else {},
            "sources": dict(getattr(config, "sources", {})),
        }
