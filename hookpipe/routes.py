"""The URL patterns of a URLconf with their views, in URLconf order.

Both listings of per-view hooks walk the URLconf with :func:`walk_urlconf`: the admin
page and ``manage.py hookpipe`` (by pattern, :mod:`hookpipe.introspection`) and
``describe()["hooks"]`` (by hook, :mod:`hookpipe.hooks.runtime`), so they name the same
routes. It imports nothing else of hookpipe, which lets both use it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver


def walk_urlconf(urlconf: str | None = None) -> Iterator[tuple[str, str | None, Any]]:
    """``(route, name, view)`` for every pattern of ``urlconf`` (default: ``ROOT_URLCONF``).

    ``route`` is the full pattern from the root, e.g. ``/hooks/<int:pk>/``; ``name`` is
    the URL name with its namespaces (``admin:index``) or ``None``. Reading the URLconf
    may raise whatever its modules raise on import; callers decide how to report that.
    """
    return _walk(get_resolver(urlconf).url_patterns, "", None)


def _walk(
    patterns: Sequence[Any], prefix: str, namespace: str | None
) -> Iterator[tuple[str, str | None, Any]]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = entry.namespace
            if inner and namespace:
                inner = f"{namespace}:{inner}"
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), inner or namespace)
        elif isinstance(entry, URLPattern):
            name = entry.name
            if name and namespace:
                name = f"{namespace}:{name}"
            yield "/" + prefix + str(entry.pattern), name, entry.callback
