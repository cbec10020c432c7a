"""Where a handler's job runs: inline in the request's thread, in this process's
bounded pool, or as a task on a Django Tasks backend. One runner per handler, chosen
when the pipeline is built."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .base import Runner
from .choice import RunnerChoice, choose
from .inline import InlineRunner
from .process_pool import PoolRunner

if TYPE_CHECKING:
    from ..plugins.base import HandlerImplementation


#: Runners beyond ``"inline"`` and ``"pool"``, by the name a handler's ``RUNNER`` gives:
#: the extension point through which :mod:`hookpipe.tasks` adds ``"task"`` (it needs
#: Django's task framework, which the core does not).
EXTRA_RUNNERS: dict[str, Callable[..., Runner]] = {}


def runner_for(
    handler: HandlerImplementation,
    choice: RunnerChoice | None,
    thread_pool: Mapping[str, Any],
    task_runner: Mapping[str, Any],
) -> Runner:
    """The runner of ``handler``: as ``choice`` says (its ``RUNNER`` and its settings
    entry, see :mod:`hookpipe.jobs.choice`); without one, the pool unless the
    handler says ``THREAD_SAFE = False``."""
    if choice is None:  # an instance given without a settings entry: its class says
        choice = choose(type(handler).__name__, type(handler), None, []) or RunnerChoice(
            "pool" if handler.THREAD_SAFE else "inline"
        )
    extra = EXTRA_RUNNERS.get(choice.runner)
    if extra is not None:
        return extra(handler, choice, task_runner, thread_pool)
    if choice.runner == "pool":
        return PoolRunner(thread_pool)
    return InlineRunner()


__all__ = ["EXTRA_RUNNERS", "InlineRunner", "PoolRunner", "Runner", "RunnerChoice", "runner_for"]
