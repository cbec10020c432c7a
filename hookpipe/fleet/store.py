"""The switch table: read the disabled names, switch a plugin, say who did and when.

Every function here touches the database; the request path never calls them directly
(see :mod:`hookpipe.fleet.watch` for the throttled read).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from .models import PluginSwitch, SwitchChange


@dataclass(frozen=True)
class SwitchState:
    """The last change of one plugin's switch, for display."""

    name: str
    enabled: bool
    changed_by: str
    changed_at: datetime


def disabled_names() -> frozenset[str]:
    """Names of every plugin switched off (one query)."""
    return frozenset(PluginSwitch.objects.filter(enabled=False).values_list("name", flat=True))


def states() -> dict[str, SwitchState]:
    """The last change of every plugin ever switched, by name (one query)."""
    return {
        row.name: SwitchState(row.name, row.enabled, row.changed_by, row.changed_at)
        for row in PluginSwitch.objects.all()
    }


def set_enabled(name: str, enabled: bool, changed_by: str, via: str) -> tuple[PluginSwitch, bool]:
    """Switch ``name`` on or off (``via`` ``"admin"`` or ``"command"``); returns the row
    and whether anything changed, which is then kept in the history (:class:`SwitchChange`).

    Switching a plugin to the state it is in changes nothing and records nothing, so a
    double submit of the admin form writes one history entry, not two.
    """
    with transaction.atomic():
        row = PluginSwitch.objects.select_for_update().filter(name=name).first()
        if row is None:
            if enabled:
                # Never switched, so already on: nothing to record.
                return PluginSwitch(name=name, enabled=True, changed_at=timezone.now()), False
            row = PluginSwitch(name=name)
        elif row.enabled == enabled:
            return row, False
        row.enabled = enabled
        row.changed_by = changed_by[:255]
        row.changed_at = timezone.now()
        row.save()
        SwitchChange.objects.create(
            name=name,
            enabled=enabled,
            changed_by=row.changed_by,
            changed_at=row.changed_at,
            via=via,
        )
    return row, True
