"""The switches as the admin page and ``manage.py hookpipe`` show them."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ..schema import db_error_text
from . import switchable

if TYPE_CHECKING:
    from ..core.build import Pipeline
    from ..core.plan import Plan

logger = logging.getLogger("hookpipe")


def listing(built_plan: Plan, pipeline: Pipeline) -> dict[str, Any]:
    """Every switchable plugin: stored state, state in this process, last change."""
    from . import store

    error = None
    try:
        states = store.states()
    except Exception as exc:  # no table yet (not migrated), or no database here
        states = {}
        error = db_error_text(exc)
    locked = set(built_plan.config.switches["LOCKED"])
    plugins = []
    for name, kind in switchable.switchable(built_plan).items():
        state = states.get(name)
        plugins.append(
            {
                "name": name,
                "kind": kind,
                "enabled": state.enabled if state is not None else True,
                "enabled_here": name not in pipeline.switched_off,
                "switchable": name not in locked,
                "changed_by": state.changed_by if state is not None else None,
                "changed_at": (
                    state.changed_at.isoformat(timespec="seconds") if state is not None else None
                ),
            }
        )
    return {
        "check_every_s": built_plan.config.switches["CHECK_EVERY"],
        "locked": sorted(locked),
        "plugins": plugins,
        "error": error,
    }
