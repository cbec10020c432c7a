"""The hooks of one pipeline build, and where requests enter them.

:class:`HookRuntime` holds the compiled global list and caches each view's list; the
pipeline's ``MAIN`` calls its ``enter``/``routed``/``leave`` methods (``on_route``, a
routing error for ``on_error``, ``after``), and the middleware's ``process_view`` and
``process_exception`` call :func:`process_view_sync`/:func:`process_view_async` and
:func:`process_exception` (``before``, a view error for ``on_error``). The state of a
request travels between them on ``request.hookpipe``. :meth:`HookRuntime.describe`
lists the hooks for ``manage.py hookpipe`` and the admin page.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from asgiref.sync import iscoroutinefunction
from django.http import HttpRequest, HttpResponseBase

from ..routes import walk_urlconf
from ..steps import Caller, Steps, run_async, run_sync
from .api import METHODS, State, hook_label, overrides, view_caches, view_hooks
from .compiled import HookList
from .phases import after, error_response, forward, on_error
from .redaction import redact
from .routing import routing_error

if TYPE_CHECKING:
    from ..context import RequestContext
    from ..durations import Durations
    from ..tracing import Instruments
    from .config import HookSpec

logger = logging.getLogger("hookpipe")

#: How many views' hook lists a pipeline keeps; past that the cache starts afresh.
VIEW_CACHE_SIZE = 4096


class HookRuntime:
    """The hooks of one pipeline build: the global list and the per-view lists."""

    def __init__(
        self,
        global_hooks: Sequence[Any] = (),
        specs: Sequence[HookSpec] = (),
        timer: Durations | None = None,
        instruments: Instruments | None = None,
    ):
        """``specs``, if given, are the settings entries ``global_hooks`` were built from;
        ``timer``, if given, times every hook method (``METRICS["DURATIONS"]``), and
        ``instruments`` probe them (``TRACING``)."""
        self._timer = timer
        self._instruments = instruments
        self.globals = HookList(global_hooks, timer=timer, instruments=instruments)
        self._specs = {id(h): s for h, s in zip(global_hooks, specs, strict=False)}
        #: True when there are global hooks: MAIN then runs on_route, after and the
        #: routing-error check; otherwise it only looks for a state made by a view's hooks.
        self.active = bool(self.globals.hooks)
        #: True when a global hook defines ``on_route``. Without, MAIN does not call
        #: ``enter``: its ``State`` starts past on_route.
        self.routes = bool(self.globals.on_route.methods)
        self._gpos = MappingProxyType({id(h): i for i, h in enumerate(self.globals.hooks)})
        #: view -> its list (or None), computed on the first request to the view.
        #: ``process_view`` reads it in place, and asks :meth:`for_view` on a miss.
        self.views: dict[Any, HookList | None] = {}
        view_caches.add(self)

    def forget_views(self) -> None:
        """A view was (re-)decorated with hooks: compute every view's list again."""
        self.views = {}

    def for_view(self, view: Any) -> HookList | None:
        """This view's hook list (global + its own), or ``None`` when it has no hooks."""
        views = self.views
        try:
            return views[view]
        except KeyError:
            pass
        except TypeError:  # an unhashable callable: rare, compute every time
            return self._compute(view)
        found = self._compute(view)
        if len(views) >= VIEW_CACHE_SIZE:  # views made on the fly: do not grow for ever
            views.clear()
        views[view] = found
        return found

    def _compute(self, view: Any) -> HookList | None:
        own = view_hooks(view)
        if not own:
            return self.globals if self.active else None
        return HookList((*self.globals.hooks, *own), self._gpos, self._timer, self._instruments)

    # -------------------------------------------------------------- in MAIN

    # These are steps (hookpipe.steps): MAIN runs them with its own driver, sync or async.

    def enter(self, state: State, caller: Caller) -> Steps[HttpResponseBase | None]:
        """Run ``on_route`` for a new ``state``; a response here means: do not route."""
        response, error = yield from forward(state, self.globals.on_route, caller)
        if error is not None:
            return (yield from error_response(state, error, caller))
        if response is None:
            state._route_done = self.globals.count
        return response

    @staticmethod
    def routed(state: State, response: HttpResponseBase, caller: Caller) -> Steps[HttpResponseBase]:
        """Give ``on_error`` a routing error Django turned into ``response``, if any."""
        error = routing_error(state, response)
        if error is None:
            return response
        return (yield from on_error(state, error, caller)) or response

    # Something MAIN ran in place of the view (a responder) raised: the ``on_error``
    # hooks may answer. ``None``: none did, the caller answers.
    failed = staticmethod(on_error)
    # Run ``after`` on the response, in reverse, for the hooks it pairs with (a hook
    # that defines ``on_route`` or ``before`` only if one of them ran); the final response.
    leave = staticmethod(after)

    # ---------------------------------------------------------- introspection

    def describe(self) -> list[dict[str, Any]]:
        """Global hooks, then per-view hooks found by walking the URLconf."""
        out = []
        for hook in self.globals.hooks:
            spec = self._specs.get(id(hook))
            out.append(
                {
                    **_describe_hook(hook),
                    "scope": "global",
                    "entry": spec.label if spec else "",
                    "options": _plain(redact(dict(spec.options))) if spec else {},
                }
            )
        by_hook: dict[int, tuple[Any, list[str]]] = {}
        try:
            for route, _name, view in walk_urlconf():
                for hook in view_hooks(view):
                    if id(hook) not in self._gpos:
                        by_hook.setdefault(id(hook), (hook, []))[1].append(route)
        except Exception:  # a broken URLconf is Django's to report, not the listing's
            logger.warning(
                "hookpipe: cannot walk the URLconf to list per-view hooks", exc_info=True
            )
        for hook, routes in by_hook.values():
            out.append({**_describe_hook(hook), "scope": "view", "routes": routes})
        return out


def _describe_hook(hook: Any) -> dict[str, Any]:
    methods = [m for m in METHODS if overrides(hook, m)]
    return {
        "name": type(hook).__name__,
        "class": hook_label(hook),
        "priority": hook.priority,
        "methods": methods,
        "async": [m for m in methods if iscoroutinefunction(getattr(hook, m))],
    }


def _plain(value: Any) -> Any:
    """``value`` as JSON-safe data (what ``manage.py hookpipe --json`` prints)."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    return repr(value)


# ------------------------------------------------------------- from middleware


def _routed(
    ctx: RequestContext,
    hook_list: HookList,
    request: HttpRequest,
    view: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> State:
    """The request's state, now routed to ``view``, whose hooks are ``hook_list``."""
    state: State | None = ctx.state
    if state is None:
        state = ctx.state = State(request, hook_list)
    state.view = view
    state.view_args = args if type(args) is tuple else tuple(args)
    state.view_kwargs = kwargs
    state.hooks = hook_list.hooks
    state._list = hook_list
    return state


# Django calls process_view for every request, hooks or not: the case without hooks for
# the view costs a getattr and a dict lookup (in for_view), nothing more.


def _routed_state(
    request: HttpRequest, view: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> State | None:
    """The request's state, routed to ``view``; None when ``view`` has no hooks."""
    ctx: RequestContext | None = getattr(request, "hookpipe", None)
    if ctx is None:
        return None
    hook_list = ctx.pipeline.hooks.for_view(view)
    if hook_list is None:
        return None
    return _routed(ctx, hook_list, request, view, args, kwargs)


def _before(state: State, caller: Caller) -> Steps[HttpResponseBase | None]:
    """``process_view``'s steps: the ``before`` hooks of the view."""
    hook_list = state._list
    response, error = yield from forward(state, hook_list.before, caller)
    if error is not None:
        response = yield from on_error(state, error, caller)
        if response is None:
            # Django's handling: the exception leaves process_view, Django's
            # convert_exception_to_response answers (404/403/400/500 or DEBUG page).
            raise error
        return response
    if response is None:
        state._before_done = hook_list.count  # all reached, even without before
    return response


def process_view_sync(
    request: HttpRequest, view: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> HttpResponseBase | None:
    """``process_view`` for a sync handler: run the ``before`` hooks."""
    state = _routed_state(request, view, args, kwargs)
    return None if state is None else run_sync(_before, state)


async def process_view_async(
    request: HttpRequest, view: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> HttpResponseBase | None:
    """``process_view`` for an async handler (ASGI)."""
    state = _routed_state(request, view, args, kwargs)
    return None if state is None else await run_async(_before, state)


def process_exception(request: HttpRequest, exc: Exception) -> HttpResponseBase | None:
    """``process_exception``: the view raised; ``on_error`` hooks may answer.

    Django always calls it from sync code (in a worker thread under ASGI), so async
    ``on_error`` methods are run with ``async_to_sync`` here; errors are the rare path.
    """
    ctx: RequestContext | None = getattr(request, "hookpipe", None)
    state = ctx.state if ctx is not None else None
    if state is None:
        return None
    return run_sync(on_error, state, exc)
