"""Hooks for a group of URLs: :func:`include_with_hooks`, ``include()`` with hooks.

Pecan applies a controller's hooks to the controllers mounted under it; in Django the
unit that mounts views under a prefix is ``include()``. ``include_with_hooks`` does what
``include()`` does and gives every view under it the hooks, as if each view were
decorated with ``@with_hooks(*hooks)``: so they are per-view hooks in every respect
(sorted with the global ones, listed per route by ``manage.py hookpipe`` and the admin
page, cached per view), and views outside the group pay nothing.

How: the included patterns are copied, never changed (a URLconf included twice, once
with hooks and once without, keeps both apart), and each copied pattern's view is a
thin wrapper made with ``functools.wraps``, as Django's own view decorators are. The
wrapper is what carries the hooks; the original function is left alone, so the same
view mounted elsewhere has none of them. Its cost is one call per request to a
grouped view.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from asgiref.sync import iscoroutinefunction
from django.urls import URLPattern, URLResolver, include

from .api import hook_problem, with_hooks


def include_with_hooks(
    arg: Any, *hooks: Any, namespace: str | None = None
) -> tuple[list[Any], str | None, str | None]:
    """``include(arg, namespace=namespace)``, with ``hooks`` on every view under it.

    ``arg`` is anything ``include()`` takes (a module or its dotted path, a list of
    patterns, a ``(patterns, app_name)`` pair), or the 3-tuple ``admin.site.urls`` gives.
    Nested includes are covered too; the hooks come before the view's own
    (``@with_hooks``) in declaration order, and an outer group's before an inner one's.
    Checked at once, like ``with_hooks``: a class passed instead of an instance, or an
    object that is not a hook, raises ``TypeError`` while the URLconf is imported.
    """
    if not hooks:
        raise TypeError("include_with_hooks() needs at least one hook after the URLconf.")
    for hook in hooks:
        problem = hook_problem(hook)
        if problem:
            raise TypeError(f"include_with_hooks(): {problem}")
    urlconf: Any
    if isinstance(arg, tuple) and len(arg) == 3 and namespace is None:
        urlconf, app_name, ns = arg  # admin.site.urls, which include() refuses
    else:
        urlconf, app_name, ns = include(arg, namespace=namespace)
    patterns = getattr(urlconf, "urlpatterns", urlconf)
    return _grouped(patterns, hooks), app_name, ns


def _grouped(patterns: Sequence[Any], hooks: tuple[Any, ...]) -> list[Any]:
    out: list[Any] = []
    for entry in patterns:
        if isinstance(entry, URLResolver):
            out.append(
                URLResolver(
                    entry.pattern,
                    _grouped(entry.url_patterns, hooks),
                    entry.default_kwargs,
                    entry.app_name,
                    entry.namespace,
                )
            )
        elif isinstance(entry, URLPattern):
            view = _wrapped(entry.callback)
            with_hooks(*hooks)(view)
            out.append(URLPattern(entry.pattern, view, entry.default_args, entry.name))
        else:  # not a pattern; Django's URL checks will say so
            out.append(entry)
    return out


def _wrapped(view: Any) -> Any:
    """A new callable that calls ``view``: sync or async as ``view`` is, with its name,
    module and attributes (``view_class``, ``csrf_exempt``, its own hooks...) copied."""
    if iscoroutinefunction(view):

        @functools.wraps(view)
        async def grouped_async(request: Any, *args: Any, **kwargs: Any) -> Any:
            return await view(request, *args, **kwargs)

        return grouped_async

    @functools.wraps(view)
    def grouped(request: Any, *args: Any, **kwargs: Any) -> Any:
        return view(request, *args, **kwargs)

    return grouped
