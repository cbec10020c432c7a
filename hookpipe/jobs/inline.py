"""The inline runner: the job runs in the request's thread, before the response, with the
live request (a handler with ``THREAD_SAFE = False``)."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Final

from .process_pool import counters
from .run import run_inline

if TYPE_CHECKING:
    from ..context import RequestContext
    from ..plugins.base import HandlerImplementation


class InlineRunner:
    """Runs a handler's jobs at once, in the caller's thread, counted like pool jobs."""

    kind: Final = "inline"
    wants_snapshot: Final = False

    def submit(
        self, handler: HandlerImplementation, subject: Any, content: bytes, context: RequestContext
    ) -> None:
        context.set_job(handler.name, self.kind)
        job = functools.partial(handler.handle, subject, content)
        run_inline(handler.name, job, counters(), request_id=context.request_id)

    def describe(self) -> dict[str, Any]:
        return {"runner": self.kind}
