"""Which handlers and responders a request may meet, decided by method and path.

A plugin may declare *prefilters*, ``methods`` and ``path_prefixes`` (see
:mod:`hookpipe.plugins`). :class:`PrefilterIndex` is built from them once per pipeline
build, so that a request is only shown the plugins that could want it, and
:meth:`PrefilterIndex.select` answers in a dictionary lookup and, when prefixes are
involved, one ``str.startswith`` over all of them:

* per method, a *bucket* of the plugins that accept it (those without ``methods`` are
  in every bucket; a method no plugin names gets the bucket of those alone);
* in a bucket, the plugins without ``path_prefixes``, and per prefix the plugins that
  declare it.

When a bucket has no prefixes, its answer is computed ahead and shared by every request.
When no plugin is plausible the answer is ``None``, and nothing is allocated. Order is
kept: the candidates come in the order of the settings, handlers and responders apart.

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
    """The plugins that accept one method, indexed by path prefix."""

    __slots__ = ("always", "by_prefix", "fixed", "prefixes")

    def __init__(self, members: Sequence[tuple[int, Filtered[V]]]) -> None:
        #: Plugins without path prefixes: plausible for every path.
        self.always = [m for m in members if m[1].prefixes is None]
        by_prefix: dict[str, list[tuple[int, Filtered[V]]]] = {}
        for member in members:
            for prefix in member[1].prefixes or ():
                by_prefix.setdefault(prefix, []).append(member)
        self.by_prefix = tuple(by_prefix.items())
        #: Every prefix, for one ``str.startswith`` that rules them all out.
        self.prefixes = tuple(by_prefix)
        #: The answer for a path that matches no prefix (for every path, if none).
        self.fixed = _selection(self.always)

    def matching(self, path: str) -> Selection[V] | None:
        """The selection for a ``path`` that starts with at least one prefix."""
        found = {id(m[1]): m for m in self.always}
        for prefix, members in self.by_prefix:
            if path.startswith(prefix):
                for member in members:
                    found[id(member[1])] = member
        return _selection(list(found.values()))


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
        #: True when no plugin has a prefilter: every request meets every plugin.
        self.unfiltered = all(p.methods is None and p.prefixes is None for p in plugins)

    def select(self, method: str, path: str) -> Selection[V] | None:
        """The plugins a ``method`` request for ``path`` may meet; ``None``: none."""
        bucket = self._by_method.get(method, self._other)
        if not bucket.prefixes or not path.startswith(bucket.prefixes):
            return bucket.fixed
        return bucket.matching(path)
