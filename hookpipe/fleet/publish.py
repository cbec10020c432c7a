"""Publishing this process's state to a cache every process shares.

A daemon thread, started by the first request (through the throttled switch check,
never in a ``gunicorn --preload`` master), writes this process's record every
``HOOKPIPE["CLUSTER"]["PUBLISH_EVERY"]`` seconds, and once more when the process exits.
Requests never wait for it: the record is taken from counters the requests already keep.

Two kinds of keys, under ``KEY_PREFIX``:

* ``<prefix>:proc:<host>:<pid>``: one process's record (see :func:`record`);
* ``<prefix>:index``: ``{record key: last seen}`` for every process, read-modify-written
  by each publisher. Django's cache has no atomic "add to a set", so two processes
  writing at the same instant can lose each other's entry; each writes its own again at
  its next publication, so a process is missing for one interval at most.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from ..exiting import call_at_exit

logger = logging.getLogger("hookpipe")

#: Version of the record's layout; a reader skips records of another version.
VERSION = 1

_lock = threading.Lock()
_thread: threading.Thread | None = None
_stop = threading.Event()
_started_at = time.time()
_exit_hook_registered = False
_settings: Mapping[str, Any] | None = None
#: What this process has to say (given by hookpipe.pipeline, which this package must not
#: import): its plugins' counters, its pool, the plugins it switched off.
State = Callable[[], dict[str, Any]]
_source: State | None = None


def index_key(settings: Mapping[str, Any]) -> str:
    return f"{settings['KEY_PREFIX']}:index"


def process_key(settings: Mapping[str, Any], host: str, pid: int) -> str:
    return f"{settings['KEY_PREFIX']}:proc:{host}:{pid}"


def ensure_started(settings: Mapping[str, Any], source: State) -> None:
    """Start this process's publisher if it is not running (cheap when it is)."""
    global _thread, _settings, _source
    _source = source
    if not settings["ENABLED"] or (_thread is not None and _settings is settings):
        return
    with _lock:
        if _thread is not None and _settings is settings:
            return
        if _thread is not None:  # new settings (override_settings): restart with them
            _stop.set()
            _thread.join(timeout=5)
            _stop.clear()
        _settings = settings
        _thread = threading.Thread(
            target=_run, args=(settings,), name="hookpipe-cluster", daemon=True
        )
        _thread.start()
        _register_exit_hook()


def _run(settings: Mapping[str, Any]) -> None:
    from django.db import connections

    every = settings["PUBLISH_EVERY"]
    while True:
        publish(settings)
        # The database cache opened a connection in this thread: do not hold it between
        # publications (connections are per thread, so this closes only this thread's).
        connections.close_all()
        if _stop.wait(every):
            return


def publish(settings: Mapping[str, Any], exited: bool = False) -> bool:
    """Write this process's record and its index entry; False (logged) if the cache failed."""
    from django.core.cache import caches

    host, pid = socket.gethostname(), os.getpid()
    now = time.time()
    try:
        cache = caches[settings["CACHE"]]
        key = process_key(settings, host, pid)
        keep = int(settings["DROP_AFTER"] * 2) + 1
        cache.set(key, record(host, pid, now, exited), timeout=keep)
        index = cache.get(index_key(settings)) or {}
        if not isinstance(index, dict):
            index = {}
        index = {k: seen for k, seen in index.items() if now - seen < settings["DROP_AFTER"]}
        index[key] = now
        cache.set(index_key(settings), index, timeout=keep)
        return True
    except Exception:
        logger.warning(
            "hookpipe: cannot publish the state of process %s to the cache %r",
            pid,
            settings["CACHE"],
            exc_info=True,
        )
        return False


def record(host: str, pid: int, now: float, exited: bool = False) -> dict[str, Any]:
    """This process's record: who it is, and what its source says (``plugins``: name ->
    ``{"kind", "counters"}``, ``pool``, ``switched_off``)."""
    source = _source
    state = source() if source is not None else {}
    return {
        **state,
        "version": VERSION,
        "host": host,
        "pid": pid,
        "started": _started_at,
        "last_seen": now,
        "exited": exited,
    }


def publish_final() -> None:
    """This process is exiting: stop the publisher and write the last record, marked
    ``exited`` (from threading's exit hook, and from ``hookpipe.gunicorn.worker_exit``)."""
    settings = _settings
    if settings is None:
        return
    _stop.set()
    publish(settings, exited=True)


_at_exit = publish_final


def _register_exit_hook() -> None:
    # As the handler pool does: before Python joins the threads at exit.
    global _exit_hook_registered
    if _exit_hook_registered:
        return
    _exit_hook_registered = True
    call_at_exit(_at_exit)


def stop() -> None:
    """Stop publishing (tests, and ``hookpipe.gunicorn.worker_exit`` after the last record)."""
    global _thread, _settings
    with _lock:
        thread, _thread, _settings = _thread, None, None
        _stop.set()
    if thread is not None:
        thread.join(timeout=5)
    _stop.clear()


def forget_after_fork() -> None:
    """A new process: no publisher thread (it did not survive the fork), a new start."""
    global _lock, _thread, _stop, _started_at, _settings, _exit_hook_registered
    _lock = threading.Lock()
    _thread = None
    _settings = None
    _stop = threading.Event()
    _started_at = time.time()
    _exit_hook_registered = False
