from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.http import HttpRequest

from .models import Event

if TYPE_CHECKING:
    _ModelAdmin = admin.ModelAdmin[Event]
else:
    _ModelAdmin = admin.ModelAdmin


@admin.register(Event)
class EventAdmin(_ModelAdmin):
    """Read-only: events come in through the webhook handler, not the admin."""

    list_display = ["id", "source", "kind", "stored_at", "request_id", "remote_addr"]
    list_filter = ["source", "kind"]
    search_fields = ["request_id", "kind"]
    readonly_fields = [f.name for f in Event._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
