"""gunicorn server hooks that look after hookpipe's handler pool. In ``gunicorn.conf.py``::

    from hookpipe.gunicorn import post_fork, worker_exit  # noqa: F401

or call them from your own hooks of the same names.

* :func:`post_fork` makes sure a new worker starts with no pool and zeroed counters,
  whatever the master did (hookpipe does this by itself with ``os.register_at_fork``;
  calling it again is harmless and says so in the log).
* :func:`worker_exit` drains the worker's pool when the worker stops (SIGTERM, a reload,
  ``max_requests``): queued and running handler jobs get up to
  :data:`hookpipe.runners.process_pool.DRAIN_TIMEOUT` seconds, jobs still queued then
  are counted as rejected, and the final counters are logged. gunicorn calls it after the worker has
  finished its in-flight requests (up to ``graceful_timeout``) and before the process
  exits; keep ``DRAIN_TIMEOUT`` plus your slowest request below ``graceful_timeout``,
  or the master kills the worker first. Then it publishes the worker's last record
  to the fleet (:mod:`hookpipe.cluster`), marked as exited.

Importing this module does not import gunicorn.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from .cluster import publish as cluster_publish
from .runners import process_pool

logger = logging.getLogger("hookpipe")

#: If set in the environment, ``worker_exit`` also writes the final counters, as one
#: JSON line per worker, to the file this variable names (for tests and monitoring).
COUNTERS_FILE_VARIABLE = process_pool.COUNTERS_FILE_VARIABLE


def post_fork(server: Any, worker: Any) -> None:
    """gunicorn ``post_fork`` hook: the worker starts without its parent's pool."""
    inherited = process_pool.current_pool() is not None
    process_pool._after_fork_in_child()
    if inherited:
        _log(server, "hookpipe: worker %s dropped the thread pool it inherited", os.getpid())


def worker_exit(server: Any, worker: Any) -> None:
    """gunicorn ``worker_exit`` hook: drain the pool (bounded) and log the counters.

    gunicorn also calls this hook in the master for a worker that is already gone; then
    there is nothing of that worker's to drain here, and it does nothing.
    """
    if getattr(worker, "pid", os.getpid()) != os.getpid():
        return
    if process_pool.current_pool() is None:
        cluster_publish.publish_final()
        return
    final = process_pool.shutdown(process_pool.DRAIN_TIMEOUT)
    _log(server, "hookpipe: worker %s drained its thread pool: %s", os.getpid(), final)
    # After the drain, so that the fleet's totals include the jobs it finished.
    cluster_publish.publish_final()
    process_pool.write_counters_file(final)


def _log(server: Any, message: str, *args: Any) -> None:
    log = getattr(server, "log", None)
    if log is not None:
        log.info(message, *args)
    else:
        logger.info(message, *args)
