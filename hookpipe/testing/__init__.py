"""Helpers for testing your handlers and responders (public, like ``hookpipe``).

* :func:`build_plugin`: a plugin instance with a subconfig, checked and cast as
  ``HOOKPIPE["PLUGINS"]`` would be (a wrong value raises the check's message);
* :func:`snapshot_of`: the :class:`~hookpipe.RequestSnapshot` a pool handler would get
  for a request (from Django's ``RequestFactory``);
* :func:`run_handlers`: the handlers a request would meet, run now, in the test's
  thread, whatever their runner, with their :class:`Jobs`;
* :class:`PluginTester`: all of that plus a request builder and ``HOOKPIPE`` for one
  test; the ``hookpipe_tester`` pytest fixture (installed with hookpipe) gives one.

``docs/testing.rst`` ("Testing your plugins") shows them at work.
"""

from .build import PluginConfigError, build_plugin
from .jobs import Job, Jobs, run_handlers, snapshot_of
from .tester import PluginTester

__all__ = [
    "Job",
    "Jobs",
    "PluginConfigError",
    "PluginTester",
    "build_plugin",
    "run_handlers",
    "snapshot_of",
]
