"""Idempotency keys: a task handler's delivery stored once, however often it is sent.

Senders redeliver: on a timeout, on a 5xx, by hand. A redelivery is a new request with
a new request id, but it carries the key the sender gave the delivery (Standard
Webhooks' ``webhook-id``, GitHub's ``X-GitHub-Delivery``, a Stripe event's id). The
keys stored with the jobs are rows of :class:`~hookpipe.models.DeliveryKey`, in the
database Django's router gives that model, kept ``TASK_RUNNER["IDEMPOTENCY_KEEP"]``
seconds:

* when the handler takes the request, :func:`seen` tells whether the key is stored
  already, so that the view can answer the duplicate (``request.hookpipe.job(name)``
  is ``"duplicate"``) and no job is made;
* when the job is stored, :func:`claimed` inserts the key in the same transaction as
  the job (with the database engine; with a broker, just before the job is pushed, and
  rolled back if the push fails). Two copies that both passed :func:`seen` at the same
  moment meet at the table's unique constraint: one job is stored, the other copy is
  a duplicate.
"""

from __future__ import annotations

import datetime
import hashlib
import time
from typing import Final

from django.db import IntegrityError, router, transaction
from django.utils import timezone

from ..models import DeliveryKey

#: The longest key stored as it is; a longer one is stored as its SHA-256.
MAX_KEY_LENGTH: Final = 255
#: Seconds between two purges of expired keys by one runner.
PURGE_EVERY: Final = 600.0


def stored_form(key: str) -> str:
    """``key`` as the table holds it: itself, or its hash when it is too long."""
    if len(key) <= MAX_KEY_LENGTH:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def database() -> str:
    """The database alias the keys live in."""
    return router.db_for_write(DeliveryKey) or "default"


def seen(handler: str, key: str, keep: float) -> bool:
    """Whether ``handler`` stored a delivery with ``key`` in the last ``keep`` seconds."""
    since = timezone.now() - datetime.timedelta(seconds=keep)
    return (
        DeliveryKey.objects.using(database())
        .filter(handler=handler, key=stored_form(key), stored_at__gte=since)
        .exists()
    )


def claimed(handler: str, key: str, request_id: str, keep: float) -> bool:
    """Insert the key, inside the caller's transaction (on :func:`database`): False when
    a delivery with it was stored in the last ``keep`` seconds (the copy is a duplicate).

    A key kept past ``keep`` is taken over by the new delivery."""
    alias = database()
    now = timezone.now()
    form = stored_form(key)
    expired = DeliveryKey.objects.using(alias).filter(
        handler=handler, key=form, stored_at__lt=now - datetime.timedelta(seconds=keep)
    )
    expired.delete()
    try:
        with transaction.atomic(using=alias):  # a savepoint: the caller's goes on
            DeliveryKey.objects.using(alias).create(
                handler=handler, key=form, request_id=request_id, stored_at=now
            )
    except IntegrityError:
        return False
    return True


class Purger:
    """Deletes one handler's expired keys, at most once per :data:`PURGE_EVERY`."""

    def __init__(self, handler: str) -> None:
        self.handler = handler
        self._last = 0.0

    def maybe(self, keep: float) -> None:
        now = time.monotonic()
        if now - self._last < PURGE_EVERY:
            return
        self._last = now
        since = timezone.now() - datetime.timedelta(seconds=keep)
        DeliveryKey.objects.using(database()).filter(
            handler=self.handler, stored_at__lt=since
        ).delete()
