"""Which handlers and responders a request may meet, decided by method and path.

A plugin may declare *prefilters*, ``methods`` and ``path_prefixes`` (see
:mod:`hookpipe.plugins`). :class:`PrefilterIndex` is built from them once per pipeline
build, so that a request is only shown the plugins that could want it, and
:meth:`PrefilterIndex.select` answers with every selection made ahead, so that a request
costs the same with 1000 plugins as with 15:

* per method, a *bucket* of the plugins that accept it (those without ``methods`` are
  in every bucket; a method no plugin names gets the bucket of those alone);
* in a bucket, one selection per registered prefix, and one for paths that match none
  (see :class:`_Bucket`): a dictionary lookup per distinct prefix length.

When no plugin is plausible the answer is ``None``; a request allocates nothing but the
slices of its path. Order is kept: the candidates come in the order of the settings,
handlers and responders apart.

Pure: no Django import; the values it sorts are whatever the caller gives it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

V = TypeVar("V")


@dataclass(frozen=True)
class Filtered(Generic[V]):
    """One plugin as the index sees it: ``value`` is what :meth:`select` hands back."""

    value: V
    is_responder: bool
    #: Upper-case method names, or ``None`` for any method.
    methods: frozenset[str] | None = None
    #: Path prefixes, or ``None`` for any path.
    prefixes: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Selection(Generic[V]):
    """The plugins a request may meet, in settings order."""

    handlers: tuple[V, ...]
    responders: tuple[V, ...]


def _selection(members: Sequence[tuple[int, Filtered[V]]]) -> Selection[V] | None:
    """``members`` (rank, plugin) as a selection in rank order; ``None`` if empty."""
    if not members:
        return None
    ordered = [f for _, f in sorted(members, key=lambda m: m[0])]
    return Selection(
        tuple(f.value for f in ordered if not f.is_responder),
        tuple(f.value for f in ordered if f.is_responder),
    )


class _Bucket(Generic[V]):
    """The plugins that accept one method, with every answer a path can get, made ahead.

    The prefixes a path starts with are all prefixes of that path, so they are the
    prefixes of its *longest* matching one: the answer depends on that prefix alone.
    Each registered prefix therefore gets its selection at build time (the plugins
    without prefixes, plus those of the prefix and of every registered prefix it starts
    with), and a request finds its longest match with one slice and one dictionary
    lookup per distinct prefix length, however many plugins there are.
    """

    __slots__ = ("by_prefix", "fixed", "lengths")

    def __init__(self, members: Sequence[tuple[int, Filtered[V]]]) -> None:
        always = [m for m in members if m[1].prefixes is None]
        own: dict[str, list[tuple[int, Filtered[V]]]] = {}
        for member in members:
            for prefix in member[1].prefixes or ():
                own.setdefault(prefix, []).append(member)
        #: Distinct prefix lengths, longest first: the longest match wins.
        self.lengths = tuple(sorted({len(p) for p in own}, reverse=True))
        #: The answer for a path whose longest matching prefix is the key.
        self.by_prefix: dict[str, Selection[V]] = {}
        for prefix in own:
            found = {id(m[1]): m for m in always}
            for length in self.lengths:
                if length <= len(prefix):
                    for member in own.get(prefix[:length], ()):
                        found[id(member[1])] = member
            # Never None: the prefix's own plugins are in it.
            self.by_prefix[prefix] = _selection(list(found.values()))  # type: ignore[assignment]
        #: The answer for a path that matches no prefix (for every path, if none).
        self.fixed = _selection(always)

    def select(self, path: str) -> Selection[V] | None:
        """The plugins ``path`` may meet. A path shorter than a length gives a slice
        shorter than asked for; if that is a registered prefix, it is the path itself,
        and the longest match there is, so the answer holds."""
        for length in self.lengths:
            selection = self.by_prefix.get(path[:length])
            if selection is not None:
                return selection
        return self.fixed


class PrefilterIndex(Generic[V]):
    """Handlers and responders indexed by their prefilters, built once."""

    def __init__(self, plugins: Sequence[Filtered[V]]) -> None:
        """``plugins`` in settings order: ``HANDLERS``, then ``RESPONDERS``."""
        ranked = list(enumerate(plugins))
        named = sorted({m for p in plugins for m in p.methods or ()})
        self._by_method = {
            method: _Bucket([r for r in ranked if r[1].methods is None or method in r[1].methods])
            for method in named
        }
        #: For a method that no plugin names: the plugins without ``methods``.
        self._other: _Bucket[V] = _Bucket([r for r in ranked if r[1].methods is None])
        #: When no plugin has a prefilter, the one selection every request gets (every
        #: plugin), so that a caller need not ask :meth:`select`; else ``None``.
        self.everyone: Selection[V] | None = None
        if all(p.methods is None and p.prefixes is None for p in plugins):
            self.everyone = self._other.fixed

    def select(self, method: str, path: str) -> Selection[V] | None:
        """The plugins a ``method`` request for ``path`` may meet; ``None``: none."""
        return self._by_method.get(method, self._other).select(path)
