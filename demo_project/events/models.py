"""What the demo's ``webhook-store`` handler keeps of each webhook it receives."""

from __future__ import annotations

from typing import Any

from django.db import models


class Event(models.Model):
    """One webhook delivery, stored from the handler pool after the response was sent."""

    #: The last part of the URL: ``/webhooks/shop/`` -> ``shop``.
    source = models.CharField(max_length=64, db_index=True)
    #: The payload's ``"kind"`` (or ``"type"``), if it has one.
    kind = models.CharField(max_length=100, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    #: hookpipe's id of the request that delivered it (``RequestSnapshot.request_id``).
    request_id = models.CharField(max_length=32, db_index=True)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    stored_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.source}: {self.kind or 'event'} #{self.pk}"

    def as_dict(self) -> dict[str, Any]:
        """The event as one line of the NDJSON feed."""
        return {
            "id": self.pk,
            "source": self.source,
            "kind": self.kind,
            "payload": self.payload,
            "request_id": self.request_id,
            "stored_at": self.stored_at.isoformat(),
        }
