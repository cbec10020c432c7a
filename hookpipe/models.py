"""hookpipe's models.

:class:`Pipeline` has no table: it is unmanaged, so that the admin lists a "Pipeline"
page under a "Hookpipe" section and Django creates the ``hookpipe.view_pipeline`` and
``hookpipe.change_pipeline`` permissions that guard the page and its switches.

:class:`PluginSwitch` is the one table: the runtime switches (see
:mod:`hookpipe.switches`), one row per plugin name that was ever switched, with who
switched it last and when. The database is the source of truth shared by every process.
"""

from __future__ import annotations

from django.db import models


class Pipeline(models.Model):
    """Stands for this process's pipeline in the admin and in permissions."""

    # Declared, not auto-created, so that the project's DEFAULT_AUTO_FIELD is irrelevant
    # (and models.W042 is not raised for an app that stores nothing).
    id = models.BigAutoField(primary_key=True)

    class Meta:
        managed = False
        # "change" guards the runtime switches on the page.
        default_permissions = ("view", "change")
        verbose_name = "pipeline"
        verbose_name_plural = "pipeline"

    def __str__(self) -> str:
        return "hookpipe pipeline"


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
