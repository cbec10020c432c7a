"""The object the ``hookpipe_tester`` pytest fixture gives a test: the helpers of
:mod:`hookpipe.testing` and the two things a test needs around them, a request and a
``HOOKPIPE`` setting for this test only."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from django.http import HttpRequest
from django.test import RequestFactory, override_settings

from ..plugins.base import HandlerImplementation, Plugin
from ..plugins.snapshot import RequestSnapshot
from .build import build_plugin
from .jobs import Jobs, run_handlers, snapshot_of

P = TypeVar("P", bound=Plugin)

_FACTORY_METHODS = frozenset({"get", "post", "head", "options", "put", "patch", "delete", "trace"})


class PluginTester:
    """Helpers for testing handlers and responders; see docs/testing.rst.

    Without pytest, make one and call :meth:`close` when the test ends (it undoes
    :meth:`configure`).
    """

    def __init__(self) -> None:
        #: Django's ``RequestFactory``, which :meth:`request` uses.
        self.factory = RequestFactory()
        self._overrides: list[override_settings] = []

    def configure(self, **hookpipe: Any) -> None:
        """Set ``HOOKPIPE`` to ``hookpipe`` until the test ends, as ``override_settings``
        would: ``configure(HANDLERS=["myproject.plugins.SignedWebhook"], PLUGINS={...})``.
        The pipeline is rebuilt from it on next use."""
        override = override_settings(HOOKPIPE=hookpipe)
        override.enable()
        self._overrides.append(override)

    def request(
        self,
        method: str = "GET",
        path: str = "/",
        data: Any = None,
        *,
        headers: Mapping[str, str] | None = None,
        user: Any = None,
        **extra: Any,
    ) -> HttpRequest:
        """A request from ``RequestFactory``: ``request("POST", "/webhooks/", {"a": 1},
        content_type="application/json", headers={"X-Signature": sig}, user=alice)``.

        ``data`` and ``extra`` (``content_type``, ``secure``, ``QUERY_STRING``...) are
        passed on as the factory's method takes them; ``user`` becomes
        ``request.user``, as the authentication middleware would set it."""
        name = method.lower()
        make = getattr(self.factory, name) if name in _FACTORY_METHODS else None
        kwargs: dict[str, Any] = {"headers": headers, **extra}
        # Left out rather than None: for PUT and the like the factory would send b"None".
        args = () if data is None else (data,)
        if make is None:  # a method RequestFactory has no helper for
            request = self.factory.generic(method.upper(), path, *args, **kwargs)
        else:
            request = make(path, *args, **kwargs)
        if user is not None:
            request.user = user
        return request

    def build(self, cls: type[P], values: Mapping[str, Any] | None = None, **kwargs: Any) -> P:
        """:func:`~hookpipe.build_plugin`."""
        return build_plugin(cls, values, **kwargs)

    def snapshot(self, request: HttpRequest, content: bytes | None = None) -> RequestSnapshot:
        """:func:`~hookpipe.snapshot_of`."""
        return snapshot_of(request, content)

    def run_handlers(
        self,
        request: HttpRequest,
        handlers: Iterable[HandlerImplementation] | None = None,
        *,
        content: bytes | None = None,
    ) -> Jobs:
        """:func:`~hookpipe.run_handlers`."""
        return run_handlers(request, handlers, content=content)

    def close(self) -> None:
        """Undo :meth:`configure`, newest first."""
        while self._overrides:
            self._overrides.pop().disable()
