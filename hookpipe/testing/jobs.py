"""Run the handlers a request would meet, now, in the test's thread, and collect their jobs.

A request's handlers are chosen as ``MAIN`` chooses them (:mod:`hookpipe.plugins.dispatch`):
the prefilters, then ``handles()``, in ``HANDLERS`` order; each one that says yes gets
what its runner would give it (a :class:`~hookpipe.RequestSnapshot`, rebuilt from its
JSON form for a task, or the live request for an inline handler). Then, unlike
``MAIN``, its ``handle()`` runs at once, whatever its runner: no pool is started, no
task is queued, no counter moves, and what it raises is kept in its :class:`Job` for
the test to look at.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, overload

from django.http import HttpRequest, HttpResponse

from ..context import RequestContext, context_of
from ..context import request_id as request_id_of
from ..core.process import get_pipeline
from ..plugins.base import HandlerImplementation
from ..plugins.body import read_content
from ..plugins.dispatch import PluginRuntime
from ..plugins.snapshot import RequestSnapshot
from ..tasks.runner import TaskRunner, at_rest


@dataclass(frozen=True)
class Job:
    """One handler that wanted the request, and how its ``handle()`` went."""

    handler: HandlerImplementation
    #: Where it would have run: ``"pool"``, ``"inline"``, ... (its runner's kind).
    runner: str
    #: What ``handle()`` got: a :class:`~hookpipe.RequestSnapshot`, or the live
    #: ``HttpRequest`` for a runner that takes it (``THREAD_SAFE = False``).
    request: RequestSnapshot | HttpRequest
    content: bytes
    #: What ``handle()`` raised, ``None`` if it returned.
    error: Exception | None = None

    @property
    def name(self) -> str:
        return self.handler.name

    @property
    def snapshot(self) -> RequestSnapshot:
        """The snapshot ``handle()`` got; a ``TypeError`` if it got the live request."""
        if not isinstance(self.request, RequestSnapshot):
            raise TypeError(
                f"handler {self.name!r} runs {self.runner} and got the live request, not a "
                "snapshot: look at job.request."
            )
        return self.request


class Jobs(Sequence[Job]):
    """The jobs of one request, in the order they ran (``HANDLERS`` order)."""

    def __init__(
        self,
        jobs: Iterable[Job] = (),
        *,
        asked: Iterable[str] = (),
        handles_errors: Iterable[tuple[str, Exception]] = (),
        refused: HttpResponse | None = None,
    ) -> None:
        self._jobs = tuple(jobs)
        #: The handlers the prefilters let through, whose ``handles()`` was asked.
        self.asked = tuple(asked)
        #: ``(name, exception)`` for each ``handles()`` that raised (the pipeline logs
        #: it and takes it as no).
        self.handles_errors = tuple(handles_errors)
        #: The 413 hookpipe answers a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` with; no
        #: handler was asked then.
        self.refused = refused

    @overload
    def __getitem__(self, index: int) -> Job: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Job]: ...

    def __getitem__(self, index: int | slice) -> Job | Sequence[Job]:
        return self._jobs[index]

    def __len__(self) -> int:
        return len(self._jobs)

    def __iter__(self) -> Iterator[Job]:
        return iter(self._jobs)

    @property
    def names(self) -> list[str]:
        """The names of the handlers that ran, in order."""
        return [job.name for job in self._jobs]

    def named(self, name: str) -> Job:
        """The job of the handler called ``name``; a ``KeyError`` that lists what ran
        and what was asked if it did not run."""
        for job in self._jobs:
            if job.name == name:
                return job
        raise KeyError(
            f"handler {name!r} did not run; ran: {self.names}, asked: {list(self.asked)}"
            + (f", refused with {self.refused.status_code}" if self.refused else "")
        )

    @property
    def errors(self) -> list[Job]:
        """The jobs whose ``handle()`` raised."""
        return [job for job in self._jobs if job.error is not None]

    def raise_errors(self) -> None:
        """Raise the first error a ``handle()`` or ``handles()`` raised, so that the test
        fails with its traceback."""
        for name, exc in self.handles_errors:
            raise RuntimeError(f"handler {name!r}: handles() raised {exc!r}") from exc
        for job in self.errors:
            raise RuntimeError(f"handler {job.name!r}: handle() raised {job.error!r}") from (
                job.error
            )

    def __repr__(self) -> str:
        shown = [f"{j.name}({j.runner}{', ' + repr(j.error) if j.error else ''})" for j in self]
        return f"<Jobs ran={shown} asked={list(self.asked)}>"


def snapshot_of(
    request: HttpRequest, content: bytes | None = None, *, request_id: str | None = None
) -> RequestSnapshot:
    """The :class:`~hookpipe.RequestSnapshot` a pool (or task) handler would get for
    ``request``, e.g. one made by Django's ``RequestFactory``: method, path, query,
    headers, body (``content``, read from the request when not given), remote address,
    scheme and ``request.user``'s primary key. ``request_id`` defaults to the
    request's hookpipe id, or a new one."""
    if content is None:
        read = read_content(request)
        if isinstance(read, HttpResponse):
            raise ValueError(read.content.decode())
        content = read
    rid = request_id if request_id is not None else request_id_of(request)
    return RequestSnapshot.from_request(request, content, rid)


def run_handlers(
    request: HttpRequest,
    handlers: Iterable[HandlerImplementation] | None = None,
    *,
    content: bytes | None = None,
) -> Jobs:
    """Run, now and in this thread, every handler that would take ``request``; return
    their :class:`Jobs`.

    ``handlers``: the configured ones (``HOOKPIPE["HANDLERS"]``, from the process's
    pipeline, the instances a request meets) unless you give instances, e.g. from
    :func:`~hookpipe.build_plugin`. They are chosen as a request chooses them:
    the prefilters, then ``handles(request, content)``; each that says yes runs
    ``handle()`` to completion, in ``HANDLERS`` order, with a snapshot (one per request,
    shared) or, for an inline handler, ``request`` itself, whatever its runner. The
    request gets a hookpipe context (``context_of(request)``) if it has none.
    ``content`` defaults to the request's body, read as hookpipe reads it (a body over
    ``DATA_UPLOAD_MAX_MEMORY_SIZE`` is refused: no handler is asked, see
    :attr:`Jobs.refused`; ``b""`` when no handler here has ``NEEDS_CONTENT``).
    """
    runtime = _runtime(handlers)
    _give_context(request)
    if runtime is None:
        return Jobs()
    selection = runtime.index.select(request.method or "", request.path_info)
    if selection is None:
        return Jobs()
    if content is None and not runtime.reads_content(selection):
        content = b""  # as in a request: no plugin here needs the body (NEEDS_CONTENT)
    if content is None:
        read = read_content(request)
        if isinstance(read, HttpResponse):
            return Jobs(refused=read)
        content = read
    rid = context_of(request).request_id
    jobs: list[Job] = []
    asked: list[str] = []
    handles_errors: list[tuple[str, Exception]] = []
    snapshot: RequestSnapshot | None = None
    for handler, handles in selection.handlers:
        asked.append(handler.name)
        try:
            if not handles(request, content):
                continue
        except Exception as exc:  # the pipeline logs it and takes it as no
            handles_errors.append((handler.name, exc))
            continue
        runner = runtime.runner_of(handler)
        subject: RequestSnapshot | HttpRequest = request
        if runner.wants_snapshot:
            if snapshot is None:
                snapshot = RequestSnapshot.from_request(request, content, rid)
            subject = snapshot
            if isinstance(runner, TaskRunner):
                # A worker gets the snapshot rebuilt from its stored JSON form, without
                # the secret-looking headers it does not keep: so does the test, so a
                # handler that relies on something the job loses fails here.
                stored = at_rest(snapshot, runner.choice.keep_headers)
                subject = RequestSnapshot.from_wire(json.loads(json.dumps(stored)))
        error: Exception | None = None
        try:
            handler.handle(subject, content)
        except Exception as exc:  # kept for the test, as the pool would log it
            error = exc
        jobs.append(Job(handler, runner.kind, subject, content, error))
    return Jobs(jobs, asked=asked, handles_errors=handles_errors)


def _runtime(handlers: Iterable[HandlerImplementation] | None) -> PluginRuntime | None:
    if handlers is None:
        return get_pipeline().plugins
    given = list(handlers)
    for handler in given:
        if not isinstance(handler, HandlerImplementation):
            raise TypeError(
                f"run_handlers() takes hookpipe.HandlerImplementation instances, not {handler!r}"
            )
    return PluginRuntime(given) if given else None


def _no_rest_of_django(request: HttpRequest) -> Any:
    raise RuntimeError("hookpipe's run_handlers runs handlers only: there is no view below them")


def _give_context(request: HttpRequest) -> None:
    """What the middleware would have attached, so that handlers and snapshots share
    one request id and ``context_of(request)`` works in an inline handler."""
    if not isinstance(getattr(request, "hookpipe", None), RequestContext):
        context = RequestContext(get_pipeline(), _no_rest_of_django, _no_rest_of_django)
        request.hookpipe = context  # type: ignore[attr-defined]
