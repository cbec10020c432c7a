"""No tables: one unmanaged model, so that the admin lists a "Pipeline" page under a
"Hookpipe" section and Django creates the ``hookpipe.view_pipeline`` permission that
guards it. Nothing is ever stored; the page shows the running process's pipeline."""

from __future__ import annotations

from django.db import models


class Pipeline(models.Model):
    """Stands for this process's pipeline in the admin and in permissions."""

    # Declared, not auto-created, so that the project's DEFAULT_AUTO_FIELD is irrelevant
    # (and models.W042 is not raised for an app that stores nothing).
    id = models.BigAutoField(primary_key=True)

    class Meta:
        managed = False
        default_permissions = ("view",)
        verbose_name = "pipeline"
        verbose_name_plural = "pipeline"

    def __str__(self) -> str:
        return "hookpipe pipeline"
