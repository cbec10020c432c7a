"""Which mode hookpipe's middleware asks Django for, and whether it needs ``process_view``.

Django decides how to run each middleware when it loads ``MIDDLEWARE`` (once per
handler: at the import of the WSGI or ASGI application, or per test client), from the
class's ``sync_capable``/``async_capable`` and the mode of what is below it
(``django.core.handlers.base.BaseHandler.load_middleware``). Under ASGI, an
async-capable middleware keeps every async-capable middleware above it async too, and
``startproject``'s middleware then crosses threads twice each per request; a sync-only
one lets Django run the whole stack in one thread, with one hop at the top and one at
the bottom. So hookpipe asks for the mode its pieces are written in:

* **async** when none of the pieces that run on every request is sync: an empty
  ``HOOKPIPE``, or only ``async def`` tweens and hooks (and plugins with prefilters,
  which run only for the requests they may want);
* **sync** as soon as one is: a chain handler or global hook method (``on_route``,
  ``before``, ``after``) that is a plain ``def``, a plugin without prefilters (its
  ``handles()`` is sync code asked on every request), or a tween factory not marked
  async (below).

A tween factory's tweens are only known once it has run, and factories run at the
first request, never at load time (``gunicorn --preload`` runs no factory in the
master). So a factory counts as sync unless it carries Django's own mark of an
async-only middleware factory (``django.utils.decorators.async_only_middleware``:
``sync_capable = False``, ``async_capable = True``). A wrong guess costs thread hops,
never correctness: every link adapts to its neighbours (:mod:`hookpipe.core`).

Deciding reads ``HOOKPIPE`` and imports the dotted paths it names (what ``manage.py
check`` does); it calls no factory, constructor or hook. Under WSGI the answer does not
matter: Django runs a sync-capable middleware sync whenever the handler below is sync.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from asgiref.sync import iscoroutinefunction

from .. import conf
from ..hooks import Hook, view_hooks
from ..plugins.validation import prefilters
from ..routes import walk_urlconf
from .plan import plan

#: The hook methods that run on every request (``on_error`` only runs on errors).
_EVERY_REQUEST = ("on_route", "before", "after")


def pieces_are_async() -> bool:
    """True when the pieces of ``HOOKPIPE`` that run on every request are all async."""
    try:
        built = plan(conf.get_config())
    except Exception:  # a broken setting fails at the first request, with its message
        return True
    return all(_kinds(built))


def _kinds(built: Any) -> Iterator[bool]:
    """For each piece that runs on every request: is it async?"""
    for entry in built.tweens:
        obj = built.objects.get(entry.name)
        if entry.kind == "handler":
            yield iscoroutinefunction(obj)
        else:
            yield getattr(obj, "async_capable", False) and not getattr(obj, "sync_capable", True)
    for spec in built.hooks:
        for phase in _EVERY_REQUEST:
            method = getattr(spec.cls, phase, None)
            if method is not None and method is not getattr(Hook, phase):
                yield iscoroutinefunction(method)
    for spec in built.plugins:
        if prefilters(spec.cls) == (None, None):
            yield False


def needs_process_view() -> bool:
    """True when a request may have ``before`` hooks to run after routing: there are
    global hooks, or a view of ``ROOT_URLCONF`` has its own (``@with_hooks``).

    Reading the URLconf imports it, as the first request would. If it cannot be read
    here, the answer is yes: a hop too many is better than a hook skipped.
    """
    if conf.get_config().hooks:
        return True
    try:
        return any(view_hooks(view) for _route, _name, view in walk_urlconf())
    except Exception:
        return True
