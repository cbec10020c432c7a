"""The demo's settings, plus a crash: the first time a webhook event is stored (the
first process to create the file ``CRASH_MARKER``), the process SIGKILLs itself right
after the row is committed, before the task worker can mark the task done. A task
worker run with these settings dies the way a worker does when a machine is lost
between the work and its bookkeeping, so the task is run again after recovery and the
delivery is stored twice: the at-least-once path (tests/test_kill_runs.py)."""

import os
import signal
from typing import Any

from django.db.models.signals import post_save

from demo_project.settings import *  # noqa: F403

CRASH_MARKER = os.environ["CRASH_MARKER"]


def _crash_once(sender: Any, **kwargs: Any) -> None:
    try:
        fd = os.open(CRASH_MARKER, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return  # crashed once already: this run completes
    os.close(fd)
    os.kill(os.getpid(), signal.SIGKILL)


# A lazy sender ("app_label.Model"): the app registry is not ready while settings load.
post_save.connect(_crash_once, sender="events.Event", weak=False)
