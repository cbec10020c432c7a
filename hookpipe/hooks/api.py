"""What hook authors write against: ``Hook``, ``State``, ``@with_hooks``.

Also the few facts about a hook that every other module of :mod:`hookpipe.hooks` asks:
its label in logs (:func:`hook_label`), a view's own hooks (:func:`view_hooks`), whether
an object is a usable hook (:func:`hook_problem`) and which methods it overrides
(:func:`overrides`). Nothing here runs a hook; :mod:`hookpipe.hooks.runtime` does.
"""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Final, TypeVar

from django.http import HttpRequest, HttpResponseBase

METHODS: Final = ("on_route", "before", "after", "on_error")

#: What a hook method may return: a response, ``None``, or (``async def``) an awaitable
#: of one of those.
HookResult = HttpResponseBase | None | Awaitable[HttpResponseBase | None]

_V = TypeVar("_V")


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

    # One is made per request that runs hooks. Its own attributes are slots, which are
    # quicker to set and read than a dict's entries; the __dict__ slot keeps a hook's
    # own attributes working, and is only allocated when a hook sets one.
    __slots__ = (
        "__dict__",
        "__weakref__",
        "_before_done",
        "_list",
        "_route_done",
        "exception",
        "hooks",
        "request",
        "response",
        "view",
        "view_args",
        "view_kwargs",
    )

    def __init__(self, request: HttpRequest, hook_list: Any) -> None:
        # hook_list: the request's hookpipe.hooks.compiled.HookList (typed loosely here:
        # that module builds on this one).
        self.request = request
        self.response: HttpResponseBase | None = None
        self.view: Callable[..., Any] | None = None
        self.view_args: tuple[Any, ...] = ()
        self.view_kwargs: dict[str, Any] = {}
        self.hooks: tuple[Any, ...] = hook_list.hooks
        self.exception: Exception | None = None
        self._list = hook_list
        # How far on_route and before got: a prefix of the global list (on_route) and a
        # prefix of this request's list (before). Which after and on_error methods run
        # follows from these (hookpipe.hooks.phases.paired and .reached). A global list
        # without any on_route method is past on_route from the start, so MAIN does not
        # run the runtime's enter for nothing.
        self._route_done = 0
        if hook_list.is_global and not hook_list.on_route.methods:
            self._route_done = hook_list.count
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
        problem = hook_problem(hook)
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
        for cache in list(view_caches):
            cache.forget_views()
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
    return unique(found)


def unique(hooks: Iterable[Any]) -> tuple[Any, ...]:
    seen: set[int] = set()
    out = []
    for hook in hooks:
        if id(hook) not in seen:
            seen.add(id(hook))
            out.append(hook)
    return tuple(out)


def hook_problem(obj: Any) -> str:
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


def overrides(hook: Any, phase: str) -> bool:
    """Whether ``hook`` has its own ``phase`` method (``Hook``'s no-ops do not count)."""
    fn = getattr(hook, phase, None)
    return callable(fn) and getattr(fn, "__func__", None) is not getattr(Hook, phase)


#: What keeps views' hook lists (each build's ``HookRuntime``): ``with_hooks`` calls
#: their ``forget_views()``. Weak, so that a pipeline that was dropped is not kept.
view_caches: weakref.WeakSet[Any] = weakref.WeakSet()
