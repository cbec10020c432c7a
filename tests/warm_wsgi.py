"""The demo's WSGI application, after the master served requests: for ``gunicorn
--preload``, where this module is imported in the master before it forks.

Some projects warm up that way (a health check, a cache primed through a view). The
master then has a built pipeline, counters and, with the fleet app, a publisher; each
worker forked from it must start with its own (``tests/test_fleet_seams.py``).
"""

from __future__ import annotations

import os

from django.test import Client

from demo_project.wsgi import application

#: Requests the master answers before it forks.
WARM_UP = int(os.environ.get("HOOKPIPE_TEST_WARM_UP", "3"))

client = Client(HTTP_HOST="localhost")
for _ in range(WARM_UP):
    assert client.get("/events/clock/?n=1&interval=0").status_code == 200

__all__ = ["application"]
