"""Publishing this process's state to a cache every process shares.

A daemon thread, started by the first request (through the throttled switch check,
never in a ``gunicorn --preload`` master), writes this process's record every
``HOOKPIPE["CLUSTER"]["PUBLISH_EVERY"]`` seconds, and once more when the process exits.
Requests never wait for it: the record is taken from counters the requests already keep.

The store is Django's cache, with a fixed range of keys, one per process:
``<KEY_PREFIX>:slot:<n>`` for ``n`` below ``MAX_PROCESSES``. A process claims the first
free slot with the cache's atomic ``add`` and then rewrites it with its record (see
:meth:`Publisher.record`) at each publication; a slot whose process stopped publishing expires
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

logger = logging.getLogger("hookpipe")

#: Version of the record's layout; a reader skips records of another version.
VERSION = 1

#: What this process has to say (the fleet's operations give it): its plugins'
#: counters, its pool, the plugins it switched off.
State = Callable[[], dict[str, Any]]


def slot_keys(settings: Mapping[str, Any]) -> list[str]:
    """Every slot's key, in order: what a reader fetches."""
    return [f"{settings['KEY_PREFIX']}:slot:{n}" for n in range(settings["MAX_PROCESSES"])]


def _is_mine(value: Any, rec: Mapping[str, Any]) -> bool:
    return isinstance(value, dict) and all(
        value.get(k) == rec[k] for k in ("host", "pid", "started")
    )


class Publisher:
    """This process's publisher: its thread, its slot, what it publishes.

    One per process, owned by the fleet's operations (which a forked child replaces
    with a new one: the thread did not survive the fork)."""

    def __init__(self, source: State | None = None) -> None:
        self.source = source
        self.started_at = time.time()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._settings: Mapping[str, Any] | None = None
        #: This process's slot, once claimed.
        self.slot: int | None = None
        self._warned_full = False
        #: Set by :meth:`step_aside`: the last record says "exited".
        self._stepped_aside = False

    @property
    def running(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    def ensure_started(self, settings: Mapping[str, Any]) -> None:
        """Start publishing if this process does not (cheap when it does)."""
        if not settings["ENABLED"] or (self.running and self._settings is settings):
            return
        with self._lock:
            if self.running and self._settings is settings:
                return
            if self._thread is not None:  # new settings (override_settings), or it stepped aside
                self._stop.set()
                self._thread.join(timeout=5)
                self._stop.clear()
            self._stepped_aside = False
            self._settings = settings
            self._thread = threading.Thread(
                target=self._run, args=(settings,), name="hookpipe-cluster", daemon=True
            )
            self._thread.start()

    def _run(self, settings: Mapping[str, Any]) -> None:
        from django.db import connections

        every = settings["PUBLISH_EVERY"]
        while True:
            self.publish(settings)
            # The database cache opened a connection in this thread: do not hold it
            # between publications (connections are per thread: this closes only ours).
            connections.close_all()
            if self._stop.wait(every):
                if self._stepped_aside:
                    self.publish(settings, exited=True)
                    connections.close_all()
                return

    def step_aside(self) -> None:
        """This process forked while it published (a ``gunicorn --preload`` master that
        served requests before it forked its workers): its children serve now, each with
        a record of its own. The thread writes this process once more, as exited, and
        stops; it starts again if this process serves another request. Called from the
        process's fork handler, so it only sets a flag and an event."""
        if self.running:
            self._stepped_aside = True
            self._stop.set()

    def publish(self, settings: Mapping[str, Any], exited: bool = False) -> bool:
        """Write this process's record into its slot; False (logged) if the cache failed."""
        from django.core.cache import caches

        host, pid = socket.gethostname(), os.getpid()
        try:
            self.write(caches[settings["CACHE"]], settings, self.record(host, pid, exited))
            return True
        except Exception:
            logger.warning(
                "hookpipe: cannot publish the state of process %s to the cache %r",
                pid,
                settings["CACHE"],
                exc_info=True,
            )
            return False

    def record(self, host: str, pid: int, exited: bool = False) -> dict[str, Any]:
        """This process's record: who it is, and what its source says (``plugins``:
        name -> ``{"kind", "counters"}``, ``pool``, ``switched_off``)."""
        state = self.source() if self.source is not None else {}
        return {
            **state,
            "version": VERSION,
            "host": host,
            "pid": pid,
            "started": self.started_at,
            "last_seen": time.time(),
            "exited": exited,
        }

    def write(self, cache: Any, settings: Mapping[str, Any], rec: dict[str, Any]) -> int | None:
        """Write ``rec`` into this process's slot, claiming one first if it has none (or
        lost it); the slot, or ``None`` when every slot is taken."""
        keys = slot_keys(settings)
        keep = int(settings["DROP_AFTER"] * 2) + 1
        slot = self.slot
        if slot is not None and slot < len(keys):
            current = cache.get(keys[slot])
            if current is None or _is_mine(current, rec):
                cache.set(keys[slot], rec, timeout=keep)
                return slot
        for n, key in enumerate(keys):  # claim the first free slot
            if cache.add(key, rec, timeout=keep):
                self.slot = n
                return n
        if not self._warned_full:
            self._warned_full = True
            logger.warning(
                "hookpipe: process %s cannot publish its record: all %s slots of the fleet "
                'are taken (HOOKPIPE["CLUSTER"]["MAX_PROCESSES"])',
                rec.get("pid"),
                len(keys),
            )
        return None

    def publish_final(self) -> None:
        """This process is exiting: stop publishing and write the last record, marked
        ``exited``."""
        settings = self._settings
        if settings is None:
            return
        self._stop.set()
        self.publish(settings, exited=True)

    def stop(self) -> None:
        """Stop publishing (tests; the last record is :meth:`publish_final`'s)."""
        with self._lock:
            thread, self._thread, self._settings = self._thread, None, None
            self._stop.set()
        if thread is not None:
            thread.join(timeout=5)
        self._stop.clear()
