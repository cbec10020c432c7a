"""Handlers and responders with prefilters, for tests/test_prefilters.py.

Every ``handles()`` notes in :data:`ASKED` that it was asked, so a test can tell the
plugins a request met from those the prefilters kept away from it. None of them reads
its prefilters in ``handles()``: whatever ``handles()`` is asked, it says yes.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse

from hookpipe import HandlerImplementation, ResponderImplementation

#: Plugin names, in the order they were asked.
ASKED: list[str] = []
#: Handler names, in the order they ran (all run inline, in the request's thread).
RAN: list[str] = []


def reset() -> None:
    ASKED.clear()
    RAN.clear()


class _Handler(HandlerImplementation):
    THREAD_SAFE = False

    def handles(self, request: HttpRequest, content: bytes) -> bool:
        ASKED.append(self.name)
        return True

    def handle(self, request: Any, content: bytes) -> None:
        RAN.append(self.name)


class _Responder(ResponderImplementation):
    def handles(self, request: HttpRequest, content: bytes) -> bool:
        ASKED.append(self.name)
        return True

    def respond(self, request: HttpRequest, content: bytes) -> JsonResponse:
        return JsonResponse({"responder": self.name, "content": content.decode()})


class PostWebhooks(_Handler):
    """Only ``POST`` requests under ``/webhooks/``."""

    name = "post-webhooks"
    methods = frozenset({"POST"})
    path_prefixes = ("/webhooks/",)


class AnyRequest(_Handler):
    """No prefilters: asked for every request."""

    name = "any-request"


class LowerCaseMethods(_Handler):
    """``methods`` in lower case, and a list: read as ``{"PUT", "PATCH"}``."""

    name = "lower-case-methods"
    methods = {"put", "patch"}


class TwoPrefixes(_Handler):
    """Any method, under ``/webhooks/shop/`` or ``/feeds/``."""

    name = "two-prefixes"
    path_prefixes = ("/webhooks/shop/", "/feeds/")


class FeedsGet(_Responder):
    """``GET`` or ``HEAD`` under ``/feeds/``."""

    name = "feeds-get"
    methods = frozenset({"GET", "HEAD"})
    path_prefixes = ("/feeds/",)


class FeedsAny(_Responder):
    """Any method under ``/feeds/``: the fallback for what ``FeedsGet`` does not take."""

    name = "feeds-any"
    path_prefixes = ("/feeds/",)


class Everything(_Responder):
    """No prefilters: would answer every request it is asked about."""

    name = "everything"


# ------------------------------------------------------------- bad declarations


class MethodsString(_Handler):
    name = "methods-string"
    methods = "POST"  # type: ignore[assignment]


class MethodsEmpty(_Handler):
    name = "methods-empty"
    methods = frozenset()


class MethodsNotNames(_Handler):
    name = "methods-not-names"
    methods = frozenset({"POST", "GET /"})


class MethodsNumber(_Handler):
    name = "methods-number"
    methods = 3  # type: ignore[assignment]


class PrefixesString(_Handler):
    name = "prefixes-string"
    path_prefixes = "/webhooks/"  # type: ignore[assignment]


class PrefixesEmpty(_Handler):
    name = "prefixes-empty"
    path_prefixes = ()


class PrefixesRelative(_Responder):
    name = "prefixes-relative"
    path_prefixes = ("/ok/", "webhooks/")


class PrefixesSet(_Responder):
    name = "prefixes-set"
    path_prefixes = {"/webhooks/"}  # type: ignore[assignment]


class NeedsContentWord(_Handler):
    name = "needs-content-word"
    NEEDS_CONTENT = "no"  # type: ignore[assignment]
