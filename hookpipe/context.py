"""``request.hookpipe``: what hookpipe keeps about one request while it runs.

The pipeline makes a :class:`RequestContext` for each request before the first tween
runs (:func:`hookpipe.core.process.serve_sync` / ``serve_async``); ``MAIN``, the hooks'
``process_view`` and the plugins read it. Its public parts are ``pipeline``,
``request_id`` and :meth:`RequestContext.add_finished_callback`.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest, HttpResponseBase

logger = logging.getLogger("hookpipe")

GetResponse = Callable[[HttpRequest], Any]
#: Called with the final response and whether the request succeeded; returns a response
#: to answer with instead, or ``None``.
OutcomeCallback = Callable[[HttpResponseBase, bool], "HttpResponseBase | None"]
AsyncGetResponse = Callable[[HttpRequest], Awaitable[Any]]


def new_request_id() -> str:
    """A fresh request id: 32 hex digits of OS randomness.

    Unique across processes and threads without coordination, and not guessable, so an
    id that reaches a client or a log cannot be predicted by someone else.
    """
    return os.urandom(16).hex()


def request_id(request: HttpRequest) -> str:
    """The id hookpipe gave ``request`` (``request.hookpipe.request_id``), else a new one."""
    ctx = getattr(request, "hookpipe", None)
    rid = getattr(ctx, "request_id", None)
    return rid if isinstance(rid, str) else new_request_id()


@dataclass(slots=True)
class RequestContext:
    """Per-request state, as ``request.hookpipe``.

    ``below_sync`` and ``below_async`` are the rest of Django below the middleware that
    received the request, as sync code calls it and as async code awaits it (adapted
    once per middleware instance, in :mod:`hookpipe.middleware`); ``MAIN`` calls the one
    of its kind. Keeping them here lets one chain serve every middleware
    instance in the process (the test client builds a new one per client).
    """

    #: The process's :class:`hookpipe.core.build.Pipeline` that serves the request.
    #: Typed loosely here, as ``state``: the pipeline and the hooks build on this
    #: module, which so stays below them (no import cycle).
    pipeline: Any
    below_sync: GetResponse
    below_async: AsyncGetResponse
    #: What hooks see of the request; made in MAIN when there are global hooks, or in
    #: ``process_view`` when only the view has hooks; ``None`` when no hook runs.
    state: Any = None
    _request_id: str | None = field(default=None, repr=False)
    #: What :meth:`add_finished_callback` collected; ``None`` until it is first called.
    finished: list[Callable[[HttpRequest], object]] | None = None
    #: What became of each handler that took the request, by handler name (see
    #: :meth:`job`); ``None`` until a handler takes it.
    jobs: dict[str, str] | None = None
    #: True once the view or a hook raised, also when an ``on_error`` hook then answered
    #: (an error the failsafe answers needs no mark: its status is 400 or more): such a
    #: request does not count as a success for the jobs that wait for its outcome.
    raised: bool = False
    #: Work that waits for the request's outcome (a task handler's job is stored only
    #: when the request succeeds): see :meth:`when_answered`. ``None`` until then, so
    #: that the serve functions skip :meth:`answered` with one attribute test.
    waiting: list[OutcomeCallback] | None = field(default=None, repr=False)

    @property
    def request_id(self) -> str:
        """This request's id, 32 random hex digits, made on first use.

        Handlers get it in their :class:`~hookpipe.RequestSnapshot`, and hookpipe's log
        lines about the request carry it (as text and as ``record.request_id``).
        """
        if self._request_id is None:
            self._request_id = new_request_id()
        return self._request_id

    def add_finished_callback(self, fn: Callable[[HttpRequest], object]) -> None:
        """Call ``fn(request)`` once the response is sent: after its last byte, also when
        a stream was cut short by an error or the client left.

        It runs from the response's ``close()``, which WSGI servers and Django's ASGI
        handler call when they are done with it, in that thread (before Django's
        ``request_finished`` signal closes the database connections). What ``fn``
        raises is logged. It is tied to the response hookpipe's middleware returns: a
        middleware above hookpipe that swaps in another response drops it.
        """
        if self.finished is None:
            self.finished = []
        self.finished.append(fn)

    def job(self, handler_name: str) -> str | None:
        """What became of handler ``handler_name``'s job for this request, ``None`` when
        it did not take the request.

        ``"inline"`` (it ran in the request's thread), ``"pool"`` (given to the thread
        pool), ``"pending"`` (a task job, stored once the response succeeds: final
        status below 400, nothing raised), ``"duplicate"`` (a task job whose
        idempotency key is stored already: nothing is stored, nothing runs again),
        ``"refused"`` (too large to store: the request is answered 413), or
        ``"switched_off"`` for a handler an operator switched off. After the response:
        ``"stored"``, ``"on_commit"`` (stored when a transaction opened above hookpipe
        commits), ``"not_stored"`` (the request
        failed), ``"failed"`` (the backend could not store it), ``"fell_back"`` (run in
        the pool instead) or ``"duplicate"`` (a copy with the same key was stored
        first). A view that answers 202 for a ``"pending"`` job keeps the
        promise: if storing then fails, the sender gets a 503 instead.
        """
        if handler_name in self.pipeline.switched_off:
            return "switched_off"
        return None if self.jobs is None else self.jobs.get(handler_name)

    def set_job(self, handler_name: str, outcome: str) -> None:
        if self.jobs is None:
            self.jobs = {}
        self.jobs[handler_name] = outcome

    def when_answered(self, fn: OutcomeCallback) -> None:
        """Call ``fn(response, succeeded)`` once the pipeline has the final response,
        after every tween, hook and the view (so after their transactions closed),
        before the response leaves hookpipe's middleware. A response ``fn`` returns
        replaces it."""
        if self.waiting is None:
            self.waiting = []
        self.waiting.append(fn)

    def answered(self, response: HttpResponseBase) -> HttpResponseBase:
        """Run what waits for the outcome (see :meth:`when_answered`); sync code only,
        since storing a job is I/O."""
        waiting, self.waiting = self.waiting, None
        succeeded = response.status_code < 400 and not self.raised
        for fn in waiting or ():
            replacement = fn(response, succeeded)
            if replacement is not None:
                response.close()
                response = replacement
                succeeded = False
        return response


def mark_raised(request: HttpRequest) -> None:
    """Something in the pipeline raised while ``request`` was served."""
    ctx = getattr(request, "hookpipe", None)
    if isinstance(ctx, RequestContext):
        ctx.raised = True


def context_of(request: HttpRequest) -> RequestContext:
    """``request.hookpipe``, typed: what hookpipe keeps about ``request``.

    Django's ``HttpRequest`` does not declare ``hookpipe``, so a type checker refuses
    ``request.hookpipe.request_id``; ``context_of(request).request_id`` is the same value,
    typed. Raises ``LookupError`` for a request that has not entered hookpipe's
    middleware (one made by ``RequestFactory``, or seen by a middleware above it).
    """
    ctx = getattr(request, "hookpipe", None)
    if not isinstance(ctx, RequestContext):
        raise LookupError(
            f"{request.method} {request.path} has no hookpipe context: it has not entered "
            "hookpipe.middleware.HookpipeMiddleware (in tests, hookpipe.run_handlers "
            "gives a RequestFactory request one)."
        )
    return ctx


def run_finished(request: HttpRequest, callbacks: list[Callable[[HttpRequest], object]]) -> None:
    ctx = getattr(request, "hookpipe", None)
    rid = ctx.request_id if isinstance(ctx, RequestContext) else "-"
    for fn in callbacks:
        try:
            fn(request)
        except Exception as exc:
            logger.error(
                "hookpipe: finished callback %r raised %s: %s (%s %s, request %s)",
                fn,
                type(exc).__name__,
                exc,
                request.method,
                request.path,
                rid,
                exc_info=exc,
                extra={"request_id": rid},
            )


def attach_finished(response: HttpResponseBase, request: HttpRequest, ctx: RequestContext) -> None:
    """Have the response's ``close()`` run the finished callbacks (after it closed a
    stream's source, before Django's ``request_finished``)."""
    callbacks = ctx.finished
    if callbacks:
        response._resource_closers.append(functools.partial(run_finished, request, callbacks))  # type: ignore[attr-defined]
