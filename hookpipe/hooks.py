"""Pecan-style hooks: code that runs at fixed points of every request.

A hook is an object with four methods, each optional and each may be ``async def``:

* ``on_route(state)``: in ``MAIN``, before Django resolves the URL (global hooks only);
* ``before(state)``: after routing, just before the view (from the middleware's
  ``process_view``);
* ``after(state)``: once there is a final response, also after an error;
* ``on_error(state, exc)``: when routing, a ``before`` hook, the view or an ``after``
  hook raised.

The rules (``docs/hooks.rst`` has them as a table): a request's hooks are the global
ones (``HOOKPIPE["HOOKS"]``) plus the view's (``@with_hooks``), sorted by ``priority``,
ascending and stable, each instance once. ``on_route`` and ``before`` run in that order,
``after`` and ``on_error`` in reverse, and only for hooks that were *entered* (their
``on_route`` or ``before`` was called). The first ``on_error`` that returns a response
wins; if none does, Django's own exception handling answers.

Cost: everything that can be decided ahead (the sorted lists, which methods a hook
overrides, which are async, where a run of sync methods starts and ends) is decided
once per pipeline build, or once per view for per-view hooks. With no hooks at all,
a request pays one attribute read in ``MAIN`` and one cached lookup in ``process_view``.

Sync and async: consecutive methods of the same kind run as one *run*, so a request
served under ASGI with five sync hooks switches threads once per phase, not five times.
"""

from __future__ import annotations

import functools
import inspect
import logging
import re
import sys
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast
from urllib.parse import unquote_plus

from asgiref.sync import async_to_sync, iscoroutinefunction, sync_to_async
from django.conf import settings
from django.core import checks
from django.core.exceptions import (
    BadRequest,
    ImproperlyConfigured,
    PermissionDenied,
    SuspiciousOperation,
)
from django.core.handlers.exception import response_for_exception
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponseBase
from django.http.multipartparser import MultiPartParserError
from django.utils.datastructures import MultiValueDict
from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from .pipeline import RequestContext

logger = logging.getLogger("hookpipe")
viewer_logger = logging.getLogger("hookpipe.viewer")

METHODS: Final = ("on_route", "before", "after", "on_error")

#: What a hook method may return: a response, ``None``, or (``async def``) an awaitable
#: of one of those.
HookResult = HttpResponseBase | None | Awaitable[HttpResponseBase | None]

_V = TypeVar("_V")

# ------------------------------------------------------------------ public API


class Hook:
    """Base class of hooks. Override the methods you need; each may be ``async def``.

    One instance serves every request, in every thread, for the life of the process
    (global hooks are built once per pipeline build): keep per-request data on
    ``state``, never on ``self``.

    ``priority`` orders hooks, lowest first for ``on_route``/``before`` and lowest last
    for ``after``/``on_error``; equal priorities keep their declaration order.
    """

    priority: int = 100

    def on_route(self, state: State) -> HookResult:
        """Before URL routing; global hooks only. Return a response to answer at once."""
        return None

    def before(self, state: State) -> HookResult:
        """After routing, before the view. Return a response to answer without the view."""
        return None

    def after(self, state: State) -> HookResult:
        """With the final response in ``state.response``; may change or replace it."""
        return None

    def on_error(self, state: State, exc: Exception) -> HookResult:
        """``exc`` was raised; return a response to answer with it, or ``None``."""
        return None


class State:
    """What hooks see of one request.

    ``request``: the ``HttpRequest``. ``response``: ``None`` until there is one (it is
    set for ``after``). ``view``, ``view_args``, ``view_kwargs``: what the URL resolved
    to; ``None``/empty during ``on_route`` and when routing failed. ``hooks``: this
    request's hooks, sorted (only the global ones until routing is done).
    ``exception``: the last exception handed to ``on_error``, else ``None``.

    Hooks may set attributes of their own on it to carry data from ``before`` to
    ``after``; prefix them with something unique to the hook.
    """

    def __init__(self, request: HttpRequest, hook_list: HookList) -> None:
        self.request = request
        self.response: HttpResponseBase | None = None
        self.view: Callable[..., Any] | None = None
        self.view_args: tuple[Any, ...] = ()
        self.view_kwargs: dict[str, Any] = {}
        self.hooks: tuple[Any, ...] = hook_list.hooks
        self.exception: Exception | None = None
        self._list = hook_list
        # How many hooks were entered: a prefix of the global list (on_route) and a
        # prefix of this request's list (before). after/on_error run for those only.
        self._route_done = 0
        self._before_done = 0

    def __repr__(self) -> str:
        return f"<State {self.request.method} {self.request.path!r} view={self.view!r}>"


#: Where ``with_hooks`` keeps a function's hooks (copied along by ``functools.wraps``)
#: and a class's own hooks (read with ``vars()``, so each class has its own).
HOOKS_ATTR: Final = "hookpipe_hooks"


def with_hooks(*hooks: Any) -> Callable[[_V], _V]:
    """Attach hook instances to a view function or a class-based view.

    ``@with_hooks(A(), B())`` on a function view, or on a class-based view (its
    ``as_view()`` output and its subclasses get them too: a class's hooks are the union
    along its MRO, one instance counted once). Decorators stack; the outer one's hooks
    are declared first. Validated here, at import time, so a mistake fails loudly.
    """
    for hook in hooks:
        problem = _hook_problem(hook)
        if problem:
            raise TypeError(f"with_hooks(): {problem}")

    def decorate(view: _V) -> _V:
        own = vars(view).get(HOOKS_ATTR, ()) if hasattr(view, "__dict__") else ()
        try:
            setattr(view, HOOKS_ATTR, tuple(hooks) + tuple(own))
        except (AttributeError, TypeError) as exc:
            raise TypeError(
                f"with_hooks() cannot decorate {view!r}: it takes a view function or "
                "a class-based view."
            ) from exc
        # The lists computed for views are cached per pipeline; a view decorated after
        # the pipeline was built is new to that cache anyway, but a re-decorated one is
        # not: dropping the caches keeps them right without a per-request check.
        _generation[0] += 1
        return view

    return decorate


def hook_label(hook: Any) -> str:
    """How logs and listings name a hook: its class's dotted path."""
    cls = type(hook)
    return f"{cls.__module__}.{cls.__qualname__}"


def view_hooks(view: Any) -> tuple[Any, ...]:
    """A view's own hooks in declaration order: the function's, then its class's MRO."""
    found: list[Any] = list(getattr(view, HOOKS_ATTR, ()) if callable(view) else ())
    cls = getattr(view, "view_class", None)
    if isinstance(cls, type):
        for klass in cls.__mro__:
            found.extend(vars(klass).get(HOOKS_ATTR, ()))
    return _unique(found)


def _unique(hooks: Iterable[Any]) -> tuple[Any, ...]:
    seen: set[int] = set()
    out = []
    for hook in hooks:
        if id(hook) not in seen:
            seen.add(id(hook))
            out.append(hook)
    return tuple(out)


def _hook_problem(obj: Any) -> str:
    """Why ``obj`` is not a usable hook instance, or ``""``."""
    if isinstance(obj, type):
        return f"{obj.__qualname__} is a class; pass an instance, {obj.__qualname__}()."
    if not isinstance(obj, Hook):
        missing = [m for m in METHODS if not callable(getattr(obj, m, None))]
        if missing:
            return (
                f"{obj!r} is not a hookpipe.Hook and lacks {', '.join(missing)}; "
                "subclass hookpipe.Hook."
            )
    priority = getattr(obj, "priority", None)
    if isinstance(priority, bool) or not isinstance(priority, int):
        return f"{hook_label(obj)}.priority must be an int, not {priority!r}."
    return ""


# ------------------------------------------------------------ compiled hook lists


class _Method:
    """One hook's method for one phase, with what the runners need to know, once."""

    __slots__ = ("fn", "gposition", "hook", "is_async", "phase", "position")

    def __init__(self, hook: Any, phase: str, position: int, gposition: int) -> None:
        self.hook = hook
        self.phase = phase
        self.fn: Callable[..., Any] = getattr(hook, phase)
        self.is_async = iscoroutinefunction(self.fn)
        #: Position of the hook in its list, and in the global list (or a huge number).
        self.position = position
        self.gposition = gposition

    @property
    def label(self) -> str:
        return f"{hook_label(self.hook)}.{self.phase}"


class _Program:
    """The methods of one phase, in running order, cut into runs of one kind."""

    __slots__ = ("ends", "methods")

    def __init__(self, methods: Sequence[_Method]) -> None:
        self.methods = tuple(methods)
        ends: list[int] = []
        n = len(self.methods)
        end = n
        for i in range(n - 1, -1, -1):
            if i < n - 1 and self.methods[i].is_async != self.methods[i + 1].is_async:
                end = i + 1
            ends.append(end)
        #: ``ends[i]``: where the run that contains position ``i`` stops.
        self.ends = tuple(reversed(ends))

    def __bool__(self) -> bool:
        return bool(self.methods)

    def keep(self, test: Callable[[_Method], bool]) -> _Program:
        return _Program([m for m in self.methods if test(m)])


def _overrides(hook: Any, phase: str) -> bool:
    fn = getattr(hook, phase, None)
    return callable(fn) and getattr(fn, "__func__", None) is not getattr(Hook, phase)


class HookList:
    """A sorted tuple of hooks and, per phase, the methods to call (no-ops left out)."""

    __slots__ = ("after", "before", "hooks", "is_global", "on_error", "on_route")

    def __init__(
        self, hooks: Sequence[Any], global_positions: Mapping[int, int] | None = None
    ) -> None:
        # sorted() is stable: equal priorities keep their declaration order.
        self.hooks = tuple(sorted(_unique(hooks), key=lambda h: h.priority))
        self.is_global = global_positions is None
        gpos = (
            {id(h): i for i, h in enumerate(self.hooks)}
            if global_positions is None
            else global_positions
        )

        def program(phase: str, reverse: bool) -> _Program:
            methods = [
                _Method(hook, phase, i, gpos.get(id(hook), sys.maxsize))
                for i, hook in enumerate(self.hooks)
                if _overrides(hook, phase)
            ]
            return _Program(methods[::-1] if reverse else methods)

        self.on_route = program("on_route", False)
        self.before = program("before", False)
        self.after = program("after", True)
        self.on_error = program("on_error", True)


#: Bumped by ``with_hooks``; a pipeline drops its per-view cache when it changes.
_generation = [0]


class HookRuntime:
    """The hooks of one pipeline build: the global list and the per-view lists."""

    def __init__(self, global_hooks: Sequence[Any] = (), specs: Sequence[HookSpec] = ()):
        """``specs``, if given, are the settings entries ``global_hooks`` were built from."""
        self.globals = HookList(global_hooks)
        self._specs = {id(h): s for h, s in zip(global_hooks, specs, strict=False)}
        #: True when there are global hooks: MAIN then runs on_route, after and the
        #: routing-error check; otherwise it only looks for a state made by a view's hooks.
        self.active = bool(self.globals.hooks)
        self._gpos = MappingProxyType({id(h): i for i, h in enumerate(self.globals.hooks)})
        self._seen_generation = _generation[0]
        self._cached = functools.lru_cache(maxsize=4096)(self._compute)

    def for_view(self, view: Any) -> HookList | None:
        """This view's hook list (global + its own), or ``None`` when it has no hooks."""
        if self._seen_generation != _generation[0]:
            self._seen_generation = _generation[0]
            self._cached.cache_clear()
        try:
            return self._cached(view)
        except TypeError:  # an unhashable callable: rare, compute every time
            return self._compute(view)

    def _compute(self, view: Any) -> HookList | None:
        own = view_hooks(view)
        if not own:
            return self.globals if self.active else None
        return HookList((*self.globals.hooks, *own), self._gpos)

    # -------------------------------------------------------------- in MAIN

    def enter_sync(self, request: HttpRequest) -> tuple[State, HttpResponseBase | None]:
        """Make the state and run ``on_route``; a response here means: do not route."""
        state = State(request, self.globals)
        if self.globals.on_route:
            response, error = _forward_sync(state, self.globals.on_route)
            if error is not None:
                return state, _error_response_sync(state, error)
            if response is not None:
                return state, response
        state._route_done = len(self.globals.hooks)
        return state, None

    async def enter_async(self, request: HttpRequest) -> tuple[State, HttpResponseBase | None]:
        state = State(request, self.globals)
        if self.globals.on_route:
            response, error = await _forward_async(state, self.globals.on_route)
            if error is not None:
                return state, await _error_response_async(state, error)
            if response is not None:
                return state, response
        state._route_done = len(self.globals.hooks)
        return state, None

    def routed_sync(self, state: State, response: HttpResponseBase) -> HttpResponseBase:
        """Give ``on_error`` a routing error Django turned into ``response``, if any."""
        error = _routing_error(state, response)
        if error is None:
            return response
        return _on_error_sync(state, error) or response

    async def routed_async(self, state: State, response: HttpResponseBase) -> HttpResponseBase:
        error = _routing_error(state, response)
        if error is None:
            return response
        return await _on_error_async(state, error) or response

    @staticmethod
    def leave_sync(state: State, response: HttpResponseBase) -> HttpResponseBase:
        """Run ``after`` for the entered hooks, in reverse; return the final response."""
        state.response = response
        program = _entered(state, "after")
        return _after_sync(state, program) if program else response

    @staticmethod
    async def leave_async(state: State, response: HttpResponseBase) -> HttpResponseBase:
        state.response = response
        program = _entered(state, "after")
        return await _after_async(state, program) if program else response

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
                    "options": _plain(dict(spec.options)) if spec else {},
                }
            )
        by_hook: dict[int, tuple[Any, list[str]]] = {}
        for route, view in _walk_urlconf():
            for hook in view_hooks(view):
                if id(hook) not in self._gpos:
                    by_hook.setdefault(id(hook), (hook, []))[1].append(route)
        for hook, routes in by_hook.values():
            out.append({**_describe_hook(hook), "scope": "view", "routes": routes})
        return out


def _describe_hook(hook: Any) -> dict[str, Any]:
    methods = [m for m in METHODS if _overrides(hook, m)]
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


def _walk_urlconf() -> Iterator[tuple[str, Any]]:
    from django.urls import URLPattern, URLResolver, get_resolver

    def walk(patterns: Iterable[Any], prefix: str) -> Iterator[tuple[str, Any]]:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                yield prefix + str(pattern.pattern), pattern.callback

    try:
        yield from walk(get_resolver().url_patterns, "/")
    except Exception:  # a broken URLconf is Django's to report, not the listing's
        logger.warning("hookpipe: cannot walk the URLconf to list per-view hooks", exc_info=True)


# ------------------------------------------------------------- from middleware


def _context(request: HttpRequest) -> RequestContext | None:
    return getattr(request, "hookpipe", None)


def _routed_state(
    ctx: RequestContext,
    request: HttpRequest,
    view: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    hook_list: HookList,
) -> State:
    state = ctx.state
    if state is None:
        state = ctx.state = State(request, hook_list)
    state.view, state.view_args, state.view_kwargs = view, tuple(args), kwargs
    state.hooks = hook_list.hooks
    state._list = hook_list
    return state


def process_view_sync(
    request: HttpRequest, view: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> HttpResponseBase | None:
    """``process_view`` for a sync handler: run the ``before`` hooks."""
    ctx = _context(request)
    if ctx is None:
        return None
    hook_list = ctx.pipeline.hooks.for_view(view)
    if hook_list is None:
        return None
    state = _routed_state(ctx, request, view, args, kwargs, hook_list)
    response = error = None
    if hook_list.before:
        response, error = _forward_sync(state, hook_list.before)
    if error is not None:
        response = _on_error_sync(state, error)
        if response is None:
            # Django's handling: the exception leaves process_view, Django's
            # convert_exception_to_response answers (404/403/400/500 or DEBUG page).
            raise error
        return response
    if response is None:
        state._before_done = len(hook_list.hooks)
    return response


async def process_view_async(
    request: HttpRequest, view: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> HttpResponseBase | None:
    """``process_view`` for an async handler (ASGI): same as the sync one."""
    ctx = _context(request)
    if ctx is None:
        return None
    hook_list = ctx.pipeline.hooks.for_view(view)
    if hook_list is None:
        return None
    state = _routed_state(ctx, request, view, args, kwargs, hook_list)
    response = error = None
    if hook_list.before:
        response, error = await _forward_async(state, hook_list.before)
    if error is not None:
        response = await _on_error_async(state, error)
        if response is None:
            raise error
        return response
    if response is None:
        state._before_done = len(hook_list.hooks)
    return response


def process_exception(request: HttpRequest, exc: Exception) -> HttpResponseBase | None:
    """``process_exception``: the view raised; ``on_error`` hooks may answer.

    Django always calls it from sync code (in a worker thread under ASGI), so async
    ``on_error`` methods are run with ``async_to_sync`` here; errors are the rare path.
    """
    ctx = _context(request)
    state = ctx.state if ctx is not None else None
    if state is None:
        return None
    return _on_error_sync(state, exc)


# --------------------------------------------------------------- the runners
#
# A runner calls methods[start:end], all of one kind, and stops at the first response
# (on_route, before, on_error) or the first error (on_route, before, after). It returns
# (where to go on from, response, error). The drivers below walk a program run by run,
# calling each run directly or across one sync/async switch.


class NotAResponse(TypeError):
    """A hook method returned (or set ``state.response`` to) something else than a response."""


_CLIENT_ERRORS = (Http404, PermissionDenied, BadRequest, SuspiciousOperation)


def _log_failure(state: State, method: _Method, exc: Exception) -> None:
    request = state.request
    args = (method.label, type(exc).__name__, exc, request.method, request.path)
    if isinstance(exc, _CLIENT_ERRORS):
        logger.warning("hook %s raised %s: %s (%s %r)", *args)
    else:
        logger.error("hook %s raised %s: %s (%s %r)", *args, exc_info=exc)


def _not_a_response(method: _Method, value: Any, what: str) -> NotAResponse:
    return NotAResponse(
        f"hook {method.label} {what} {type(value).__name__}; it must be an HttpResponse (or None)."
    )


Outcome = tuple[int, HttpResponseBase | None, Exception | None]


def _check_after(state: State, method: _Method, previous: HttpResponseBase | None) -> None:
    """An ``after`` method may replace ``state.response``, with a response only."""
    if state.response is not previous and not isinstance(state.response, HttpResponseBase):
        bad, state.response = state.response, previous
        raise _not_a_response(method, bad, "set state.response to")


def _run_sync(
    state: State, methods: tuple[_Method, ...], start: int, end: int, exc: Exception | None
) -> Outcome:
    phase = methods[start].phase  # a run never spans two phases
    for i in range(start, end):
        method = methods[i]
        result = None
        try:
            if phase == "after":
                previous = state.response
                method.fn(state)
                _check_after(state, method, previous)
                continue
            if phase == "before":
                state._before_done = method.position + 1  # entered
                result = method.fn(state)
            elif phase == "on_route":
                state._route_done = method.position + 1
                result = method.fn(state)
            else:
                result = method.fn(state, exc)
            if result is not None and not isinstance(result, HttpResponseBase):
                raise _not_a_response(method, result, "returned")
        except Exception as error:
            _log_failure(state, method, error)
            if phase == "on_error":
                continue  # keep the original error; the next on_error hook may answer
            return i + 1, None, error
        if result is not None:
            return i + 1, result, None
    return end, None, None


async def _run_async(
    state: State, methods: tuple[_Method, ...], start: int, end: int, exc: Exception | None
) -> Outcome:
    phase = methods[start].phase
    for i in range(start, end):
        method = methods[i]
        result = None
        try:
            if phase == "after":
                previous = state.response
                await method.fn(state)
                _check_after(state, method, previous)
                continue
            if phase == "before":
                state._before_done = method.position + 1
                result = await method.fn(state)
            elif phase == "on_route":
                state._route_done = method.position + 1
                result = await method.fn(state)
            else:
                result = await method.fn(state, exc)
            if result is not None and not isinstance(result, HttpResponseBase):
                raise _not_a_response(method, result, "returned")
        except Exception as error:
            _log_failure(state, method, error)
            if phase == "on_error":
                continue
            return i + 1, None, error
        if result is not None:
            return i + 1, result, None
    return end, None, None


def _segment_sync(state: State, program: _Program, i: int, exc: Exception | None) -> Outcome:
    if program.methods[i].is_async:
        return async_to_sync(_run_async)(state, program.methods, i, program.ends[i], exc)
    return _run_sync(state, program.methods, i, program.ends[i], exc)


async def _segment_async(state: State, program: _Program, i: int, exc: Exception | None) -> Outcome:
    if program.methods[i].is_async:
        return await _run_async(state, program.methods, i, program.ends[i], exc)
    return await sync_to_async(_run_sync, thread_sensitive=True)(
        state, program.methods, i, program.ends[i], exc
    )


def _forward_sync(
    state: State, program: _Program
) -> tuple[HttpResponseBase | None, Exception | None]:
    """on_route / before: stop at the first response or error."""
    i, n = 0, len(program.methods)
    while i < n:
        i, response, error = _segment_sync(state, program, i, None)
        if response is not None or error is not None:
            return response, error
    return None, None


async def _forward_async(
    state: State, program: _Program
) -> tuple[HttpResponseBase | None, Exception | None]:
    i, n = 0, len(program.methods)
    while i < n:
        i, response, error = await _segment_async(state, program, i, None)
        if response is not None or error is not None:
            return response, error
    return None, None


def _entered(state: State, phase: str) -> _Program:
    """This phase's program, limited to the hooks that were entered."""
    hook_list = state._list
    program = hook_list.after if phase == "after" else hook_list.on_error
    n = len(hook_list.hooks)
    route, before = state._route_done, state._before_done
    if before >= n or (hook_list.is_global and route >= n):
        return program  # the common case: everybody was entered
    return program.keep(lambda m: m.position < before or m.gposition < route)


def _on_error_sync(state: State, exc: Exception) -> HttpResponseBase | None:
    state.exception = exc
    program = _entered(state, "on_error")
    i, n = 0, len(program.methods)
    while i < n:
        i, response, _ = _segment_sync(state, program, i, exc)
        if response is not None:
            return response
    return None


async def _on_error_async(state: State, exc: Exception) -> HttpResponseBase | None:
    state.exception = exc
    program = _entered(state, "on_error")
    i, n = 0, len(program.methods)
    while i < n:
        i, response, _ = await _segment_async(state, program, i, exc)
        if response is not None:
            return response
    return None


def _django_response(request: HttpRequest, exc: Exception) -> HttpResponseBase:
    """The response Django gives for ``exc``. Django reads ``sys.exc_info()`` (for the
    DEBUG page and DEBUG_PROPAGATE_EXCEPTIONS), so the exception is made current."""
    try:
        raise exc
    except Exception:
        return response_for_exception(request, exc)


def _error_response_sync(state: State, exc: Exception) -> HttpResponseBase:
    return _on_error_sync(state, exc) or _django_response(state.request, exc)


async def _error_response_async(state: State, exc: Exception) -> HttpResponseBase:
    response = await _on_error_async(state, exc)
    if response is None:
        response = await sync_to_async(_django_response, thread_sensitive=False)(state.request, exc)
    return response


def _after_sync(state: State, program: _Program) -> HttpResponseBase:
    """after: every entered hook runs; an error is handled like a view error and the
    remaining hooks see the response that handling produced."""
    i, n = 0, len(program.methods)
    while i < n:
        i, _, error = _segment_sync(state, program, i, None)
        if error is not None:
            state.response = _error_response_sync(state, error)
    # Set by leave_sync; the runners only ever replace it with a response.
    return cast(HttpResponseBase, state.response)


async def _after_async(state: State, program: _Program) -> HttpResponseBase:
    i, n = 0, len(program.methods)
    while i < n:
        i, _, error = await _segment_async(state, program, i, None)
        if error is not None:
            state.response = await _error_response_async(state, error)
    return cast(HttpResponseBase, state.response)


def _routing_error(state: State, response: HttpResponseBase) -> Exception | None:
    """The exception Django's URL resolution raised for this request, if it failed.

    Django resolves the URL in ``BaseHandler._get_response``, before any
    ``process_view``; when that raises (``Resolver404``, or a broken URLconf), the
    exception is turned into a response by ``convert_exception_to_response`` below this
    middleware, and nothing hands the exception object on. So, only on that path, we
    ask the same question again. Signs that routing failed: no ``process_view`` reached
    us (``state.view`` is None), Django never set ``request.resolver_match`` (it does as
    soon as resolution succeeds), and the response is an error. Then resolving
    ``request.path_info`` with the URLconf Django used (``request.urlconf`` if set, else
    ``ROOT_URLCONF``) raises the exception Django saw, resolution being deterministic;
    and the response must have the status Django gives that exception, which tells a
    middleware below us that answered before routing (say a 403) from Django's answer.
    A request that routed pays nothing. (Resolving ahead of Django in MAIN instead would
    cost every request a second resolution and run before middleware below us that may
    set ``request.urlconf``.)
    """
    request = state.request
    if state.view is not None or response.status_code < 400:
        return None
    if getattr(request, "resolver_match", None) is not None:
        return None  # routing worked; a middleware's process_view answered or failed
    from django.urls import get_resolver

    try:
        get_resolver(getattr(request, "urlconf", None)).resolve(request.path_info)
    except Exception as exc:
        return exc if response.status_code == _django_status(exc) else None
    return None  # a middleware below answered before routing: not a routing error


def _django_status(exc: Exception) -> int:
    """The status ``response_for_exception`` gives ``exc``."""
    if isinstance(exc, Http404):
        return 404
    if isinstance(exc, PermissionDenied):
        return 403
    if isinstance(exc, BadRequest | SuspiciousOperation | MultiPartParserError):
        return 400
    return 500


# --------------------------------------------------------------- configuration


SETTING_LABEL = 'HOOKPIPE["HOOKS"]'
ENTRY_KEYS = ("class", "options")

# Check ids, each written once; docs/checks.rst describes them.
BAD_HOOK_ENTRY: Final = "hookpipe.E020"
HOOK_IMPORT_FAILED: Final = "hookpipe.E021"
NOT_A_HOOK: Final = "hookpipe.E022"
BAD_HOOK_OPTIONS: Final = "hookpipe.E023"
OPTIONS_DO_NOT_FIT: Final = "hookpipe.E024"
BAD_PRIORITY: Final = "hookpipe.E025"
BAD_VIEWER_OPTION: Final = "hookpipe.E026"
UNKNOWN_VIEWER_ITEM: Final = "hookpipe.W020"


@dataclass(frozen=True)
class HookSpec:
    """One entry of ``HOOKPIPE["HOOKS"]``: imported and checked, not yet instantiated."""

    index: int
    path: str
    cls: type
    options: Mapping[str, Any]

    @property
    def label(self) -> str:
        return f"{SETTING_LABEL}[{self.index}] ({self.path!r})"


def plan_hooks(entries: Sequence[Any]) -> tuple[tuple[HookSpec, ...], list[checks.CheckMessage]]:
    """Import and check ``HOOKPIPE["HOOKS"]``; instantiates nothing, never raises.

    The same code serves ``manage.py check`` and the pipeline build.
    """
    specs: list[HookSpec] = []
    problems: list[checks.CheckMessage] = []
    for index, raw in enumerate(entries):
        spec = _plan_one(index, raw, problems)
        if spec is not None:
            specs.append(spec)
    return tuple(specs), problems


def _plan_one(index: int, raw: Any, problems: list[checks.CheckMessage]) -> HookSpec | None:
    where = f"{SETTING_LABEL}[{index}]"

    def error(id: str, msg: str, hint: str | None = None) -> None:
        problems.append(checks.Error(msg, hint=hint, id=id))

    path: Any
    options: Any = {}
    unknown: list[Any] = []
    if isinstance(raw, str):
        path = raw
    elif isinstance(raw, Mapping):
        unknown = [k for k in raw if k not in ENTRY_KEYS]
        if unknown:
            error(
                BAD_HOOK_ENTRY,
                f"{where} has unknown key(s) {', '.join(map(repr, unknown))}.",
                'A hook entry is "myapp.hooks.MyHook" or {"class": "myapp.hooks.MyHook", '
                '"options": {...}}.',
            )
        path = raw.get("class")
        options = raw.get("options", {})
    else:
        error(
            BAD_HOOK_ENTRY,
            f"{where} must be a dotted path or a dict, not {type(raw).__name__}.",
            'Write "myapp.hooks.MyHook" or {"class": "myapp.hooks.MyHook", "options": {...}}.',
        )
        return None
    if not isinstance(path, str) or not path:
        if not (isinstance(raw, Mapping) and unknown and "class" not in raw):  # said above
            error(
                BAD_HOOK_ENTRY,
                f'{where} needs "class": the dotted path of a hookpipe.Hook subclass.',
                'Write {"class": "myapp.hooks.MyHook", "options": {...}}.',
            )
        return None
    where = f"{where} ({path!r})"
    if not isinstance(options, Mapping) or not all(isinstance(k, str) for k in options):
        error(
            BAD_HOOK_OPTIONS,
            f'{where}: "options" must be a dict of keyword arguments, not {options!r}.',
            "The hook is built once as cls(**options).",
        )
        return None
    try:
        cls = import_string(path)
    except Exception as exc:  # ImportError, and whatever the module raises on import
        error(
            HOOK_IMPORT_FAILED,
            f"{where}: cannot import hook class {path!r}: {type(exc).__name__}: {exc}",
            "Check the dotted path; the module must be importable.",
        )
        return None
    if not isinstance(cls, type):
        error(
            NOT_A_HOOK,
            f"{where} is a {type(cls).__name__}, not a class.",
            "Give the path of a hookpipe.Hook subclass; hookpipe builds one instance.",
        )
        return None
    if not issubclass(cls, Hook):
        missing = [m for m in METHODS if not callable(getattr(cls, m, None))]
        if missing:
            error(
                NOT_A_HOOK,
                f"{where} is not a hookpipe.Hook subclass and lacks {', '.join(missing)}.",
                "Subclass hookpipe.Hook and override the methods you need.",
            )
            return None
    priority = inspect.getattr_static(cls, "priority", None)
    if not isinstance(priority, property) and (
        isinstance(priority, bool) or not isinstance(priority, int)
    ):
        error(
            BAD_PRIORITY,
            f"{where}: priority must be an int, not {priority!r}.",
            "Lower runs first for on_route/before and last for after/on_error; default 100.",
        )
    fits = True
    try:
        inspect.signature(cls).bind(**options)
    except TypeError as exc:
        fits = False
        error(
            OPTIONS_DO_NOT_FIT,
            f"{where}: the options do not fit {cls.__qualname__}(): {exc}.",
            f"Options given: {sorted(options) or 'none'}.",
        )
    except ValueError:  # no signature to read (a C type): let the build tell
        pass
    if fits and issubclass(cls, RequestViewerHook):
        problems.extend(_check_viewer_options(options, where))
    return HookSpec(index, path, cls, MappingProxyType(dict(options)))


class HookConstructorError(ImproperlyConfigured):
    """A global hook's constructor raised while the pipeline was built."""


def build_hooks(specs: Sequence[HookSpec]) -> list[Any]:
    """Instantiate the global hooks, once per pipeline build."""
    hooks = []
    for spec in specs:
        try:
            hook = spec.cls(**spec.options)
        except Exception as exc:
            raise HookConstructorError(
                f"{spec.label}: building the hook raised {type(exc).__name__}: {exc}"
            ) from exc
        problem = _hook_problem(hook)
        if problem:
            raise ImproperlyConfigured(f"{spec.label}: {problem}")
        hooks.append(hook)
    return hooks


# -------------------------------------------------------------- built-in hooks


REDACTED: Final = "[redacted]"
#: Names whose values are never shown: passwords, tokens, secrets, API keys, CSRF,
#: cookies, sessions, credentials, signatures, authorization.
SECRET_NAME = re.compile(
    r"pass|pwd|secret|token|csrf|cookie|session|signature|credential|private|"
    r"authori[sz]|authent|api[-_]?key|(?:^|[^a-z])(?:auth|key)(?:$|[^a-z])",
    re.IGNORECASE,
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
#: Items computed by the hook rather than read from the request.
VIEWER_ITEMS: Final = ("status", "view", "params", "hooks")
#: Request methods the viewer calls (no arguments, no side effects); any other method
#: named as an item gets a check warning and shows as "-".
VIEWER_METHODS: Final = (
    "get_full_path",
    "get_full_path_info",
    "get_host",
    "get_port",
    "is_secure",
    "build_absolute_uri",
)
_URL_ITEMS = frozenset({"get_full_path", "get_full_path_info", "build_absolute_uri"})
_MISSING: Final = object()


@functools.cache
def viewer_known_items() -> frozenset[str]:
    """Items the viewer can show: its own, and request attributes Django (or its
    contrib middleware) sets. Used by the check only; any name is tried."""
    from django.core.handlers.asgi import ASGIRequest
    from django.core.handlers.wsgi import WSGIRequest

    names = set(VIEWER_ITEMS) | set(VIEWER_METHODS)
    for cls in (HttpRequest, WSGIRequest, ASGIRequest):
        for name in dir(cls):
            if not name.startswith("_") and not callable(inspect.getattr_static(cls, name)):
                names.add(name)
    names |= {
        "path", "path_info", "method", "resolver_match", "content_type", "content_params",
        "GET", "POST", "COOKIES", "META", "FILES", "environ", "scope",
        "user", "session", "LANGUAGE_CODE", "urlconf", "site",
    }  # fmt: skip
    return frozenset(names)


def _check_viewer_options(options: Mapping[str, Any], where: str) -> list[checks.CheckMessage]:
    problems: list[checks.CheckMessage] = []
    try:
        _viewer_options(**options)
    except (TypeError, ValueError) as exc:
        problems.append(
            checks.Error(
                f"{where}: {exc}",
                hint="items: a list of names; blacklist: a list of path prefixes; "
                "headers: True or False; max_length: an int >= 16.",
                id=BAD_VIEWER_OPTION,
            )
        )
        return problems
    items = options.get("items")
    unknown = [i for i in items or () if i not in viewer_known_items()]
    if unknown:
        problems.append(
            checks.Warning(
                f"{where}: RequestViewerHook item(s) {', '.join(map(repr, unknown))} are "
                "neither built-in items nor attributes Django sets on a request; they "
                'will show as "-".',
                hint=f"Built-in: {', '.join(VIEWER_ITEMS)}; or a request attribute such "
                "as path, method, GET, headers, user; or one of "
                f"{', '.join(VIEWER_METHODS)}.",
                id=UNKNOWN_VIEWER_ITEM,
            )
        )
    return problems


def _viewer_options(
    items: Iterable[str] | None = None,
    blacklist: Iterable[str] = (),
    headers: bool = False,
    max_length: int = 200,
) -> tuple[tuple[str, ...], tuple[str, ...], bool, int]:
    """Validate and normalise RequestViewerHook's options; raise on a bad one."""

    def strings(name: str, value: Any) -> tuple[str, ...]:
        if isinstance(value, str) or not isinstance(value, Iterable):
            raise TypeError(f"{name} must be a list of strings, not {value!r}")
        out = tuple(value)
        if not all(isinstance(v, str) and v for v in out):
            raise TypeError(f"{name} must be a list of non-empty strings, not {value!r}")
        return out

    items = RequestViewerHook.DEFAULT_ITEMS if items is None else strings("items", items)
    bad = [i for i in items if not i.isidentifier()]
    if bad:
        raise ValueError(f"items must be attribute names; {bad!r} are not")
    if not isinstance(headers, bool):
        raise TypeError(f"headers must be True or False, not {headers!r}")
    if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 16:
        raise ValueError(f"max_length must be an int >= 16, not {max_length!r}")
    return tuple(items), strings("blacklist", blacklist), headers, max_length


def single_line(text: str, max_length: int) -> str:
    """``text`` with control characters (CR, LF, ESC, NEL, U+2028...) escaped and its
    length capped: safe for one log line."""
    text = _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)
    if len(text) > max_length:
        text = text[: max_length - 3] + "..."
    return text


def header_value(text: str, max_length: int) -> str:
    """``single_line`` in ASCII: non-ASCII characters become ``\\x``/``\\u`` escapes."""
    return single_line(text.encode("ascii", "backslashreplace").decode("ascii"), max_length)


def _redact_pairs(pairs: Iterable[tuple[Any, Any]]) -> list[tuple[str, Any]]:
    out = []
    for key, value in pairs:
        name = str(key)
        if SECRET_NAME.search(name):
            value = REDACTED
        elif name == "QUERY_STRING" and isinstance(value, str):
            value = _redact_query(value)
        out.append((name, value))
    return out


def _redact_query(query: str) -> str:
    """Replace the values of secret-looking parameters; the rest stays as sent."""
    parts = []
    for part in query.split("&"):
        key = part.partition("=")[0]
        parts.append(f"{key}={REDACTED}" if SECRET_NAME.search(unquote_plus(key)) else part)
    return "&".join(parts)


def _redact_url(url: str) -> str:
    base, sep, query = url.partition("?")
    return f"{base}{sep}{_redact_query(query)}" if sep else url


def _multi_pairs(data: MultiValueDict[Any, Any]) -> Iterator[tuple[Any, Any]]:
    for key, values in data.lists():
        for value in values:
            yield key, value


def view_name(view: Any) -> str:
    """A view's dotted name; a class-based view by its class."""
    if view is None:
        return "-"
    target = getattr(view, "view_class", view)
    module = getattr(target, "__module__", None) or type(target).__module__
    name = getattr(target, "__qualname__", None) or type(target).__qualname__
    return f"{module}.{name}"


class RequestViewerHook(Hook):
    """Logs chosen facts about each request, one line, to the ``hookpipe.viewer`` logger.

    ``items``: what to show; by default path, status, method, view, params and hooks;
    any request attribute name works too. ``blacklist``: path prefixes not to report.
    ``headers``: also add ``X-Hookpipe-<Item>`` response headers, only while
    ``settings.DEBUG`` is on. Values are one line, capped at ``max_length`` characters,
    and secrets (Authorization, Cookie, parameters named like passwords, tokens,
    secrets, API keys or CSRF values) are redacted.

    Its priority is 0, so that its ``after`` runs last and sees the final response.
    """

    priority = 0
    DEFAULT_ITEMS: Final = ("path", "status", "method", "view", "params", "hooks")

    def __init__(
        self,
        items: Iterable[str] | None = None,
        blacklist: Iterable[str] = (),
        headers: bool = False,
        max_length: int = 200,
    ) -> None:
        self.items, self.blacklist, self.headers, self.max_length = _viewer_options(
            items, blacklist, headers, max_length
        )
        self._header_names = {
            item: "X-Hookpipe-" + "-".join(p.capitalize() for p in item.split("_") if p)
            for item in self.items
        }

    def after(self, state: State) -> None:
        request = state.request
        if self.blacklist and request.path.startswith(self.blacklist):
            return
        values = [(item, self.value(item, state)) for item in self.items]
        line = " ".join(f"{item}={single_line(v, self.max_length)}" for item, v in values)
        viewer_logger.info("%s", line, extra={"hookpipe_viewer": dict(values)})
        response = state.response
        if self.headers and settings.DEBUG and response is not None:
            for item, value in values:
                response.headers[self._header_names[item]] = header_value(value, self.max_length)

    def value(self, item: str, state: State) -> str:
        """The text shown for ``item`` (redacted, not yet made single-line)."""
        try:
            return self._value(item, state)
        except Exception as exc:  # a lazy attribute may fail (DisallowedHost, a DB error)
            return f"<error: {type(exc).__name__}>"

    def _value(self, item: str, state: State) -> str:
        request = state.request
        match item:
            case "status":
                r = state.response
                return f"{r.status_code} {r.reason_phrase}" if r is not None else "-"
            case "view":
                return view_name(state.view)
            case "hooks":
                return repr([type(h).__name__ for h in state.hooks])
            case "params":
                pairs = list(_multi_pairs(request.GET))
                if "_post" in request.__dict__:  # only if something already parsed it
                    pairs.extend(_multi_pairs(request.POST))
                return repr(_redact_pairs(pairs))
        value = getattr(request, item, _MISSING)
        if value is _MISSING:
            return "-"
        if callable(value) and not isinstance(value, Mapping):
            if item not in VIEWER_METHODS:
                return "-"
            value = value()
            if item in _URL_ITEMS:
                return _redact_url(str(value))
        return self._render(item, value)

    @staticmethod
    def _render(item: str, value: Any) -> str:
        if isinstance(value, str):
            return value
        if isinstance(value, bytes | bytearray | memoryview):
            return f"<{len(value)} bytes>"
        if item == "COOKIES" and isinstance(value, Mapping):
            return repr([(str(k), REDACTED) for k in value])
        if isinstance(value, MultiValueDict):
            return repr(_redact_pairs(_multi_pairs(value)))
        if isinstance(value, Mapping):
            return repr(_redact_pairs(value.items()))
        return str(value)


class TransactionHook(Hook):
    """Runs requests with an unsafe method in ``transaction.atomic(using)``; rolls back
    when an error was raised (even if an ``on_error`` hook answered) or the response is
    a 5xx. Safe methods run without a transaction.

    The transaction is opened in ``before`` and closed in ``after``, both sync, so both
    run in the request's thread (the thread-sensitive worker under ASGI), on the same
    database connection as a sync view.
    """

    UNSAFE_METHODS: Final = ("POST", "PUT", "PATCH", "DELETE")

    def __init__(self, using: str | None = None, methods: Iterable[str] = UNSAFE_METHODS):
        self.using = using
        self.methods = frozenset(m.upper() for m in methods)
        self._key = f"_hookpipe_atomic_{id(self)}"

    def before(self, state: State) -> None:
        if state.request.method in self.methods:
            atomic = transaction.atomic(using=self.using)
            atomic.__enter__()
            setattr(state, self._key, atomic)

    def after(self, state: State) -> None:
        atomic = vars(state).pop(self._key, None)
        if atomic is None:
            return
        response = state.response
        if state.exception is not None or response is None or response.status_code >= 500:
            transaction.set_rollback(True, using=self.using)
        atomic.__exit__(None, None, None)
