"""gunicorn server hooks that look after hookpipe's handler pool. In ``gunicorn.conf.py``::

    from hookpipe import worker_exit  # noqa: F401

or call it from your own hook of the same name. (A new worker needs no hook: the
process's fork handler gives it its own pipeline, pool and counters, whatever the
master did.)

* :func:`worker_exit` drains the worker's pool when the worker stops (SIGTERM, a reload,
  ``max_requests``): queued and running handler jobs get up to
  :data:`hookpipe.jobs.process_pool.DRAIN_TIMEOUT` seconds, jobs still queued then
  are counted as rejected, and the final counters are logged. gunicorn calls it after the worker has
  finished its in-flight requests (up to ``graceful_timeout``) and before the process
  exits; keep ``DRAIN_TIMEOUT`` plus your slowest request below ``graceful_timeout``,
  or the master kills the worker first. Then, with the fleet app, it publishes the
  worker's last record, marked as exited.

Importing this module does not import gunicorn.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from ..core import process
from ..jobs import process_pool

logger = logging.getLogger("hookpipe")

#: If set in the environment, ``worker_exit`` also writes the final counters, as one
#: JSON line per worker, to the file this variable names (for tests and monitoring).
COUNTERS_FILE_VARIABLE = process_pool.COUNTERS_FILE_VARIABLE


def worker_exit(server: Any, worker: Any) -> None:
    """gunicorn ``worker_exit`` hook: drain the pool (bounded) and log the counters.

    gunicorn also calls this hook in the master for a worker that is already gone; then
    there is nothing of that worker's to drain here, and it does nothing.
    """
    if getattr(worker, "pid", os.getpid()) != os.getpid():
        return
    if process_pool.current_pool() is None:
        process.exiting()
        return
    final = process_pool.shutdown(process_pool.DRAIN_TIMEOUT)
    _log(server, "hookpipe: worker %s drained its thread pool: %s", os.getpid(), final)
    # After the drain, so that the fleet's totals include the jobs it finished.
    process.exiting()
    process_pool.write_counters_file(final)


def _log(server: Any, message: str, *args: Any) -> None:
    log = getattr(server, "log", None)
    if log is not None:
        log.info(message, *args)
    else:
        logger.info(message, *args)
