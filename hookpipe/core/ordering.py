"""Tween ordering: declared constraints in, an order (or errors as data) out.

This module is pure on purpose: it imports nothing from Django or from the rest of
hookpipe, so the rules can be tested with plain lists (see ``tests/test_ordering.py``).

The rules (documented in ``docs/ordering.rst``):

* ``INGRESS`` is the top of the chain and ``MAIN`` the bottom; both are always present.
* ``over=X`` puts a tween closer to the ingress than ``X``; ``under=X`` closer to ``MAIN``.
* A hint is a tuple of names. Names that are not declared are skipped (fallbacks), but
  at least one entry of each hint must be present.
* A tween with neither hint is ``under=INGRESS``.
* Ties are broken by a key per tween, (pull, declaration index), and the result is the
  lexicographically smallest valid order by that key. The pull is -1 for a tween that
  names ``INGRESS`` in ``under``, +1 for one that names ``MAIN`` in ``over`` (0 for
  both or neither): without it those two hints would hold in every position and do
  nothing. A list without hints keeps its list order, like ``MIDDLEWARE``.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from enum import Enum
from graphlib import CycleError, TopologicalSorter

INGRESS = "hookpipe.INGRESS"
MAIN = "hookpipe.MAIN"
SENTINELS = (INGRESS, MAIN)


@dataclass(frozen=True)
class TweenDecl:
    """One declared tween, as far as ordering is concerned."""

    name: str
    over: tuple[str, ...] = ()
    under: tuple[str, ...] = ()
    #: The dotted path of the factory; lets ``TWEEN_ORDER`` name a tween by its factory.
    factory: str = ""


class Problem(Enum):
    OVER_INGRESS = "over_ingress"
    UNDER_MAIN = "under_main"
    RESERVED_NAME = "reserved_name"
    DUPLICATE_NAME = "duplicate_name"
    MISSING_TARGET = "missing_target"
    CYCLE = "cycle"
    UNKNOWN_IN_ORDER = "unknown_in_order"
    DUPLICATE_IN_ORDER = "duplicate_in_order"


@dataclass(frozen=True)
class OrderingError:
    """Why no order could be produced. ``name`` is the tween the error is about."""

    problem: Problem
    name: str
    #: For ``MISSING_TARGET``: the hint's entries. For ``CYCLE``: the cycle, first name
    #: repeated at the end, each name ``over`` the next one.
    names: tuple[str, ...] = ()
    #: ``"over"`` or ``"under"`` where the error is about one hint.
    hint: str = ""

    @property
    def cycle_text(self) -> str:
        return " -> ".join(self.names)


@dataclass(frozen=True)
class Ordering:
    """The outcome: ``order`` lists tween names outermost first, sentinels excluded."""

    order: tuple[str, ...]
    errors: tuple[OrderingError, ...]
    explicit: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors


def order_tweens(decls: list[TweenDecl], explicit: list[str] | None = None) -> Ordering:
    """Order ``decls`` by their hints, or follow ``explicit`` (``TWEEN_ORDER``) if given."""
    errors = _declaration_errors(decls)
    if explicit is not None:
        return _explicit_order(decls, explicit, errors)
    if errors:
        return Ordering((), tuple(errors))
    return _implicit_order(decls)


def _declaration_errors(decls: list[TweenDecl]) -> list[OrderingError]:
    errors: list[OrderingError] = []
    seen: set[str] = set()
    for decl in decls:
        if decl.name in SENTINELS:
            errors.append(OrderingError(Problem.RESERVED_NAME, decl.name))
        elif decl.name in seen:
            errors.append(OrderingError(Problem.DUPLICATE_NAME, decl.name))
        seen.add(decl.name)
    return errors


def _explicit_order(
    decls: list[TweenDecl], explicit: list[str], errors: list[OrderingError]
) -> Ordering:
    by_name = {d.name: d.name for d in decls}
    # A factory path names its tween only when exactly one tween uses that factory.
    factory_uses: dict[str, list[str]] = {}
    for d in decls:
        factory_uses.setdefault(d.factory, []).append(d.name)
    order: list[str] = []
    for entry in explicit:
        name = by_name.get(entry)
        if name is None and len(factory_uses.get(entry, ())) == 1:
            name = factory_uses[entry][0]
        if name is None or entry in SENTINELS:
            errors.append(OrderingError(Problem.UNKNOWN_IN_ORDER, entry))
        elif name in order:
            errors.append(OrderingError(Problem.DUPLICATE_IN_ORDER, entry))
        else:
            order.append(name)
    if errors:
        return Ordering((), tuple(errors), explicit=True)
    return Ordering(tuple(order), (), explicit=True)


def _implicit_order(decls: list[TweenDecl]) -> Ordering:
    present = {d.name for d in decls} | set(SENTINELS)
    errors: list[OrderingError] = []
    # graphlib wants, for each node, the nodes that must come before it.
    before: dict[str, set[str]] = {INGRESS: set(), MAIN: {INGRESS}}
    for decl in decls:
        before.setdefault(decl.name, set()).add(INGRESS)
        before[MAIN].add(decl.name)
    for decl in decls:
        over, under = decl.over, decl.under
        if not over and not under:
            under = (INGRESS,)
        if INGRESS in over:
            errors.append(OrderingError(Problem.OVER_INGRESS, decl.name, hint="over"))
        if MAIN in under:
            errors.append(OrderingError(Problem.UNDER_MAIN, decl.name, hint="under"))
        for hint, targets in (("over", over), ("under", under)):
            found = [t for t in targets if t in present]
            if targets and not found:
                errors.append(OrderingError(Problem.MISSING_TARGET, decl.name, targets, hint=hint))
            for target in found:
                if (hint, target) in (("over", INGRESS), ("under", MAIN)):
                    continue  # reported above; as an edge it would also make a cycle
                if hint == "over":
                    before[target].add(decl.name)
                else:
                    before[decl.name].add(target)
    sorter = TopologicalSorter(before)
    try:
        sorter.prepare()
    except CycleError as exc:
        # Reported with the other errors, so that one run of the checks shows them all.
        errors.append(_cycle_error(exc.args[1]))
    if errors:
        return Ordering((), tuple(errors))

    # Kahn's algorithm, always taking the smallest key that is free to go next, gives
    # the lexicographically smallest valid order by that key.
    key = {INGRESS: (-2, -1), MAIN: (2, len(decls))}
    key.update({d.name: (pull(d), i) for i, d in enumerate(decls)})
    ready: list[tuple[tuple[int, int], str]] = []
    order: list[str] = []
    while sorter.is_active():
        for node in sorter.get_ready():
            heapq.heappush(ready, (key[node], node))
        _, node = heapq.heappop(ready)
        if node not in SENTINELS:
            order.append(node)
        sorter.done(node)
    return Ordering(tuple(order), ())


def pull(decl: TweenDecl) -> int:
    """-1 towards INGRESS, +1 towards MAIN, 0 for no sentinel hint (or both)."""
    return (MAIN in decl.over) - (INGRESS in decl.under)


def _cycle_error(cycle: list[str]) -> OrderingError:
    # graphlib lists the cycle so that each name comes before (is over) the next one.
    names = list(cycle)
    # Start at the smallest name so that the message does not depend on set iteration.
    body = names[:-1]
    start = body.index(min(body))
    body = body[start:] + body[:start]
    return OrderingError(Problem.CYCLE, body[0], tuple(body + body[:1]))
