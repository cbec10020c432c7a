"""Work a process does as it exits, before Python waits for its threads.

At exit Python joins every non-daemon thread, with no time limit, and only then runs
``atexit`` handlers. threading's own exit hooks run before that join: work registered
there (draining the handler pool, publishing the last counters) runs with a bound of
its own while the process can still do it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable


def call_at_exit(fn: Callable[[], None]) -> None:
    """Call ``fn`` once when the interpreter exits, before it joins the threads
    (``atexit`` where CPython's ``threading._register_atexit`` is missing)."""
    register: Callable[[Callable[[], None]], object] | None = getattr(
        threading, "_register_atexit", None
    )
    if register is None:  # pragma: no cover - CPython 3.9+ has it
        import atexit

        atexit.register(fn)
        return
    with contextlib.suppress(RuntimeError):  # the interpreter is already exiting
        register(fn)
