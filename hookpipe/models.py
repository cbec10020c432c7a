"""hookpipe's models.

:class:`Pipeline` has no table: it is unmanaged, so that the admin lists a "Pipeline"
page under a "Hookpipe" section and Django creates the ``hookpipe.view_pipeline`` and
``hookpipe.change_pipeline`` permissions that guard the page and its switches.

hookpipe itself has no table; the runtime switches are the opt-in fleet app's
(:mod:`hookpipe.fleet.models`).
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
