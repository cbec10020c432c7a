"""Where a handler's job runs: inline in the request's thread, in this process's
bounded pool, or as a task on a Django Tasks backend. One runner per handler, chosen
when the pipeline is built."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .base import Runner
from .choice import RunnerChoice
from .inline import InlineRunner
from .process_pool import PoolRunner
from .task import TaskRunner

if TYPE_CHECKING:
    from ..plugins.base import HandlerImplementation


def runner_for(
    handler: HandlerImplementation,
    choice: RunnerChoice | None,
    thread_pool: Mapping[str, Any],
    task_runner: Mapping[str, Any],
) -> Runner:
    """The runner of ``handler``: as ``choice`` says (its ``RUNNER`` and its settings
    entry, see :mod:`hookpipe.runners.choice`); without one, the pool unless the
    handler says ``THREAD_SAFE = False``."""
    if choice is None:
        choice = RunnerChoice("pool" if handler.THREAD_SAFE else "inline")
    if choice.runner == "task":
        return TaskRunner(handler, choice, task_runner, thread_pool)
    if choice.runner == "pool":
        return PoolRunner(thread_pool)
    return InlineRunner()


__all__ = ["InlineRunner", "PoolRunner", "Runner", "RunnerChoice", "TaskRunner", "runner_for"]
