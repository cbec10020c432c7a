"""The throttled check: how every process learns of a switch without a query per request.

The process asks :func:`due` on each request (one float comparison). Only when that
time has come does it call :func:`poll`, which reads the switch table (one query), at
most once per ``HOOKPIPE["SWITCHES"]["CHECK_EVERY"]`` seconds per process, whichever
thread gets there first; other threads carry on with the pipeline they have. When the
set of disabled names differs from the one the pipeline was built with, the process
rebuilds it without those plugins.

So a switch reaches a process that serves requests within ``CHECK_EVERY`` seconds (plus
the time its next request takes to arrive); an idle process applies it on its next
request. A database that cannot be read leaves the last known set in force, and is
tried again after ``CHECK_EVERY`` seconds; the failure is logged once, not per try.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time

logger = logging.getLogger("hookpipe")

#: ``time.monotonic()`` at or after which the next request polls. 0: poll now.
next_at: float = 0.0
_disabled: frozenset[str] = frozenset()
_lock = threading.Lock()
_failing = False


def due() -> bool:
    """Whether the next :func:`poll` is due (asked on every request: one comparison)."""
    return time.monotonic() >= next_at


def disabled() -> frozenset[str]:
    """The names this process last read as switched off."""
    return _disabled


def poll(interval: float) -> bool:
    """Read the switch table if it is time to; True when the disabled set changed."""
    global next_at, _disabled, _failing
    if not _lock.acquire(blocking=False):
        return False  # another thread is reading it right now
    try:
        now = time.monotonic()
        if now < next_at:
            return False
        # Set first: a slow or failing database costs one request per interval, not all.
        next_at = now + interval
        from . import store  # the models need the app registry; the pipeline does not

        try:
            names = store.disabled_names()
        except Exception as exc:  # no table yet, database down, no access in this thread
            if not _failing:
                logger.warning(
                    "hookpipe: cannot read the plugin switches (%s: %s); keeping %s "
                    "and trying again every %g s (pid %s)",
                    type(exc).__name__,
                    exc,
                    sorted(_disabled) or "every plugin enabled",
                    interval,
                    os.getpid(),
                )
            _failing = True
            return False
        if _failing:
            logger.info("hookpipe: the plugin switches can be read again (pid %s)", os.getpid())
        _failing = False
        if names == _disabled:
            return False
        logger.info(
            "hookpipe: plugins switched off in process %s: %s",
            os.getpid(),
            ", ".join(sorted(names)) or "none",
        )
        _disabled = names
        return True
    finally:
        _lock.release()


def expire() -> None:
    """Make the next request poll (after this process switched a plugin itself)."""
    global next_at
    next_at = 0.0


def park() -> None:
    """Never poll until :func:`reset` (the test suite, for tests without a database)."""
    global next_at
    next_at = math.inf


def reset() -> None:
    """Forget what was read: the next request polls (a new process, a test)."""
    global next_at, _disabled, _failing, _lock
    next_at = 0.0
    _disabled = frozenset()
    _failing = False
    _lock = threading.Lock()


def forget_after_fork() -> None:
    # A new worker polls on its first request. It keeps the set it inherited, which is
    # the one any pipeline it inherited was built with.
    global next_at, _lock
    next_at = 0.0
    _lock = threading.Lock()
