"""hookpipe's models.

:class:`Pipeline` has no table: it is unmanaged, so that the admin lists a "Pipeline"
page under a "Hookpipe" section and Django creates the ``hookpipe.view_pipeline`` and
``hookpipe.change_pipeline`` permissions that guard the page and its switches.

:class:`DeliveryKey` is the one table of hookpipe's own: the idempotency keys of task
handlers' deliveries (docs/durable.rst), written and read only for a task handler that
has keys. The runtime switches are the opt-in fleet app's (:mod:`hookpipe.fleet.models`).
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


class DeliveryKey(models.Model):
    """A task handler's delivery, by its idempotency key: stored with the job, so that
    a delivery with the same key is neither stored nor run again while it is kept.

    The unique constraint is what decides between two copies that arrive at once."""

    id = models.BigAutoField(primary_key=True)
    handler = models.CharField(max_length=100)
    key = models.CharField(max_length=255)
    #: The request that stored it: the first delivery's.
    request_id = models.CharField(max_length=64)
    stored_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["handler", "key"], name="hookpipe_one_key_per_handler")
        ]
        verbose_name = "delivery key"
        # Not an admin model: the page's two permissions stay hookpipe's only ones.
        default_permissions = ()

    def __str__(self) -> str:
        return f"{self.handler}: {self.key}"


class DeadJob(models.Model):
    """A task handler's job that failed on its last attempt (or could not run at all):
    kept with its stored snapshot and its last error, to be replayed.

    Written by the task worker that gave up, whatever the engine; a replay enqueues the
    job again (the same request id, the same snapshot) and notes when."""

    id = models.BigAutoField(primary_key=True)
    handler = models.CharField(max_length=100, db_index=True)
    class_path = models.CharField(max_length=300)
    request_id = models.CharField(max_length=64, db_index=True)
    #: The job's stored snapshot (its wire form, nothing secret in it).
    snapshot = models.JSONField()
    attempts = models.PositiveIntegerField()
    error = models.TextField()
    backend = models.CharField(max_length=100)
    queue_name = models.CharField(max_length=100)
    priority = models.IntegerField(default=0)
    died_at = models.DateTimeField(db_index=True)
    #: When it was replayed, and by whom; ``None``: it is still dead.
    replayed_at = models.DateTimeField(null=True, blank=True)
    replayed_by = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-died_at"]
        verbose_name = "dead task job"
        # Seeing them (view) and replaying them (replay) are what the admin offers.
        default_permissions = ("view",)
        permissions = [("replay_deadjob", "Can replay dead task jobs")]

    def __str__(self) -> str:
        return f"{self.handler} (request {self.request_id})"


class TaskWorker(models.Model):
    """A task worker of a database backend that beats: it writes ``beat_at`` every
    ``HEARTBEAT_EVERY`` seconds while it lives. A job RUNNING on a worker whose beat is
    older than ``HEARTBEAT_TIMEOUT`` is taken as abandoned and runs again; a job on a
    worker that beats is never taken from it, however long it runs."""

    id = models.BigAutoField(primary_key=True)
    #: The id the task backend records in the jobs this worker claims.
    worker_id = models.CharField(max_length=64, unique=True)
    backend = models.CharField(max_length=100)
    host = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    beat_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = "task worker"
        # Shown on the Pipeline page, not an admin model of its own.
        default_permissions = ()

    def __str__(self) -> str:
        return f"{self.worker_id} ({self.host}, pid {self.pid})"
