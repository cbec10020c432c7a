"""hookpipe's models.

:class:`Pipeline` has no table: it is unmanaged, so that the admin lists a "Pipeline"
page under a "Hookpipe" section and Django creates the ``hookpipe.view_pipeline`` and
``hookpipe.change_pipeline`` permissions that guard the page and its switches.

:class:`DeliveryKey` keeps the idempotency keys of task handlers' deliveries
(docs/durable.rst), written and read only for a task handler that has keys. The other
tables belong to task handlers too: dead jobs, paused handlers and their parked jobs,
task workers' heartbeats. The runtime switches are the opt-in fleet app's
(:mod:`hookpipe.fleet.models`).
"""

from __future__ import annotations

from typing import Any

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


class StoredJob(models.Model):
    """What a task handler's job is, kept outside the task backend: enough to enqueue
    it again as it was first stored (the same request id, the same snapshot, its first
    backend, queue and priority)."""

    id = models.BigAutoField(primary_key=True)
    handler = models.CharField(max_length=100, db_index=True)
    class_path = models.CharField(max_length=300)
    request_id = models.CharField(max_length=64, db_index=True)
    #: The job's stored snapshot (its wire form, nothing secret in it).
    snapshot = models.JSONField()
    backend = models.CharField(max_length=100)
    queue_name = models.CharField(max_length=100)
    priority = models.IntegerField(default=0)

    class Meta:
        abstract = True

    @staticmethod
    def fields_of(task: Any, handler: str, class_path: str, snapshot: Any) -> dict[str, Any]:
        """These fields for a job of the running ``task`` (its backend, queue and
        priority), whatever the snapshot holds: a store that others can write to may
        hand a worker something that is not one."""
        request_id = snapshot.get("request_id", "") if isinstance(snapshot, dict) else ""
        return {
            "handler": handler[:100],
            "class_path": class_path[:300],
            "request_id": str(request_id)[:64],
            "snapshot": snapshot if isinstance(snapshot, dict) else {"unreadable": repr(snapshot)},
            "backend": str(getattr(task, "backend", "")),
            "queue_name": str(getattr(task, "queue_name", "")),
            "priority": int(getattr(task, "priority", 0)),
        }


class DeadJob(StoredJob):
    """A task handler's job that failed on its last attempt (or could not run at all):
    kept with its stored snapshot and its last error, to be replayed.

    Written by the task worker that gave up, whatever the engine; a replay enqueues the
    job again (the same request id, the same snapshot) and notes when."""

    attempts = models.PositiveIntegerField()
    error = models.TextField()
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


class PausedHandler(models.Model):
    """A task handler an operator paused: its deliveries are still stored, but a task
    worker that starts one of its jobs parks it (:class:`ParkedJob`) instead of running
    it. A row here is the pause; resuming deletes it."""

    id = models.BigAutoField(primary_key=True)
    handler = models.CharField(max_length=100, unique=True)
    paused_at = models.DateTimeField()
    paused_by = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name = "paused task handler"
        # Paused and resumed from the Pipeline page, with its change permission.
        default_permissions = ()

    def __str__(self) -> str:
        return f"{self.handler} (paused by {self.paused_by or '?'})"


class ParkedJob(StoredJob):
    """A job of a paused task handler, taken off its task backend by the worker that
    started it, waiting for the resume that enqueues it again; the row is deleted then."""

    #: The attempt it is (a retry can be parked too): it runs as that attempt.
    attempt = models.PositiveIntegerField(default=1)
    #: When the task backend took the job: the resume enqueues them in this order.
    enqueued_at = models.DateTimeField()
    parked_at = models.DateTimeField()

    class Meta:
        ordering = ["enqueued_at", "id"]
        verbose_name = "parked task job"
        # Counted on the Pipeline page, not an admin model of its own.
        default_permissions = ()

    def __str__(self) -> str:
        return f"{self.handler} (request {self.request_id}, parked)"


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
