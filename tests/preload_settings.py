"""The demo's settings plus a tween that records in which process things happen.

Used by ``tests/test_demo.py`` to prove that under ``gunicorn --preload`` the master
process imports Django but never calls a tween factory. When the environment variable
``HOOKPIPE_TEST_PID_LOG`` names a file, one line is appended to it:

* ``settings <pid> <ppid>`` when this module is imported (the master, with --preload);
* ``factory <pid> <ppid>`` each time :func:`pid_recorder` is called, that is, each time
  a process builds its pipeline.

Its tween sets ``X-Worker-Pid`` and ``X-Worker-Parent`` on every response.
"""

from __future__ import annotations

import os
from typing import Any

from django.http import HttpRequest, HttpResponseBase

from demo_project.settings import *  # noqa: F403
from demo_project.settings import HOOKPIPE as DEMO_HOOKPIPE

PID_LOG = os.environ.get("HOOKPIPE_TEST_PID_LOG", "")


def _record(event: str) -> None:
    if PID_LOG:
        with open(PID_LOG, "a", encoding="ascii") as log:
            log.write(f"{event} {os.getpid()} {os.getppid()}\n")


def pid_recorder(handler: Any, registry: Any) -> Any:
    _record("factory")

    def pid_tween(request: HttpRequest) -> HttpResponseBase:
        response: HttpResponseBase = handler(request)
        response.headers["X-Worker-Pid"] = str(os.getpid())
        response.headers["X-Worker-Parent"] = str(os.getppid())
        return response

    return pid_tween


HOOKPIPE = {
    **DEMO_HOOKPIPE,
    "TWEENS": [
        # Outermost, so that even a response api-key turns away carries the pids.
        {"factory": "tests.preload_settings.pid_recorder", "over": "demo_project.tweens.timing"},
        *DEMO_HOOKPIPE["TWEENS"],
    ],
}

_record("settings")
