"""A handler's runner with probes: a span for each job the handler takes, its time in
``Server-Timing``, and the job's run as a child of that span (in the pool's thread for
a pool job).

The span is the handler's decision: it covers the runner's ``submit`` (an inline job's
whole run; a pool job's submission; a task job's wait for the outcome) and says where
the job went (``hookpipe.job``: ``"pool"``, ``"inline"``, ``"pending"``,
``"rejected"``, ``"refused"``, as :meth:`hookpipe.RequestContext.job` does)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from .record import current_record

if TYPE_CHECKING:
    from django.http import HttpResponse

    from ..context import RequestContext
    from .spans import Spans


class TracedRunner:
    """``runner`` with probes; everything else is the runner's own."""

    def __init__(self, runner: Any, spans: Spans | None, timing: bool) -> None:
        self.runner = runner
        self.spans = spans
        self.timing = timing
        self.kind: str = runner.kind
        self.wants_snapshot: bool = runner.wants_snapshot
        # A job's run is a span of its own (where its error is recorded: the runner
        # logs it and lets nothing out); a pool job's runs later, in another thread,
        # and takes the handler's span along as its parent.
        self._carry = spans is not None and self.kind in ("pool", "inline")

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self.runner, attribute)

    def describe(self) -> dict[str, Any]:
        return self.runner.describe()  # type: ignore[no-any-return]

    def submit(
        self, handler: Any, subject: Any, content: bytes, context: RequestContext
    ) -> HttpResponse | None:
        spans, name = self.spans, handler.name
        start = time.perf_counter()
        opened = None
        if spans is not None:
            opened = spans.start(
                f"hookpipe.handler {name}",
                {"hookpipe.kind": "handler", "hookpipe.plugin": name, "hookpipe.runner": self.kind},
            )
        error: BaseException | None = None
        try:
            if self._carry:
                from .spans import capture

                handler = Job(handler, spans, capture(), self.kind)  # type: ignore[arg-type]
            refused: HttpResponse | None = self.runner.submit(handler, subject, content, context)
            return refused
        except BaseException as exc:
            error = exc
            raise
        finally:
            if self.timing:
                record = current_record.get()
                if record is not None:
                    record.timings.append(("handler", name, time.perf_counter() - start))
            if opened is not None:
                jobs = context.jobs or {}
                spans.set(opened, "hookpipe.job", jobs.get(name, "-"))  # type: ignore[union-attr]
                spans.end(opened, error)  # type: ignore[union-attr]


class Job:
    """What a runner runs for a traced handler: its ``handle`` in a span of its own, the
    child of the handler's span (in the pool's thread for a pool job: a consumer)."""

    __slots__ = ("handler", "name", "parent", "runner", "spans")

    def __init__(self, handler: Any, spans: Spans, parent: Any, runner: str) -> None:
        self.handler = handler
        self.name: str = handler.name
        self.spans = spans
        self.parent = parent
        self.runner = runner

    def handle(self, subject: Any, content: bytes) -> Any:
        opened = self.spans.start(
            f"hookpipe.job {self.name}",
            {
                "hookpipe.kind": "handler",
                "hookpipe.plugin": self.name,
                "hookpipe.runner": self.runner,
            },
            kind="consumer" if self.runner == "pool" else "internal",
            parent=self.parent,
        )
        try:
            result = self.handler.handle(subject, content)
        except BaseException as exc:
            self.spans.end(opened, exc)
            raise
        self.spans.end(opened)
        return result
