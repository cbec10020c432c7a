"""gunicorn settings for the demo: ``gunicorn -c demo_project/gunicorn.conf.py``.

Environment: ``DEMO_BIND`` (default ``127.0.0.1:8000``), ``DEMO_WORKERS`` (2) and
``DEMO_THREADS`` (4). Command-line options win over this file.
"""

import os
from pathlib import Path

# hookpipe's server hooks: a worker drains its handler pool when it stops (bounded by
# hookpipe.jobs.process_pool.DRAIN_TIMEOUT, 10 s, inside graceful_timeout below) and logs the
# final counters; a new worker starts with no pool of its parent's.
from hookpipe import worker_exit  # noqa: F401

wsgi_app = "demo_project.wsgi:application"
# Import the project from the repository whatever the current directory is.
chdir = str(Path(__file__).resolve().parent.parent)

bind = [os.environ.get("DEMO_BIND", "127.0.0.1:8000")]
# Threads: a slow or streamed response holds one thread, not a whole worker process.
worker_class = "gthread"
workers = int(os.environ.get("DEMO_WORKERS", "2"))
threads = int(os.environ.get("DEMO_THREADS", "4"))

# A gthread worker keeps notifying the master while its threads stream, so "timeout"
# only catches a worker whose main loop is stuck; it does not cut long responses.
timeout = 60
# On SIGTERM (and on reload), responses still in flight get this long to finish; then
# worker_exit drains the handler pool (up to 10 s) before the worker exits.
graceful_timeout = 20
keepalive = 5

accesslog = "-"
errorlog = "-"
loglevel = "info"
proc_name = "hookpipe-demo"
# gunicorn 25.1+ opens a control socket for "gunicornc" at one fixed path per user
# ($XDG_RUNTIME_DIR or ~/.gunicorn); two demos (or a demo and the tests) would fight
# over it. Older gunicorn versions ignore this name.
control_socket_disable = True
