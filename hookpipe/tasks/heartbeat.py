"""Heartbeats: a task worker says that it is alive, so that a job it abandoned (killed,
its machine lost) runs again within seconds, and a job it runs for an hour is never
taken from it.

In a ``db_worker`` or ``rqworker`` process, a daemon thread, the worker's *heart*
(:func:`start_in_worker`), wakes every ``HOOKPIPE["TASK_RUNNER"]["HEARTBEAT_EVERY"]``
seconds, writes that its worker is alive, then sweeps: it hands back the jobs of
workers whose beat is older than ``HEARTBEAT_TIMEOUT``. A thread, because a worker
runs each task (``db_worker``) or waits for its work horse (``rqworker``) in its main
thread for as long as the task runs: beats written between tasks would stop during a
long one. A worker that stops cleanly deletes its beat; a killed one leaves it to go
stale, which is what the sweeps of the other workers look for.

- A ``db_worker``'s heart (:class:`DatabaseHeart`) writes its worker's row of
  :class:`~hookpipe.models.TaskWorker` and sweeps with :func:`.recovery.recover`. It
  learns the worker's id (the one the backend records in the tasks it claims) from the
  first task the worker starts (the task framework's ``task_started`` signal) and
  beats from then on; until then the worker holds no task, so its heart only sweeps.
- An ``rqworker``'s heart (:class:`RQHeart`) beats in Redis, beside the jobs, under
  the worker's host and pid (what RQ records of a worker), and sweeps with
  :func:`.rq.recover`. It never touches the database: RQ forks a work horse per job
  from the worker's main process, and a SQLite connection in use in the parent when
  it forks can lose the child's writes.
"""

from __future__ import annotations

import atexit
import datetime
import logging
import os
import socket
import threading
import time
from typing import Any

from django.apps import apps
from django.db import close_old_connections, connections
from django.utils import timezone

from .. import conf
from ..schema import db_error_text
from . import backends as compat
from . import recovery

logger = logging.getLogger("hookpipe")

#: Rows of workers not seen for this long are deleted by the sweeps: the admin lists
#: recently lost workers, not every worker that ever ran.
FORGET_WORKERS_AFTER = datetime.timedelta(days=1)


def beat(worker_id: str, backend: str, started_at: datetime.datetime) -> None:
    """Write that task worker ``worker_id`` of ``backend`` is alive now (its row made on
    the first beat, or taken over by a restarted worker that reuses the id)."""
    from ..models import TaskWorker

    TaskWorker.objects.update_or_create(
        worker_id=worker_id,
        defaults={
            "backend": backend,
            "host": socket.gethostname()[:255],
            "pid": os.getpid(),
            "started_at": started_at,
            "beat_at": timezone.now(),
        },
    )


class Heart:
    """A heartbeat thread: :meth:`beat` and :meth:`sweep` every ``HEARTBEAT_EVERY``
    seconds, :meth:`forget` when the process stops cleanly."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.stopping = threading.Event()
        #: The process that beats: a forked child inherits the heart and its exit
        #: handler, but the beat stays its parent's.
        self.pid = os.getpid()
        self.started_at = timezone.now()

    def beat(self) -> None:
        raise NotImplementedError

    def sweep(self) -> None:
        raise NotImplementedError

    def forget(self) -> None:
        """Delete this worker's beat."""
        raise NotImplementedError

    def start(self) -> None:
        """Start the thread, if it is not running."""
        with self.lock:
            if self.thread is not None and self.thread.is_alive():
                return
            self.stopping.clear()
            self.thread = threading.Thread(target=self._run, name="hookpipe-heartbeat", daemon=True)
            self.thread.start()

    def stop(self) -> None:
        """Stop the thread and delete this worker's beat: the process exits cleanly, its
        task ended, nothing of it is left to recover."""
        self.stopping.set()
        thread = self.thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)
        self.thread = None
        if self.pid == os.getpid():
            self.forget()

    def _run(self) -> None:
        # Started from AppConfig.ready(): the first round waits for the other apps.
        while not apps.ready:
            if self.stopping.wait(0.05):
                return
        while True:
            self._once()
            every = float(conf.get_config().task_runner["HEARTBEAT_EVERY"])
            if self.stopping.wait(every):
                return

    def _once(self) -> None:
        try:
            self.beat()
            self.sweep()
        except Exception as exc:
            # The worker goes on: a store that is down now may be back at the next beat.
            logger.warning("hookpipe: heartbeat and sweep failed: %s", db_error_text(exc))


class DatabaseHeart(Heart):
    """A ``db_worker``'s heart: its row of ``TaskWorker``, the database backends' sweep,
    and the backlog's log line."""

    def __init__(self) -> None:
        super().__init__()
        self.worker_id: str | None = None
        self.backend = ""
        #: When each backlogged (backend, queue) was last logged (time.monotonic()).
        self.backlog_logged: dict[tuple[str, str], float] = {}

    def know(self, worker_id: str, backend: str) -> None:
        """This process is task worker ``worker_id`` of ``backend``: beat now and from
        now on."""
        if worker_id == self.worker_id:
            return
        self.worker_id, self.backend, self.pid = worker_id, backend, os.getpid()
        try:
            beat(worker_id, backend, self.started_at)
        except Exception as exc:
            logger.warning(
                "hookpipe: task worker %s could not beat: %s", worker_id, db_error_text(exc)
            )
        self.start()

    def _run(self) -> None:
        try:
            super()._run()
        finally:
            connections.close_all()

    def _once(self) -> None:
        # A connection the database dropped (a restart) is replaced, not reused.
        close_old_connections()
        super()._once()

    def beat(self) -> None:
        if self.worker_id is not None:
            beat(self.worker_id, self.backend, self.started_at)

    def sweep(self) -> None:
        recovery.recover()
        self._forget_lost_workers()
        self._warn_about_backlog()

    def forget(self) -> None:
        if self.worker_id is None:
            return
        from ..models import TaskWorker

        try:
            TaskWorker.objects.filter(worker_id=self.worker_id).delete()
        except Exception as exc:
            logger.warning(
                "hookpipe: task worker %s left its row: %s", self.worker_id, db_error_text(exc)
            )
        self.worker_id = None

    def _warn_about_backlog(self) -> None:
        # Once per BACKLOG_AFTER per queue while the backlog lasts: workers that beat but
        # do not serve a queue (their --queue-name) or cannot keep up with it.
        limit = float(conf.get_config().task_runner["BACKLOG_AFTER"])
        now = time.monotonic()
        for alias, queue, waited in recovery.backlogged():
            if now - self.backlog_logged.get((alias, queue), -limit) < limit:
                continue
            self.backlog_logged[(alias, queue)] = now
            logger.warning(
                "hookpipe: queue %r of task backend %r: a task has waited %.0f s for a "
                "worker (TASK_RUNNER['BACKLOG_AFTER'] is %g s): no worker takes this "
                "queue's tasks (db_worker --queue-name), or too few do",
                queue,
                alias,
                waited,
                limit,
            )

    @staticmethod
    def _forget_lost_workers() -> None:
        from ..models import TaskWorker

        TaskWorker.objects.filter(beat_at__lt=timezone.now() - FORGET_WORKERS_AFTER).delete()


class RQHeart(Heart):
    """An ``rqworker``'s heart: its beat in Redis and RQ's sweep (:mod:`.rq`)."""

    def beat(self) -> None:
        from . import rq as task_rq

        task_rq.beat()

    def sweep(self) -> None:
        from . import rq as task_rq

        task_rq.recover()

    def forget(self) -> None:
        from . import rq as task_rq

        try:
            task_rq.forget_beat()
        except Exception as exc:
            logger.warning("hookpipe: this RQ worker left its beat: %s", exc)


#: The heart of this process's task worker (a db_worker's, beating from its first task).
HEART = DatabaseHeart()


def _task_started(sender: Any, task_result: Any, **kwargs: Any) -> None:
    """This worker claimed a task: the task records the worker's id."""
    worker_ids = getattr(task_result, "worker_ids", None)
    backend = getattr(task_result, "backend", "")
    if worker_ids and compat.is_database_backend(backend):
        HEART.know(worker_ids[-1], backend)


def start_in_worker(argv: list[str]) -> None:
    """In a ``db_worker`` process (``manage.py db_worker``, ``django-admin db_worker``),
    start its heart: it sweeps at once and beats from the worker's first task. In an
    ``rqworker`` process (django-rq's) of a project with an RQ task backend, start an
    RQ heart, beating and sweeping from the start. Other processes (web servers, tests
    that call the commands) run tasks without one."""
    if compat.task_started is None:
        return
    heart: Heart
    if argv[1:2] == ["db_worker"]:
        compat.task_started.connect(_task_started, dispatch_uid="hookpipe-heartbeat")
        heart = HEART
    elif argv[1:2] == ["rqworker"]:
        from . import rq as task_rq

        if not task_rq.rq_aliases():
            return
        heart = RQHeart()
    else:
        return
    heart.start()
    atexit.register(heart.stop)
