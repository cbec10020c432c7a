"""The fleet's tables: the runtime switches and their history.

The database is the source of truth every process shares: one :class:`PluginSwitch`
row per plugin name that was ever switched, and one :class:`SwitchChange` row for
every change, whoever made it (the admin page or ``manage.py hookpipe``).
"""

from __future__ import annotations

from django.db import models


class PluginSwitch(models.Model):
    """Whether the plugin ``name`` runs, as last set by an operator."""

    id = models.BigAutoField(primary_key=True)
    #: A tween's name, a hook's dotted path (as in ``HOOKS``), or a handler's or
    #: responder's ``name``.
    name = models.CharField(max_length=255, unique=True)
    enabled = models.BooleanField(default=True)
    #: Who switched it last: a username, or how the command line was run. Text rather
    #: than a foreign key, so that the history outlives the account and the command
    #: line (which has no user) can write it.
    changed_by = models.CharField(max_length=255, blank=True)
    changed_at = models.DateTimeField()

    class Meta:
        default_permissions = ()
        verbose_name = "plugin switch"
        verbose_name_plural = "plugin switches"

    def __str__(self) -> str:
        return f"{self.name} ({'enabled' if self.enabled else 'disabled'})"


class SwitchChange(models.Model):
    """One change of a plugin's switch: who, when, and from where."""

    id = models.BigAutoField(primary_key=True)
    name = models.CharField(max_length=255, db_index=True)
    enabled = models.BooleanField()
    changed_by = models.CharField(max_length=255, blank=True)
    changed_at = models.DateTimeField()
    #: ``"admin"`` or ``"command"``.
    via = models.CharField(max_length=16)

    class Meta:
        default_permissions = ("view",)
        ordering = ("-changed_at", "-id")
        verbose_name = "switch change"
        verbose_name_plural = "switch changes"

    def __str__(self) -> str:
        state = "enabled" if self.enabled else "disabled"
        return f"{self.name} {state} by {self.changed_by or '?'} ({self.via})"
