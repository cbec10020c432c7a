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
  a duplicate;
* with a broker (RQ, Celery), the job is on the broker before the key's transaction
  commits: a web process killed in between leaves a job whose key rolled back, and a
  later copy of the delivery claims the key and is stored too. So the task worker asks
  again before it runs such a job (:func:`held`): it runs only the copy that holds
  the key, claiming it if no copy does.
"""

from __future__ import annotations

import datetime
import hashlib
import sqlite3
import time
from typing import Any, Final

from django.db import IntegrityError, connections, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
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


def has_own_key(handler: Any) -> bool:
    """Whether ``handler`` defines ``idempotency_key()`` (over the header setting)."""
    from ..plugins.base import HandlerImplementation

    return type(handler).idempotency_key is not HandlerImplementation.idempotency_key


def key_of(handler: Any, header: str | None, snapshot: Any) -> str | None:
    """The idempotency key of the delivery ``snapshot`` for ``handler``: its own
    ``idempotency_key()`` if it has one, else the request header ``header``; None when
    the delivery has none. Raises what ``idempotency_key()`` raises."""
    if has_own_key(handler):
        key = handler.idempotency_key(snapshot, snapshot.content)
    else:
        key = snapshot.headers.get(header or "")
    if key is not None and not isinstance(key, str):
        key = str(key)
    return key or None


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
    cutoff = now - datetime.timedelta(seconds=keep)
    connection = connections[alias]
    if _has_upsert(connection):
        return _upserted(connection, (handler, form, request_id, now), cutoff)
    DeliveryKey.objects.using(alias).filter(
        handler=handler, key=form, stored_at__lt=cutoff
    ).delete()
    try:
        with transaction.atomic(using=alias):  # a savepoint: the caller's goes on
            DeliveryKey.objects.using(alias).create(
                handler=handler, key=form, request_id=request_id, stored_at=now
            )
    except IntegrityError:
        return False
    return True


def held(handler: str, key: str, request_id: str, keep: float) -> bool:
    """Whether the delivery ``request_id`` holds ``key`` of ``handler``: the key's row
    names it, or no delivery held the key in the last ``keep`` seconds and it now does.
    Waits for a transaction that is storing the key (the unique constraint), so a job
    that reaches its worker before its web process committed is not taken for a copy."""
    alias = database()
    with transaction.atomic(using=alias):
        if claimed(handler, key, request_id, keep):
            return True
        holder = (
            DeliveryKey.objects.using(alias)
            .filter(handler=handler, key=stored_form(key))
            .values_list("request_id", flat=True)
            .first()
        )
    return holder == request_id


def _has_upsert(connection: BaseDatabaseWrapper) -> bool:
    """Whether the database can insert a key, or take over an expired one, and say which
    it did, in one statement (``ON CONFLICT ... DO UPDATE ... WHERE ... RETURNING``):
    PostgreSQL, and SQLite from 3.35."""
    if connection.vendor == "postgresql":
        return True
    return connection.vendor == "sqlite" and sqlite3.sqlite_version_info >= (3, 35)


def _upserted(
    connection: BaseDatabaseWrapper,
    row: tuple[str, str, str, datetime.datetime],
    cutoff: datetime.datetime,
) -> bool:
    # One round trip instead of four (delete the expired key, a savepoint, the insert,
    # its release): bench/RESULTS.md, "Durable handlers, second part".
    quote = connection.ops.quote_name
    table = quote(DeliveryKey._meta.db_table)
    handler, key, request_id, stored_at = (quote(column) for column in _COLUMNS)
    sql = (
        f"INSERT INTO {table} ({handler}, {key}, {request_id}, {stored_at}) "
        f"VALUES (%s, %s, %s, %s) ON CONFLICT ({handler}, {key}) DO UPDATE SET "
        f"{request_id} = excluded.{request_id}, {stored_at} = excluded.{stored_at} "
        f"WHERE {table}.{stored_at} < %s RETURNING {quote('id')}"
    )
    field = DeliveryKey._meta.get_field("stored_at")
    values = [*row[:3], field.get_db_prep_value(row[3], connection)]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*values, field.get_db_prep_value(cutoff, connection)])
        return cursor.fetchone() is not None


#: DeliveryKey's columns, as its fields are named (none sets ``db_column``).
_COLUMNS: Final = ("handler", "key", "request_id", "stored_at")


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
