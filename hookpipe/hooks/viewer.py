"""``RequestViewerHook``: one log line per request, with the facts you choose.

The hook itself, the check of its options' values (:func:`viewer_options`, also run by
``manage.py check``) and the list of items it knows (:func:`viewer_known_items`, for the
check's warning). What it shows is made safe by :mod:`hookpipe.hooks.redaction`.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Final

from django.conf import settings
from django.http import HttpRequest
from django.utils.datastructures import MultiValueDict

from .api import Hook, State
from .redaction import (
    REDACTED,
    header_value,
    is_secret,
    redact,
    redact_pairs,
    redact_url,
    scrub_text,
    single_line,
)

viewer_logger = logging.getLogger("hookpipe.viewer")

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


def viewer_options(
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

    # The public path, named in settings, logs and listings: hookpipe.RequestViewerHook.
    __module__ = "hookpipe"
    priority = 0
    DEFAULT_ITEMS: Final = ("path", "status", "method", "view", "params", "hooks")

    def __init__(
        self,
        items: Iterable[str] | None = None,
        blacklist: Iterable[str] = (),
        headers: bool = False,
        max_length: int = 200,
    ) -> None:
        self.items, self.blacklist, self.headers, self.max_length = viewer_options(
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
        # The structured extra shows exactly what the line shows: redacted, one line, cut.
        shown = {item: single_line(v, self.max_length) for item, v in values}
        line = " ".join(f"{item}={v}" for item, v in shown.items())
        viewer_logger.info("%s", line, extra={"hookpipe_viewer": shown})
        response = state.response
        if self.headers and settings.DEBUG and response is not None:
            for item, value in values:
                response.headers[self._header_names[item]] = header_value(value, self.max_length)

    def value(self, item: str, state: State) -> str:
        """The text shown for ``item``: redacted, not yet made single-line nor cut.

        Every item goes through the same two passes (:mod:`~hookpipe.hooks.redaction`):
        secrets under names in the value's structure, then ``name=value`` secrets in the
        text, so an item nobody thought of (``scope``, ``RAW_URI`` in ``environ``, a
        middleware's attribute) is as safe as ``params``."""
        if is_secret(item) and item != "COOKIES":  # COOKIES shows names, see _render
            return REDACTED
        try:
            return scrub_text(self._value(item, state))
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
                return repr(redact_pairs(pairs))
        value = getattr(request, item, _MISSING)
        if value is _MISSING:
            return "-"
        if callable(value) and not isinstance(value, Mapping):
            if item not in VIEWER_METHODS:
                return "-"
            value = value()
            if item in _URL_ITEMS:
                return redact_url(str(value))
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
            return repr(redact_pairs(_multi_pairs(value)))
        if isinstance(value, Mapping):  # META, environ, scope, headers: as (name, value) pairs
            return repr(redact_pairs(value.items()))
        if isinstance(value, list | tuple):
            return repr(redact(value))
        return str(value)
