"""Run a command, and start it again whenever it exits, until told to stop.

``make demo`` runs its task worker under this: ``db_worker`` exits when it loses its
database (a SQLite lock held past the busy timeout, a PostgreSQL restart) and ``rqworker``
when Redis restarts. Nothing stored is lost then, but nothing runs until a worker is
back. A production setup gets the same from its process manager (systemd's
``Restart=always``, a platform's restart policy): see docs/durable.rst, "Running the
workers".

Usage: ``python demo_project/keep_running.py COMMAND [ARG...]``. SIGTERM or SIGINT is
passed on to the command (its own session, so a Ctrl-C reaches it once, from here), and
this process exits with the command's exit status once it has stopped.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from types import FrameType

#: Seconds between an exit and the next start: a command that cannot start (its
#: database is still down) is retried at this pace, not in a tight loop.
RESTART_AFTER = 2.0


def keep_running(argv: list[str]) -> int:
    stopping = threading.Event()
    child: subprocess.Popen[bytes] | None = None

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while True:
        child = subprocess.Popen(argv, start_new_session=True)
        if stopping.is_set():  # told to stop while the command was starting
            child.send_signal(signal.SIGTERM)
        code = child.wait()
        if stopping.is_set():
            return code
        print(
            f"keep_running: {' '.join(argv)} exited with status {code}; "
            f"starting it again in {RESTART_AFTER:g} s",
            file=sys.stderr,
            flush=True,
        )
        if stopping.wait(RESTART_AFTER):
            return code


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    sys.exit(keep_running(sys.argv[1:]))
