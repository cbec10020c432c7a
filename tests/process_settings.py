"""The settings of the tests whose requests, task workers and commands are processes of
their own (tests/test_pause_race.py, tests/test_heartbeat_fork.py): the test settings on
the database ``DATABASE_URL`` names (a SQLite file or PostgreSQL, which they all share),
with one task handler of tests/testapp/plugins.py, ``HOOKPIPE_TEST_HANDLER``, writing
what it does to the file ``HOOKPIPE_TEST_LOG``, and heartbeats every 0.3 s."""

from __future__ import annotations

import os

import environ

from tests.settings import *  # noqa: F403

DATABASES = {"default": environ.Env.db_url_config(os.environ["DATABASE_URL"])}
HOOKPIPE = {
    "HANDLERS": [f"tests.testapp.plugins.{os.environ['HOOKPIPE_TEST_HANDLER']}"],
    "TASK_RUNNER": {"HEARTBEAT_EVERY": 0.3},
}
