"""The switches' history in the admin: read only, every change made from the Pipeline
page or the command line."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.http import HttpRequest

from .models import SwitchChange

if TYPE_CHECKING:
    _ModelAdmin = admin.ModelAdmin[SwitchChange]
else:  # ModelAdmin cannot be subscripted at run time
    _ModelAdmin = admin.ModelAdmin


@admin.register(SwitchChange)
class SwitchChangeAdmin(_ModelAdmin):
    list_display = ("changed_at", "name", "enabled", "changed_by", "via")
    list_filter = ("via", "enabled")
    search_fields = ("name", "changed_by")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
