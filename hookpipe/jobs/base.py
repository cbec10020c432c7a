"""What every runner offers: the one small interface between a handler and where its job runs.

A runner is chosen for each handler when the pipeline is built
(:func:`hookpipe.jobs.runner_for`) and never per request. For each request a handler
``handles()``, the plugins' dispatch calls :meth:`Runner.submit` once, with the live
request or, when the runner ``wants_snapshot``, a
:class:`~hookpipe.plugins.snapshot.PendingSnapshot` taken once per request and shared by
every such handler: its ``get()`` gives the :class:`~hookpipe.RequestSnapshot`, made in
the thread that first asks (the pool's, for a pool handler).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from django.http import HttpResponse

    from ..context import RequestContext
    from ..plugins.base import HandlerImplementation


class Runner(Protocol):
    """Where one handler's jobs run."""

    @property
    def kind(self) -> str:
        """``"inline"``, ``"pool"``, ...: shown by the admin page and ``manage.py hookpipe``."""

    @property
    def wants_snapshot(self) -> bool:
        """True: ``submit`` gets a ``PendingSnapshot`` of the request; False: the live
        ``HttpRequest``."""

    def submit(
        self, handler: HandlerImplementation, subject: Any, content: bytes, context: RequestContext
    ) -> HttpResponse | None:
        """Run (or arrange to run) ``handler.handle(subject, content)`` and say so in
        ``context`` (:meth:`~hookpipe.RequestContext.job`); never raises what the
        handler raises: that is logged with the handler's name and counted.

        ``None``, or a response the request is answered with instead because the job was
        refused (the task runner's 413 and 503: the job was not stored)."""

    def describe(self) -> dict[str, Any]:
        """What the admin page and ``manage.py hookpipe`` show of this runner."""
