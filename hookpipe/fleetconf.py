"""The fleet settings, ``HOOKPIPE["SWITCHES"]``, ``["CLUSTER"]`` and ``["METRICS"]``, normalised.

Kept apart from :mod:`hookpipe.conf` (which calls :func:`switches`, :func:`cluster` and
:func:`metrics`)
because they concern operating many processes, not the shape of the pipeline. Like the
rest of the setting, nothing here raises: each problem goes to an ``error(kind, msg,
hint)`` callback, ``kind`` being ``"unknown"`` (a key) or ``"value"``, which
:mod:`hookpipe.conf` turns into its check messages.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from .confhelp import type_name, unknown_key_hint

SWITCHES_DEFAULTS: Mapping[str, Any] = MappingProxyType(
    {
        # Seconds between two reads of the switch table by one process: the bound on
        # how long a switch takes to reach a process that is serving requests.
        "CHECK_EVERY": 10.0,
        # Names of plugins that cannot be switched off at run time.
        "LOCKED": (),
    }
)
CLUSTER_DEFAULTS: Mapping[str, Any] = MappingProxyType(
    {
        # False: this process neither publishes its state nor reads the fleet's.
        "ENABLED": True,
        # The alias in CACHES that every process of the fleet shares.
        "CACHE": "default",
        # Seconds between two publications of one process's state.
        "PUBLISH_EVERY": 5.0,
        # A process not seen for this long is shown greyed out ...
        "STALE_AFTER": 15.0,
        # ... and after this long it is dropped (and left out of the totals).
        "DROP_AFTER": 60.0,
        # Prefix of every cache key hookpipe writes.
        "KEY_PREFIX": "hookpipe:cluster",
        # Processes the fleet can list at once: one cache key (a slot) each, and a read
        # fetches them all in one get_many.
        "MAX_PROCESSES": 256,
    }
)

METRICS_DEFAULTS: Mapping[str, Any] = MappingProxyType(
    {
        # True: the pipeline is built with each tween, hook, responder and MAIN timed,
        # and handler jobs' durations are kept in buckets too (hookpipe.durations).
        "DURATIONS": False,
        # A scraper that cannot log in sends "Authorization: Bearer <token>"; empty: only
        # users with hookpipe.view_pipeline (the Pipeline page's permission) may read.
        "BEARER_TOKEN": "",
    }
)

Error = Callable[[str, str, str | None], None]


def switches(raw: Any, error: Error) -> Mapping[str, Any]:
    """``HOOKPIPE["SWITCHES"]`` with defaults filled in."""
    values = _merge("SWITCHES", raw, SWITCHES_DEFAULTS, error)
    _positive("SWITCHES", "CHECK_EVERY", values, error)
    locked = values["LOCKED"]
    if not isinstance(locked, list | tuple) or not all(isinstance(x, str) for x in locked):
        error(
            "value",
            f'HOOKPIPE["SWITCHES"]["LOCKED"] must be a list of plugin names, not {locked!r}.',
            None,
        )
        values["LOCKED"] = ()
    else:
        values["LOCKED"] = tuple(locked)
    return MappingProxyType(values)


def cluster(raw: Any, error: Error) -> Mapping[str, Any]:
    """``HOOKPIPE["CLUSTER"]`` with defaults filled in."""
    values = _merge("CLUSTER", raw, CLUSTER_DEFAULTS, error)
    for key in ("PUBLISH_EVERY", "STALE_AFTER", "DROP_AFTER"):
        _positive("CLUSTER", key, values, error)
    slots = values["MAX_PROCESSES"]
    if isinstance(slots, bool) or not isinstance(slots, int) or not 1 <= slots <= 10_000:
        error(
            "value",
            f'HOOKPIPE["CLUSTER"]["MAX_PROCESSES"] must be an integer from 1 to 10000, '
            f"not {slots!r}.",
            None,
        )
        values["MAX_PROCESSES"] = CLUSTER_DEFAULTS["MAX_PROCESSES"]
    for key in ("CACHE", "KEY_PREFIX"):
        if not isinstance(values[key], str) or not values[key]:
            error(
                "value",
                f'HOOKPIPE["CLUSTER"]["{key}"] must be a non-empty string, not {values[key]!r}.',
                None,
            )
            values[key] = CLUSTER_DEFAULTS[key]
    if not isinstance(values["ENABLED"], bool):
        error(
            "value",
            f'HOOKPIPE["CLUSTER"]["ENABLED"] must be True or False, not {values["ENABLED"]!r}.',
            None,
        )
        values["ENABLED"] = True
    if values["DROP_AFTER"] < values["STALE_AFTER"]:
        error(
            "value",
            'HOOKPIPE["CLUSTER"]["DROP_AFTER"] must not be less than "STALE_AFTER".',
            "A process is first greyed out, then dropped.",
        )
    return MappingProxyType(values)


def metrics(raw: Any, error: Error) -> Mapping[str, Any]:
    """``HOOKPIPE["METRICS"]`` with defaults filled in."""
    values = _merge("METRICS", raw, METRICS_DEFAULTS, error)
    if not isinstance(values["DURATIONS"], bool):
        error(
            "value",
            f'HOOKPIPE["METRICS"]["DURATIONS"] must be True or False, not {values["DURATIONS"]!r}.',
            "Timing every plugin is opt in: DURATIONS = True.",
        )
        values["DURATIONS"] = False
    if not isinstance(values["BEARER_TOKEN"], str):
        error(
            "value",
            'HOOKPIPE["METRICS"]["BEARER_TOKEN"] must be a string, not '
            f"{type_name(values['BEARER_TOKEN'])}.",
            "Read it from the environment, e.g. env.str('METRICS_TOKEN', default='').",
        )
        values["BEARER_TOKEN"] = ""
    return MappingProxyType(values)


def _merge(key: str, raw: Any, defaults: Mapping[str, Any], error: Error) -> dict[str, Any]:
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        error("value", f'HOOKPIPE["{key}"] must be a dict, not {type_name(raw)}.', None)
        raw = {}
    for name in raw:
        if name not in defaults:
            error(
                "unknown",
                f'HOOKPIPE["{key}"] has an unknown key {name!r}.',
                unknown_key_hint(key, name, defaults),
            )
    return {**defaults, **{k: v for k, v in raw.items() if k in defaults}}


def _positive(key: str, name: str, values: dict[str, Any], error: Error) -> None:
    value = values[name]
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        error(
            "value",
            f'HOOKPIPE["{key}"]["{name}"] must be a number of seconds > 0, not {value!r}.',
            None,
        )
        values[name] = (SWITCHES_DEFAULTS if key == "SWITCHES" else CLUSTER_DEFAULTS)[name]
    else:
        values[name] = float(value)
