"""The ``task`` runner: a handler's job stored on a Django Tasks backend once the
request's outcome is known.

For each matching request :meth:`TaskRunner.submit` turns the snapshot into its JSON
form; one over ``MAX_SNAPSHOT_BYTES`` is refused: counted (``too_large``), logged, and
the request answered 413, so the sender knows it was not stored. Otherwise the job
waits for the request's outcome (:meth:`~hookpipe.RequestContext.when_answered`), and
:meth:`TaskRunner._settle` then:

0. with an idempotency key (:mod:`.keys`), a delivery whose key is stored already
   gets no job at all: ``request.hookpipe.job(name)`` is ``"duplicate"``;
1. stores nothing when the request failed (final status 400 or more, or something
   raised): the writes that went with it were rolled back (``ATOMIC_REQUESTS``,
   ``TransactionHook`` and atomic tweens have all closed by then); a handler with
   ``TASK_STORE_ON = "any"`` is stored whatever the outcome;
2. enqueues :data:`hookpipe.tasks.worker.run_handler` with the handler's name, its class
   and the snapshot, on the handler's backend, queue and priority; inside a transaction
   opened above hookpipe's middleware, on that transaction's commit;
3. when the backend cannot store it (database or broker down), ``ON_ENQUEUE_ERROR``
   decides, logged and counted (``enqueue_failed``): ``"503"`` answers 503 with
   ``Retry-After`` instead of the view's response, ``"pool"`` runs the job in this
   process's thread pool instead (``fell_back``: not durable, but not refused). After a
   commit nothing can be answered or raised any more: the failure is logged and counted.

What became of the job is in ``request.hookpipe`` (:meth:`~hookpipe.RequestContext.job`).
The counters are this process's (forked children start from zero).
"""

from __future__ import annotations

import functools
import json
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Final

from django.db import DatabaseError, transaction
from django.http import HttpResponse, HttpResponseBase

from ..core import process
from ..hooks.redaction import is_secret, scrub_text
from ..jobs import EXTRA_RUNNERS
from ..jobs.choice import RunnerChoice
from ..jobs.process_pool import get_pool
from ..plugins.base import HandlerImplementation
from ..schema import db_error_text
from . import keys, pause, worker
from .backends import backend_class_path
from .recovery import backend_view

if TYPE_CHECKING:
    from ..context import RequestContext
    from ..plugins.snapshot import RequestSnapshot
    from ..tracing.tasks import TaskTracing

logger = logging.getLogger("hookpipe")

#: Seconds a 503 asks the sender to wait before retrying.
RETRY_AFTER = 5


class SnapshotTooLarge(ValueError):
    """The snapshot's JSON form is over the bound; ``size`` and ``limit`` in bytes."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"the request's snapshot is {size} bytes as JSON, over {limit}")
        self.size = size
        self.limit = limit


def at_rest(snapshot: RequestSnapshot, keep: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The snapshot's wire form as a stored job keeps it: without the headers and query
    parameters whose names look secret (``Cookie``, ``Authorization``, signatures,
    tokens, API keys; :func:`~hookpipe.hooks.redaction.is_secret`), except those named
    in ``keep`` (lower case). A job row outlives the request, is shown by the engine's
    own admin and backed up with the database: a session id or a credential has no
    business there, and the signature was verified before the job was stored."""
    form = snapshot.to_wire()
    for part in ("headers", "query"):
        form[part] = [
            pair for pair in form[part] if pair[0].lower() in keep or not is_secret(pair[0])
        ]
    form["full_path"] = scrub_text(form["full_path"])
    return form


def dumps(
    snapshot: RequestSnapshot, limit: int, keep: frozenset[str] = frozenset()
) -> tuple[dict[str, Any], int]:
    """The snapshot's stored form (:func:`at_rest`) and its size;
    :class:`SnapshotTooLarge` over ``limit``."""
    form = at_rest(snapshot, keep)
    size = len(json.dumps(form, separators=(",", ":")))
    if size > limit:
        raise SnapshotTooLarge(size, limit)
    return form, size


@dataclass
class _Counts:
    enqueued: int = 0
    #: not stored because the request failed (final status 400 or more, or an error)
    not_stored: int = 0
    enqueue_failed: int = 0
    fell_back: int = 0
    too_large: int = 0
    #: deliveries whose idempotency key was stored already: no job
    duplicates: int = 0


class TaskCounters:
    """Per-handler task counters for one process, under one lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, _Counts] = {}

    def add(self, name: str, what: str, n: int = 1) -> None:
        with self._lock:
            counts = self._counts.setdefault(name, _Counts())
            setattr(counts, what, getattr(counts, what) + n)

    def snapshot(self, name: str) -> dict[str, int]:
        with self._lock:
            counts = self._counts.get(name) or _Counts()
            return {f.name: getattr(counts, f.name) for f in fields(counts)}


_counters = TaskCounters()


def counters() -> TaskCounters:
    return _counters


def reset_counters() -> None:
    """Start counting from zero (a forked child; tests)."""
    global _counters
    _counters = TaskCounters()


process.FORGET_AFTER_FORK.append(reset_counters)


class TaskRunner:
    """Runs one handler's jobs as tasks (one per handler, chosen at build time)."""

    kind: Final = "task"
    wants_snapshot: Final = True
    #: Set when the pipeline is built with task spans (``HOOKPIPE["TRACING"]``): the
    #: job is then stored in a span whose trace context it carries to the worker.
    tracing: TaskTracing | None = None

    def __init__(
        self,
        handler: HandlerImplementation,
        choice: RunnerChoice,
        settings: Mapping[str, Any],
        thread_pool: Mapping[str, Any],
    ) -> None:
        self.handler = handler
        self.choice = choice
        self.limit = int(settings["MAX_SNAPSHOT_BYTES"])
        self.on_error = str(settings["ON_ENQUEUE_ERROR"])
        self._thread_pool = thread_pool
        self._class_path = f"{type(handler).__module__}.{type(handler).__qualname__}"
        self._task: Any = None
        #: False: the job is stored only when the request succeeds (DESIGN.md).
        self.store_any_outcome = choice.store_on == "any"
        #: Whether deliveries have idempotency keys: a header, or the handler's own
        #: idempotency_key().
        self.has_keys = keys.has_own_key(handler) or choice.idempotency_key is not None
        self.keep = float(settings["IDEMPOTENCY_KEEP"])
        self._purger = keys.Purger(handler.name)

    def describe(self) -> dict[str, Any]:
        return {
            "runner": self.kind,
            "task": {
                "backend": self.choice.backend,
                "backend_class": backend_class_path(self.choice.backend),
                "queue_name": self.choice.queue_name,
                "priority": self.choice.priority,
                "counters": _counters.snapshot(self.handler.name),
                "backend_view": backend_view(self.choice.backend),
                "pause": pause.view(self.handler.name),
            },
        }

    def submit(
        self, handler: HandlerImplementation, subject: Any, content: bytes, context: RequestContext
    ) -> HttpResponse | None:
        """Take the job for storing once the request's outcome is known (see
        :meth:`_settle`); a response means: answer the request with it instead (413),
        the job will not be stored."""
        snapshot: RequestSnapshot = subject.get()  # a PendingSnapshot: made here, now
        name = self.handler.name
        try:
            payload, _ = dumps(snapshot, self.limit, self.choice.keep_headers)
        except SnapshotTooLarge as exc:
            _counters.add(name, "too_large")
            context.set_job(name, "refused")
            logger.warning(
                "hookpipe: handler %r job refused: %s bytes "
                "(HOOKPIPE['TASK_RUNNER']['MAX_SNAPSHOT_BYTES']); answered 413 (request %s)",
                name,
                exc,
                snapshot.request_id,
                extra={"request_id": snapshot.request_id},
            )
            return HttpResponse(
                f"Request too large to be stored for handler {name!r}: {exc.size} bytes as "
                f"a task, over {exc.limit}.\n",
                status=413,
                content_type="text/plain; charset=utf-8",
            )
        key = self._key_of(snapshot) if self.has_keys else None
        if key is not None and self._seen(key, snapshot.request_id):
            _counters.add(name, "duplicates")
            context.set_job(name, "duplicate")
            return None
        context.set_job(name, "pending")
        args = (name, self._class_path, payload)
        # The trace the job belongs to is the request's, taken now: it may be stored
        # after the request's span ended (on a commit).
        parent = None if self.tracing is None else self.tracing.capture()
        context.when_answered(functools.partial(self._settle, context, snapshot, args, parent, key))
        return None

    def _key_of(self, snapshot: RequestSnapshot) -> str | None:
        """This delivery's idempotency key, or None (no key: stored as any other)."""
        try:
            return keys.key_of(self.handler, self.choice.idempotency_key, snapshot)
        except Exception:
            # The delivery is stored without a key (at least once, as before) rather
            # than refused for a bug in the handler's idempotency_key().
            logger.exception(
                "hookpipe: handler %r: idempotency_key() raised; stored without a key (request %s)",
                self.handler.name,
                snapshot.request_id,
            )
            return None

    def _seen(self, key: str, request_id: str) -> bool:
        """Whether the key is stored already; a store that cannot be read is left to
        the claim, when the job is stored (which then answers 503 if it fails too)."""
        try:
            found = keys.seen(self.handler.name, key, self.keep)
        except DatabaseError as exc:
            logger.warning(
                "hookpipe: handler %r: cannot read the idempotency keys (%s); the key is "
                "checked again when the job is stored (request %s)",
                self.handler.name,
                db_error_text(exc),
                request_id,
            )
            return False
        if found:
            logger.info(
                "hookpipe: handler %r: delivery %r was stored already; not stored again "
                "(request %s)",
                self.handler.name,
                key,
                request_id,
            )
        return found

    def _settle(
        self,
        context: RequestContext,
        snapshot: RequestSnapshot,
        args: tuple[Any, ...],
        parent: Any,
        key: str | None,
        response: HttpResponseBase,
        succeeded: bool,
    ) -> HttpResponse | None:
        """The request has its final response, and every transaction the pipeline
        opened (``ATOMIC_REQUESTS``, ``TransactionHook``, an atomic tween) is closed.

        A request that failed stores nothing (unless the handler asks for any outcome),
        since the writes that went with it were rolled back. Inside a transaction
        opened above hookpipe, the job is stored when that one commits."""
        name = self.handler.name
        if not succeeded and not self.store_any_outcome:
            _counters.add(name, "not_stored")
            context.set_job(name, "not_stored")
            return None
        if transaction.get_connection().in_atomic_block:
            context.set_job(name, "on_commit")
            transaction.on_commit(
                functools.partial(self._after_commit, snapshot, args, parent, key), robust=True
            )
            return None
        outcome, answer = self._enqueue(snapshot, args, parent, key, committed=False)
        context.set_job(name, outcome)
        return answer

    def _after_commit(
        self, snapshot: RequestSnapshot, args: tuple[Any, ...], parent: Any, key: str | None
    ) -> None:
        # Django runs this after the commit, where nothing may raise any more: a
        # failure is logged and counted by _failed, never raised.
        self._enqueue(snapshot, args, parent, key, committed=True)

    def _enqueue(
        self,
        snapshot: RequestSnapshot,
        args: tuple[Any, ...],
        parent: Any,
        key: str | None,
        *,
        committed: bool,
    ) -> tuple[str, HttpResponse | None]:
        """Store the job: ``("stored", None)``, ``("duplicate", None)`` when its key was
        claimed meanwhile, else what :meth:`_failed` made of it."""
        name = self.handler.name
        try:
            if key is None:
                self._store(args, parent)
            else:
                # The key and the job commit together (the database engine on the same
                # database) or not at all: a job that could not be stored leaves no key
                # that would turn the sender's retry into a "duplicate". A broker has the
                # job before the key commits; its worker asks whose key it is (keys.held).
                with transaction.atomic(using=keys.database()):
                    if not keys.claimed(name, key, snapshot.request_id, self.keep):
                        _counters.add(name, "duplicates")
                        return "duplicate", None
                    self._store(args, parent)
                self._purger.maybe(self.keep)
        except Exception as exc:
            return self._failed(snapshot, exc, committed)
        _counters.add(name, "enqueued")
        return "stored", None

    def _store(self, args: tuple[Any, ...], parent: Any) -> None:
        """Enqueue the job on the handler's backend; raises what the backend raises."""
        if self._task is None:
            self._task = worker.base_task().using(
                backend=self.choice.backend,
                queue_name=self.choice.queue_name,
                priority=self.choice.priority,
            )
        if self.tracing is None:
            self._task.enqueue(*args)
        else:
            self.tracing.store(self._task.enqueue, args, parent, self.choice.backend)

    def _failed(
        self, snapshot: RequestSnapshot, exc: Exception, committed: bool
    ) -> tuple[str, HttpResponse | None]:
        """The backend did not store the job: ``("fell_back", None)`` when it runs in the
        pool instead, else ``("failed", 503)``, or no answer after a commit."""
        name = self.handler.name
        rid = snapshot.request_id
        _counters.add(name, "enqueue_failed")
        action = {
            "pool": "running it in this process's pool instead",
            "503": "lost: the transaction had committed" if committed else "answering 503",
        }[self.on_error]
        logger.error(
            "hookpipe: handler %r job could not be stored on task backend %r: %s; "
            "%s (ON_ENQUEUE_ERROR=%r, request %s)",
            name,
            self.choice.backend,
            db_error_text(exc),
            action,
            self.on_error,
            rid,
            exc_info=exc,
            extra={"request_id": rid},
        )
        if self.on_error == "pool":
            _counters.add(name, "fell_back")
            get_pool(self._thread_pool).submit(
                name,
                functools.partial(self.handler.handle, snapshot, snapshot.content),
                request_id=rid,
            )
            return "fell_back", None
        if committed:
            return "failed", None  # logged and counted above; nothing raises after a commit
        response = HttpResponse(
            f"Service unavailable: the job for handler {name!r} could not be stored; "
            "retry later.\n",
            status=503,
            content_type="text/plain; charset=utf-8",
        )
        response["Retry-After"] = str(RETRY_AFTER)
        return "failed", response


EXTRA_RUNNERS["task"] = TaskRunner
