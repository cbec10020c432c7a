"""Where a handler's job runs: inline in the request's thread, or in this process's
bounded pool. One runner per handler, chosen when the pipeline is built."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import Runner
from .inline import InlineRunner
from .process_pool import PoolRunner


def runner_for(thread_safe: bool, thread_pool: Mapping[str, Any]) -> Runner:
    """The runner of a handler: the pool unless it says ``THREAD_SAFE = False``."""
    if thread_safe:
        return PoolRunner(thread_pool)
    return InlineRunner()


__all__ = ["InlineRunner", "PoolRunner", "Runner", "runner_for"]
