"""The throttled check: how every process learns of a switch without a query per request.

The process asks :meth:`SwitchWatch.due` on each request (one float comparison). Only when that
time has come does it call :meth:`SwitchWatch.poll`, which reads the switch table (one query), at
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

from ..schema import db_error_text

logger = logging.getLogger("hookpipe")


class SwitchWatch:
    """What this process last read of the switches, and when it reads them next.

    One per process, owned by the fleet's operations. A forked child gets a new one
    (:meth:`after_fork`) that polls on its first request and keeps the set it
    inherited, the one any pipeline it inherited was built with."""

    def __init__(self, disabled: frozenset[str] = frozenset()) -> None:
        #: ``time.monotonic()`` at or after which the next request polls. 0: poll now.
        self.next_at = 0.0
        self.disabled = disabled
        self._failing = False
        self._lock = threading.Lock()

    def after_fork(self) -> SwitchWatch:
        return SwitchWatch(self.disabled)

    def due(self) -> bool:
        """Whether the next :meth:`poll` is due (asked on every request: one comparison)."""
        return time.monotonic() >= self.next_at

    def poll(self, interval: float) -> bool:
        """Read the switch table if it is time to; True when the disabled set changed."""
        if not self._lock.acquire(blocking=False):
            return False  # another thread is reading it right now
        try:
            now = time.monotonic()
            if now < self.next_at:
                return False
            # Set first: a slow or failing database costs one request per interval.
            self.next_at = now + interval
            from . import store  # the models need the app registry; the core does not

            try:
                names = store.disabled_names()
            except Exception as exc:  # no table yet, database down, no access here
                if not self._failing:
                    logger.warning(
                        "hookpipe: cannot read the plugin switches (%s); keeping %s "
                        "and trying again every %g s (pid %s)",
                        db_error_text(exc),
                        sorted(self.disabled) or "every plugin enabled",
                        interval,
                        os.getpid(),
                    )
                self._failing = True
                return False
            if self._failing:
                logger.info("hookpipe: the plugin switches can be read again (pid %s)", os.getpid())
            self._failing = False
            if names == self.disabled:
                return False
            logger.info(
                "hookpipe: plugins switched off in process %s: %s",
                os.getpid(),
                ", ".join(sorted(names)) or "none",
            )
            self.disabled = names
            return True
        finally:
            self._lock.release()

    def expire(self) -> None:
        """Make the next request poll (after this process switched a plugin itself)."""
        self.next_at = 0.0

    def park(self) -> None:
        """Never poll until :meth:`reset` (the test suite, for tests without a database)."""
        self.next_at = math.inf

    def reset(self) -> None:
        """Forget what was read: the next request polls (a test)."""
        self.next_at = 0.0
        self.disabled = frozenset()
        self._failing = False
