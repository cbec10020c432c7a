"""What the configuration asks for, imported and ordered, before anything runs.

:func:`plan` imports every dotted path, orders the tweens and plans the hooks and
plugins. It calls no user code except module imports and reports every problem as a
check message, so that the system checks (:mod:`hookpipe.checks`) and the build
(:mod:`hookpipe.core.build`) share it."""

from __future__ import annotations

import dataclasses
import difflib
import os
from dataclasses import dataclass
from typing import Any

from django.core import checks
from django.utils.module_loading import import_string

from .. import check_ids, conf
from ..hooks import HookSpec, plan_hooks
from ..plugins.planning import PluginSpec, plan_plugins
from .ordering import INGRESS, MAIN, OrderingError, Problem, TweenDecl, order_tweens


@dataclass(frozen=True)
class Plan:
    """What the configuration asks for, imported and ordered, before anything runs."""

    config: conf.Config
    #: Tween entries in chain order, outermost first.
    tweens: tuple[conf.TweenEntry, ...]
    #: The imported factory or chain handler for each entry, by name.
    objects: dict[str, Any]
    explicit: bool
    problems: tuple[checks.CheckMessage, ...]
    #: ``HOOKPIPE["HOOKS"]`` imported and checked, in settings order.
    hooks: tuple[HookSpec, ...] = ()
    #: ``HANDLERS`` then ``RESPONDERS``, imported, checked and configured (subconfig).
    plugins: tuple[PluginSpec, ...] = ()

    def without(self, off: frozenset[str]) -> Plan:
        """This plan less the plugins named in ``off`` (switched off by an operator).

        They are taken out after the tweens are ordered, so a tween left out leaves
        the others where the hints put them; a hook, handler or responder left out is
        built by no one, as if it were not configured."""
        if not off:
            return self
        return dataclasses.replace(
            self,
            tweens=tuple(t for t in self.tweens if t.name not in off),
            hooks=tuple(h for h in self.hooks if h.path not in off),
            plugins=tuple(p for p in self.plugins if p.name not in off),
        )


def plan(config: conf.Config) -> Plan:
    """Import and order what ``config`` declares; problems come back as check messages."""
    problems = list(config.problems)
    objects: dict[str, Any] = {}
    for entry in config.tweens:
        obj = _import(entry, problems)
        if obj is not None:
            objects[entry.name] = obj
    ordering = order_tweens(
        [TweenDecl(e.name, e.over, e.under, e.path) for e in config.tweens],
        None if config.tween_order is None else list(config.tween_order),
    )
    by_name: dict[str, conf.TweenEntry] = {}
    for entry in config.tweens:
        by_name.setdefault(entry.name, entry)
    duplicates: dict[str, list[int]] = {}
    for entry in config.tweens:
        duplicates.setdefault(entry.name, []).append(entry.index)
    problems.extend(_ordering_problem(e, by_name, duplicates) for e in ordering.errors)
    hook_specs, hook_problems = plan_hooks(config.hooks)
    problems.extend(hook_problems)
    # Subconfig values may come from the environment: read it now, at each check and
    # each build, never at import time.
    plugin_specs, plugin_problems = plan_plugins(
        config.handlers, config.responders, config.plugins, os.environ
    )
    problems.extend(plugin_problems)
    return Plan(
        config=config,
        tweens=tuple(by_name[name] for name in ordering.order),
        objects=objects,
        explicit=ordering.explicit,
        problems=tuple(problems),
        hooks=hook_specs,
        plugins=plugin_specs,
    )


def _import(entry: conf.TweenEntry, problems: list[checks.CheckMessage]) -> Any:
    what = "tween factory" if entry.kind == "factory" else "chain handler"
    try:
        obj = import_string(entry.path)
    except Exception as exc:  # ImportError, but also whatever the module raises
        problems.append(
            checks.Error(
                f"{entry.label}: cannot import {what} {entry.path!r}: {type(exc).__name__}: {exc}",
                hint=conf.import_hint(entry.path),
                id=check_ids.TWEEN_IMPORT_FAILED,
            )
        )
        return None
    if not callable(obj):
        problems.append(
            checks.Error(
                f"{entry.label}: {what} {entry.path!r} is a {type(obj).__name__}, not a callable.",
                hint="A tween factory is called as factory(handler, registry, **options); "
                "a chain handler as fn(app, request, next_handler).",
                id=check_ids.TWEEN_NOT_CALLABLE,
            )
        )
        return None
    return obj


def _suggestion(error: OrderingError, by_name: dict[str, conf.TweenEntry]) -> str:
    """For a hint that names no configured tween: the closest name, or the name of the
    tween whose dotted path the hint used instead of its alias (hints use names)."""
    by_path = {e.path: name for name, e in by_name.items() if e.path != name}
    choices = [n for n in by_name if n != error.name] + [INGRESS, MAIN]
    for target in error.names:
        if target in by_path:
            named = by_path[target]
            return f"{target!r} is the path of the tween named {named!r}; hints use names. "
        close = difflib.get_close_matches(target, choices, n=1, cutoff=0.6)
        if close:
            return f"Did you mean {close[0]!r}? "
    return ""


def _ordering_problem(
    error: OrderingError, by_name: dict[str, conf.TweenEntry], duplicates: dict[str, list[int]]
) -> checks.CheckMessage:
    entry = by_name.get(error.name)
    label = entry.label if entry else repr(error.name)
    known = ", ".join(repr(n) for n in by_name) or "none"
    match error.problem:
        case Problem.OVER_INGRESS:
            return checks.Error(
                f'{label} has over="{INGRESS}": nothing is closer to the ingress.',
                hint=f'Leave "over" out to place it at the top (under="{INGRESS}").',
                id=check_ids.OVER_INGRESS,
            )
        case Problem.UNDER_MAIN:
            return checks.Error(
                f'{label} has under="{MAIN}": nothing is closer to MAIN than MAIN.',
                hint=f'Use over="{MAIN}" to place it at the bottom of the chain.',
                id=check_ids.UNDER_MAIN,
            )
        case Problem.RESERVED_NAME:
            return checks.Error(
                f"{label}: {error.name!r} is reserved for the chain's sentinels.",
                hint='Give the tween another "name".',
                id=check_ids.RESERVED_NAME,
            )
        case Problem.DUPLICATE_NAME:
            return checks.Error(
                f"More than one tween is named {error.name!r}: "
                + " and ".join(f'HOOKPIPE["TWEENS"][{i}]' for i in duplicates[error.name])
                + ".",
                hint='Give each use of the factory its own "name" alias.',
                id=check_ids.DUPLICATE_TWEEN_NAME,
            )
        case Problem.MISSING_TARGET:
            written = (
                entry.written.get(error.hint, list(error.names)) if entry else list(error.names)
            )
            several = len(error.names) > 1
            return checks.Error(
                f"{label} has {error.hint}={written!r}, and "
                + ("none of those tweens is" if several else "no tween of that name is")
                + " configured.",
                hint=_suggestion(error, by_name)
                + f"Configured tween names: {known}."
                + (
                    " In a list, one present entry is enough; absent ones are skipped."
                    if several
                    else ""
                ),
                id=check_ids.HINT_TARGET_MISSING,
            )
        case Problem.CYCLE:
            return checks.Error(
                f"The tween hints form a cycle: {error.cycle_text}.",
                hint="Each name must be over the next; drop or change one of these hints.",
                id=check_ids.ORDER_CYCLE,
            )
        case Problem.UNKNOWN_IN_ORDER:
            return checks.Error(
                f'HOOKPIPE["TWEEN_ORDER"] names {error.name!r}, which is not a tween '
                'of HOOKPIPE["TWEENS"].',
                hint=f"Configured tween names: {known}.",
                id=check_ids.UNKNOWN_IN_TWEEN_ORDER,
            )
        case Problem.DUPLICATE_IN_ORDER:
            return checks.Error(
                f'HOOKPIPE["TWEEN_ORDER"] lists {error.name!r} more than once.',
                hint="Each tween runs at most once; list it once.",
                id=check_ids.TWICE_IN_TWEEN_ORDER,
            )
