"""Publishing this process's state to a cache every process shares.

A daemon thread, started by the first request (through the throttled switch check,
never in a ``gunicorn --preload`` master), writes this process's record every
``HOOKPIPE["CLUSTER"]["PUBLISH_EVERY"]`` seconds, and once more when the process exits.
Requests never wait for it: the record is taken from counters the requests already keep.

The store is Django's cache, with a fixed range of keys, one per process:
``<KEY_PREFIX>:slot:<n>`` for ``n`` below ``MAX_PROCESSES``. A process claims the first
free slot with the cache's atomic ``add`` and then rewrites it with its record (see
:func:`record`) at each publication; a slot whose process stopped publishing expires
(after twice ``DROP_AFTER``) and is free again. No key is shared by two writers, so
processes that publish at the same instant cannot lose each other's record, and a
reader finds every process with one ``get_many`` of ``MAX_PROCESSES`` keys (one
``MGET`` on Redis). A publication costs one ``get`` (is the slot still mine?) and one
``set``; claiming a slot, one ``add`` per slot tried.
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
#: What this process has to say (given by hookpipe.core, which this package must not
#: import): its plugins' counters, its pool, the plugins it switched off.
State = Callable[[], dict[str, Any]]
_source: State | None = None


#: This process's slot, once claimed.
_slot: int | None = None
_warned_full = False
#: Set by :func:`step_aside`: the publisher's last record says "exited".
_stepped_aside = False


def slot_keys(settings: Mapping[str, Any]) -> list[str]:
    """Every slot's key, in order: what a reader fetches."""
    return [f"{settings['KEY_PREFIX']}:slot:{n}" for n in range(settings["MAX_PROCESSES"])]


def _is_mine(value: Any, rec: Mapping[str, Any]) -> bool:
    return isinstance(value, dict) and all(
        value.get(k) == rec[k] for k in ("host", "pid", "started")
    )


def write(cache: Any, settings: Mapping[str, Any], rec: dict[str, Any]) -> int | None:
    """Write ``rec`` into its process's slot, claiming one first if it has none (or
    lost it); the slot, or ``None`` when every slot is taken."""
    global _slot, _warned_full
    keys = slot_keys(settings)
    keep = int(settings["DROP_AFTER"] * 2) + 1
    slot = _slot
    if slot is not None and slot < len(keys):
        current = cache.get(keys[slot])
        if current is None or _is_mine(current, rec):
            cache.set(keys[slot], rec, timeout=keep)
            return slot
    for n, key in enumerate(keys):  # claim the first free slot
        if cache.add(key, rec, timeout=keep):
            _slot = n
            return n
    if not _warned_full:
        _warned_full = True
        logger.warning(
            "hookpipe: process %s cannot publish its record: all %s slots of the fleet are "
            'taken (HOOKPIPE["CLUSTER"]["MAX_PROCESSES"])',
            rec.get("pid"),
            len(keys),
        )
    return None


def ensure_started(settings: Mapping[str, Any], source: State) -> None:
    """Start this process's publisher if it is not running (cheap when it is)."""
    global _thread, _settings, _source, _stepped_aside
    _source = source
    if not settings["ENABLED"] or (_running() and _settings is settings):
        return
    with _lock:
        if _running() and _settings is settings:
            return
        if _thread is not None:  # new settings (override_settings), or it stepped aside
            _stop.set()
            _thread.join(timeout=5)
            _stop.clear()
        _stepped_aside = False
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
            if _stepped_aside:
                publish(settings, exited=True)
                connections.close_all()
            return


def _running() -> bool:
    thread = _thread
    return thread is not None and thread.is_alive()


def step_aside() -> None:
    """This process forked while it published (a ``gunicorn --preload`` master that
    served requests before it forked its workers): its children serve now, each with a
    record of its own. Its publisher writes it once more, as exited, and stops; it
    starts again if this process serves another request. Called from the process's
    fork handler, so it only sets a flag and an event: the thread does the writing."""
    global _stepped_aside
    if _running():
        _stepped_aside = True
        _stop.set()


def publish(settings: Mapping[str, Any], exited: bool = False) -> bool:
    """Write this process's record into its slot; False (logged) if the cache failed."""
    from django.core.cache import caches

    host, pid = socket.gethostname(), os.getpid()
    now = time.time()
    try:
        write(caches[settings["CACHE"]], settings, record(host, pid, now, exited))
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
    global _slot, _warned_full, _stepped_aside
    _slot = None
    _warned_full = False
    _stepped_aside = False
    _lock = threading.Lock()
    _thread = None
    _settings = None
    _stop = threading.Event()
    _started_at = time.time()
    _exit_hook_registered = False
