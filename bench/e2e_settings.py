"""Settings of the end-to-end run (``bench/e2e.py``): the demo's, with one variant's
``MIDDLEWARE`` and ``HOOKPIPE``, chosen by the environment variable
``BENCH_E2E_VARIANT``:

* ``plain``: the demo's middleware without hookpipe, and no ``HOOKPIPE``;
* ``reference``: the demo's middleware, hookpipe last, and the reference pipeline of
  ``bench/run.py`` (variant C) in place of the demo's own;
* ``native``: the demo's middleware, then the same work as 10 plain middleware
  (``bench/run.py``'s variant D), no hookpipe;
* ``sleepy``: ``reference`` plus a thread-safe handler that sleeps 50 ms on every
  request, in a pool sized to keep up (``BENCH_E2E_POOL_WORKERS``, default 128 threads
  per process: at about 2000 requests/s per process, 50 ms per job keeps about 100
  busy; ``MAX_QUEUE`` 2000, ``ON_FULL`` ``"block"``).

Everything else (database, secret key, hosts) comes from the demo's settings and the
environment ``bench/e2e.py`` sets. The URLconf adds ``/bench/``, the page the load
generator asks for, to the demo's.
"""

import os

from bench import reference
from demo_project.settings import *  # noqa: F403
from demo_project.settings import MIDDLEWARE as DEMO_MIDDLEWARE

VARIANTS = ("plain", "native", "reference", "sleepy")
VARIANT = os.environ.get("BENCH_E2E_VARIANT", "reference")
if VARIANT not in VARIANTS:
    raise ValueError(f"BENCH_E2E_VARIANT must be one of {VARIANTS}, not {VARIANT!r}")

_HOOKPIPE_MW = "hookpipe.middleware.HookpipeMiddleware"
ROOT_URLCONF = "bench.e2e_urls"
MIDDLEWARE = [m for m in DEMO_MIDDLEWARE if m != _HOOKPIPE_MW]

if VARIANT in ("plain", "native"):
    del HOOKPIPE  # noqa: F821 - from the demo's settings; absent means "not used"
    if VARIANT == "native":
        MIDDLEWARE += reference.NATIVE
else:
    MIDDLEWARE.append(_HOOKPIPE_MW)
    HOOKPIPE = reference.pipeline()
    if os.environ.get("BENCH_E2E_QUIET_TIMERS"):
        # For counting instructions (bench/e2e.py --instructions): hookpipe's two timers,
        # the switch read and the fleet publication, would fire in one count and not in
        # the other. They still run once, when the pipeline is built.
        HOOKPIPE["SWITCHES"] = {"CHECK_EVERY": 1e9}
        HOOKPIPE["CLUSTER"] = {"PUBLISH_EVERY": 1e9}
    if VARIANT == "sleepy":
        HOOKPIPE["HANDLERS"] = [*HOOKPIPE["HANDLERS"], "bench.plugins.Sleeper"]
        HOOKPIPE["THREAD_POOL"] = {
            "MAX_WORKERS": int(os.environ.get("BENCH_E2E_POOL_WORKERS", "128")),
            "MAX_QUEUE": 2000,
            "ON_FULL": "block",
        }
