"""Handlers and a responder, typed, as docs/testing.rst tests them."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Iterator

from django.core.mail import send_mail
from django.http import HttpRequest

from hookpipe import (
    HandlerImplementation,
    RequestSnapshot,
    ResponderImplementation,
    Setting,
    context_of,
)

audit_log = logging.getLogger("myproject.audit")


def signature(secret: str, content: bytes) -> str:
    """What the sender puts in ``X-Signature``: HMAC-SHA256 of the body, in hex."""
    return hmac.new(secret.encode(), content, hashlib.sha256).hexdigest()


class SignedWebhook(HandlerImplementation):
    """Mails each correctly signed webhook delivery to the team (in the pool)."""

    name = "signed-webhook"
    methods = {"POST"}
    path_prefixes = ("/webhooks/",)
    subconfig = {
        "SECRET": Setting(str, secret=True, help="shared with the sender"),
        "RECIPIENTS": Setting(list, default=["ops@example.com"]),
    }

    def handles(self, request: HttpRequest, content: bytes) -> bool:
        sent = request.headers.get("X-Signature", "")
        # compare_digest: a plain == would tell an attacker how much of a guess is right.
        return hmac.compare_digest(sent, signature(self.config.SECRET, content))

    def handle(self, request: RequestSnapshot, content: bytes) -> None:
        event = request.json()
        send_mail(
            subject=f"webhook: {event['type']}",
            message=json.dumps(event, indent=2),
            from_email=None,
            recipient_list=self.config.RECIPIENTS,
        )


class AuditTrail(HandlerImplementation):
    """Logs every webhook request, signed or not, before the response (inline)."""

    name = "audit-trail"
    THREAD_SAFE = False  # runs in the request's thread, with the live request
    path_prefixes = ("/webhooks/",)

    def handles(self, request: HttpRequest, content: bytes) -> bool:
        return True

    def handle(self, request: HttpRequest, content: bytes) -> None:
        audit_log.info(
            "%s %s (%d bytes, request %s)",
            request.method,
            request.path,
            len(content),
            context_of(request).request_id,
        )


class Ping(ResponderImplementation):
    """Answers ``GET /ping`` with a streamed ``pong``."""

    name = "ping"
    methods = {"GET"}
    path_prefixes = ("/ping",)
    content_type = "text/plain"

    def handles(self, request: HttpRequest, content: bytes) -> bool:
        return request.path == "/ping"

    def respond(self, request: HttpRequest, content: bytes) -> Iterator[str]:
        yield "pong\n"
