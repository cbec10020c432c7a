"""The demo's hooks: one global (settings.HOOKPIPE["HOOKS"]) and two on views
(``@with_hooks`` in demo_project/pages/views.py). Each leaves a response header, so a
visitor sees them at work with ``curl -i``.
"""

from __future__ import annotations

import logging
import time

from django.http import HttpResponseBase, JsonResponse

from hookpipe import Hook, State

logger = logging.getLogger(__name__)


class ViewTime(Hook):
    """Global: how long routing, the view's hooks and the view took, in X-Demo-View-Ms.

    ``priority = 10`` puts its ``before`` ahead of the view's own hooks (100) and its
    ``after`` behind them, so the time covers theirs too.
    """

    priority = 10

    def before(self, state: State) -> None:
        state.demo_view_started = time.perf_counter()  # type: ignore[attr-defined]

    def after(self, state: State) -> None:
        started = getattr(state, "demo_view_started", None)
        if started is not None and state.response is not None:
            elapsed = (time.perf_counter() - started) * 1000
            state.response.headers["X-Demo-View-Ms"] = f"{elapsed:.2f}"


class Audit(Hook):
    """Per view: logs who called the view and marks the response as audited."""

    def before(self, state: State) -> None:
        user = state.request.user if hasattr(state.request, "user") else None
        who = user.get_username() if user is not None and user.is_authenticated else "anonymous"
        logger.info("audit: %s %s by %s", state.request.method, state.request.path, who)

    def after(self, state: State) -> None:
        if state.response is not None:
            state.response.headers["X-Demo-Audited"] = "yes"


class FriendlyErrors(Hook):
    """Per view: turns the view's exception into a JSON answer (``on_error`` wins)."""

    def on_error(self, state: State, exc: Exception) -> HttpResponseBase:
        return JsonResponse(
            {
                "error": type(exc).__name__,
                "detail": str(exc),
                "answered_by": "demo_project.hooks.FriendlyErrors.on_error",
            },
            status=500,
        )
