"""Hook lists compiled once, so that a request only walks tuples.

A :class:`HookList` is one sorted list of hooks (the global ones of a pipeline build,
or those plus a view's own) and, per phase, a :class:`Program`: the methods to call in
running order, no-ops left out, each knowing whether it is async. Built once per
pipeline build or once per view, never per request; :mod:`hookpipe.hooks.phases` runs
them.

Which hooks get ``after`` is decided here too, per hook: ``after`` pairs with the entry
methods a hook defines (:meth:`HookMethod.paired`), and the lists for the two usual
outcomes of a request are kept ready (``after_routed``, ``after_unrouted``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from asgiref.sync import iscoroutinefunction

from .. import durations
from ..steps import ASYNC, SYNC, Mode
from .api import hook_label, overrides, unique

if TYPE_CHECKING:
    from ..durations import Durations
    from ..tracing import Instruments


class HookMethod:
    """One hook's method for one phase, with what the phases need to know, once."""

    __slots__ = (
        "always",
        "before_entry",
        "fn",
        "gposition",
        "hook",
        "is_async",
        "mode",
        "phase",
        "position",
        "route_entry",
    )

    def __init__(
        self,
        hook: Any,
        phase: str,
        position: int,
        gposition: int,
        timer: Durations | None = None,
        instruments: Instruments | None = None,
    ) -> None:
        self.hook = hook
        self.phase = phase
        self.fn: Callable[..., Any] = getattr(hook, phase)
        self.is_async = iscoroutinefunction(self.fn)
        if timer is not None:  # METRICS["DURATIONS"]: the phases call the timed one
            series = timer.series("hook", hook_label(hook), phase)
            self.fn = durations.timed(self.fn, series, self.is_async)
        if instruments is not None:  # TRACING: a span and a Server-Timing entry
            self.fn = instruments.hook(self.fn, hook_label(hook), phase, self.is_async)
        #: How :mod:`hookpipe.steps` calls it.
        self.mode: Mode = ASYNC if self.is_async else SYNC
        #: Position of the hook in its list, and in the global list (or a huge number).
        self.position = position
        self.gposition = gposition
        #: The hook's entry methods, which its ``after`` pairs with (see ``paired``):
        #: it gets ``after`` when one of those ran, or always if it defines neither.
        self.route_entry = overrides(hook, "on_route")
        self.before_entry = overrides(hook, "before")
        self.always = not (self.route_entry or self.before_entry)

    def paired(self, route_done: int, before_done: int) -> bool:
        """Whether this hook's ``after`` runs, given how far ``on_route`` and ``before``
        got (how many hooks of the global list, and of the request's list, they reached)."""
        return (
            self.always
            or (self.route_entry and self.gposition < route_done)
            or (self.before_entry and self.position < before_done)
        )

    @property
    def label(self) -> str:
        return f"{hook_label(self.hook)}.{self.phase}"


class Program:
    """The methods of one phase, in running order."""

    __slots__ = ("methods",)

    def __init__(self, methods: Sequence[HookMethod]) -> None:
        self.methods = tuple(methods)

    def __bool__(self) -> bool:
        return bool(self.methods)

    def keep(self, test: Callable[[HookMethod], bool]) -> Program:
        return Program([m for m in self.methods if test(m)])


class HookList:
    """A sorted tuple of hooks and, per phase, the methods to call (no-ops left out)."""

    __slots__ = (
        "after",
        "after_routed",
        "after_unrouted",
        "before",
        "count",
        "hooks",
        "is_global",
        "on_error",
        "on_route",
    )

    def __init__(
        self,
        hooks: Sequence[Any],
        global_positions: Mapping[int, int] | None = None,
        timer: Durations | None = None,
        instruments: Instruments | None = None,
    ) -> None:
        # sorted() is stable: equal priorities keep their declaration order.
        self.hooks = tuple(sorted(unique(hooks), key=lambda h: h.priority))
        self.count = len(self.hooks)
        self.is_global = global_positions is None
        gpos = (
            {id(h): i for i, h in enumerate(self.hooks)}
            if global_positions is None
            else global_positions
        )

        def program(phase: str, reverse: bool) -> Program:
            methods = [
                HookMethod(hook, phase, i, gpos.get(id(hook), sys.maxsize), timer, instruments)
                for i, hook in enumerate(self.hooks)
                if overrides(hook, phase)
            ]
            return Program(methods[::-1] if reverse else methods)

        self.on_route = program("on_route", False)
        self.before = program("before", False)
        self.after = program("after", True)
        self.on_error = program("on_error", True)
        # The after programs of the two common ends of a request, chosen without work
        # per request: every on_route and before ran (routed: the view, or an error from
        # it), or every on_route ran and no before did (a responder answered, routing
        # failed, a middleware's process_view answered). Hooks that define only
        # on_route and are not global never run it, so they are never paired.
        every = sys.maxsize
        self.after_routed = self.after.keep(lambda m: m.paired(every - 1, every))
        self.after_unrouted = self.after.keep(lambda m: m.paired(every - 1, 0))
