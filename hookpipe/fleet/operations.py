"""What the fleet app plugs into a serving process (:class:`hookpipe.core.process.Operations`).

On a request whose time has come (at most once per ``SWITCHES["CHECK_EVERY"]``
seconds, :mod:`.watch`), the request's thread reads the switch table and makes sure
this process publishes its record (:mod:`.publish`); the pipeline is rebuilt when the
set of plugins switched off changed. Without this app in ``INSTALLED_APPS`` none of
it happens: the core does no I/O of its own.
"""

from __future__ import annotations

import math
from typing import Any

from .. import conf, durations
from ..core import process
from ..exiting import call_at_exit
from ..jobs import process_pool
from .publish import Publisher
from .watch import SwitchWatch


class FleetOperations:
    """Switches and published records for one process (see the module's docstring):
    it owns this process's :class:`SwitchWatch` and :class:`Publisher`, and the
    process (:data:`hookpipe.core.process.PROCESS`) owns it."""

    def __init__(self) -> None:
        self.watch = SwitchWatch()
        self.publisher = Publisher(self.published_state)
        #: The plugins' counters this process last published, by name.
        self._last_published: dict[str, Any] = {}
        self._published_config: Any = None
        #: When a read last warned of records it skipped (``time.monotonic()``).
        self.unreadable_warned_at = -math.inf
        self._exit_hook = False

    def due(self) -> bool:
        return self.watch.due()

    def refresh(self) -> None:
        self.watch.poll(conf.get_config().switches["CHECK_EVERY"])

    def serving(self) -> None:
        self.publisher.ensure_started(conf.get_config().cluster)
        if not self._exit_hook:
            # Before Python joins the threads at exit, as the handler pool does; it
            # calls the publisher of the process that exits (a child's, after a fork).
            self._exit_hook = True
            call_at_exit(self.exiting)

    def switched_off(self, config: conf.Config) -> frozenset[str]:
        """Disabled and not locked."""
        return self.watch.disabled - frozenset(config.switches["LOCKED"])

    def after_fork_in_child(self) -> None:
        self.watch = self.watch.after_fork()
        self.publisher = Publisher(self.published_state)
        self._last_published = {}

    def after_fork_in_parent(self) -> None:
        # A process that forks while it publishes hands the serving to its children
        # (gunicorn --preload after a warm-up): it is listed as exited, not as live.
        self.publisher.step_aside()

    def exiting(self) -> None:
        self.publisher.publish_final()

    def published_state(self) -> dict[str, Any]:
        """What the publisher sends of this process (its own thread calls this)."""
        built = process.current_pipeline()
        plugins: dict[str, Any] = {}
        if built is not None and built.plugins is not None:
            described = built.plugins.describe()
            for kind in ("handlers", "responders"):
                for item in described[kind]:
                    counters = dict(item["counters"])
                    task = item.get("task")
                    if isinstance(task, dict) and isinstance(task.get("counters"), dict):
                        counters["task"] = task["counters"]  # a handler run as a task
                    plugins[item["name"]] = {"kind": kind[:-1], "counters": counters}
        # A plugin switched off keeps its counts in the fleet's totals: the last ones this
        # process published for it (they do not move while it is off). A new HOOKPIPE
        # (override_settings) starts afresh.
        if built is not None and built.config is not self._published_config:
            self._published_config = built.config
            self._last_published = {}
        for name, last in self._last_published.items():
            plugins.setdefault(name, last)
        self._last_published.update(plugins)
        pool = process_pool.current_pool()
        return {
            "switched_off": sorted(built.switched_off) if built is not None else [],
            "plugins": plugins,
            "pool": pool.state() if pool is not None else None,
            # METRICS["DURATIONS"]'s histograms (empty when off): buckets add up across the
            # fleet, as counters do.
            "durations": durations.store().snapshot(),
        }


def current() -> FleetOperations:
    """This process's fleet operations (the fleet app plugged them in when it was ready)."""
    operations = process.operations()
    if not isinstance(operations, FleetOperations):
        raise LookupError('the fleet app is not installed: add "hookpipe.fleet" to INSTALLED_APPS')
    return operations
