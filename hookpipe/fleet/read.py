"""Reading the fleet: every process's last record, and the counters summed over them.

A process last seen more than ``STALE_AFTER`` seconds ago is ``"stale"`` (shown greyed
out); after ``DROP_AFTER`` seconds it is left out altogether. One that published its
record at exit is ``"exited"`` until it is dropped. The totals sum the counters of every
process listed (live, stale or exited), so that a worker that just stopped does not take
its requests out of the totals at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from . import operations
from .publish import VERSION, slot_keys

logger = logging.getLogger("hookpipe")

#: Seconds between two warnings about unreadable records (see :func:`_warn_skipped`).
WARN_EVERY = 60.0

#: Cache backends that are private to one process: the page says so instead of
#: pretending to show a fleet.
PER_PROCESS_BACKENDS = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)
#: Shared by the processes of one machine only.
PER_MACHINE_BACKENDS = ("django.core.cache.backends.filebased.FileBasedCache",)


def read(settings: Mapping[str, Any], now: float | None = None) -> dict[str, Any]:
    """The fleet as ``manage.py hookpipe --json`` prints it under ``"cluster"``."""
    from django.core.cache import caches

    if now is None:
        now = time.time()
    alias = settings["CACHE"]
    out: dict[str, Any] = {
        "enabled": bool(settings["ENABLED"]),
        "cache": alias,
        "backend": None,
        "scope": None,
        "publish_every_s": settings["PUBLISH_EVERY"],
        "stale_after_s": settings["STALE_AFTER"],
        "drop_after_s": settings["DROP_AFTER"],
        "processes": [],
        "totals": {},
        "error": None,
    }
    try:
        cache = caches[alias]
        backend = f"{type(cache).__module__}.{type(cache).__qualname__}"
        out["backend"] = backend
        out["scope"] = (
            "process"
            if backend in PER_PROCESS_BACKENDS
            else "machine"
            if backend in PER_MACHINE_BACKENDS
            else "shared"
        )
        records = cache.get_many(slot_keys(settings))
    except Exception as exc:
        out["error"] = f"{type(exc).__name__}: {exc}"
        return out
    processes = []
    skipped = []
    for key, rec in records.items():
        try:
            process = _process(rec, now, settings)
        except (AttributeError, KeyError, TypeError, ValueError, OverflowError, OSError) as exc:
            skipped.append(f"{key}: {type(exc).__name__}: {exc}")
            continue
        if process is not None:
            processes.append(process)
    if skipped:
        _warn_skipped(skipped)
    processes.sort(key=lambda p: (p["host"], p["pid"]))
    out["processes"] = processes
    out["totals"] = totals(p["counters"] for p in processes)
    out["durations"] = duration_totals(p["durations"] for p in processes)
    return out


def _process(rec: Any, now: float, settings: Mapping[str, Any]) -> dict[str, Any] | None:
    """One slot's record as the fleet lists it; ``None`` for a record of another
    version or one dropped for age. A record that is not what a publisher writes (the
    cache is shared: another program, a bug, a hand edit) raises, and is skipped."""
    if not isinstance(rec, dict):
        raise TypeError(f"a record is a dict, not {type(rec).__name__}")
    if rec.get("version") != VERSION:
        return None
    last_seen = _number(rec["last_seen"])
    age = now - last_seen
    if age >= settings["DROP_AFTER"]:
        return None
    state = "live" if age < settings["STALE_AFTER"] else "stale"
    if rec.get("exited") is True:
        state = "exited"
    plugins = _mapping(rec.get("plugins") or {})
    pool = rec.get("pool")
    return {
        "host": _text(rec["host"]),
        "pid": _integer(rec["pid"]),
        "state": state,
        "started": _iso(_number(rec["started"])),
        "last_seen": _iso(last_seen),
        "seen_ago_s": round(max(age, 0.0), 1),
        "switched_off": [_text(name) for name in rec.get("switched_off") or []],
        "pool": None if pool is None else _counters(pool),
        "counters": {
            _text(name): _counters(_mapping(plugin).get("counters") or {})
            for name, plugin in plugins.items()
        },
        "durations": {
            _text(key): _series(one) for key, one in _mapping(rec.get("durations") or {}).items()
        },
    }


def _mapping(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError(f"expected a dict, not {type(value).__name__}")
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, not {type(value).__name__}")
    return value


def _integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an integer, not {value!r}")
    return value


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise TypeError(f"expected a number, not {value!r}")
    return float(value)


def _counters(values: Any, depth: int = 0) -> dict[str, Any]:
    """Counters as a publisher writes them: names to numbers, ``None`` (a percentile
    of an empty window), text, or one more level of the same (``task``, ``duration_ms``)."""
    out: dict[str, Any] = {}
    for key, value in _mapping(values).items():
        if isinstance(value, dict) and depth == 0:
            out[_text(key)] = _counters(value, depth + 1)
        elif value is None or isinstance(value, str | int | float):
            out[_text(key)] = value
        else:
            raise TypeError(f"counter {key!r} is {type(value).__name__}")
    return out


def _series(one: Any) -> dict[str, Any]:
    one = _mapping(one)
    buckets = {_text(le): _integer(n) for le, n in _mapping(one["buckets"]).items()}
    return {
        "kind": _text(one["kind"]),
        "plugin": _text(one["plugin"]),
        "phase": _text(one["phase"]),
        "buckets": buckets,
        "sum": _number(one["sum"]),
        "count": _integer(one["count"]),
    }


def _warn_skipped(skipped: list[str]) -> None:
    """One warning for the records a read skipped, at most every :data:`WARN_EVERY`
    seconds per process: the admin page and every scrape read the fleet."""
    fleet_operations = operations.current()  # the one owner of the fleet's process state
    now = time.monotonic()
    if now - fleet_operations.unreadable_warned_at < WARN_EVERY:
        return
    fleet_operations.unreadable_warned_at = now
    logger.warning(
        "hookpipe: skipped %s unreadable record(s) in the fleet's cache, e.g. %s "
        "(said at most every %g s)",
        len(skipped),
        skipped[0],
        WARN_EVERY,
    )


def duration_totals(per_process: Any) -> dict[str, dict[str, Any]]:
    """Duration histograms (:mod:`hookpipe.durations`) summed over processes: every
    process has the same buckets, so counts add bucket by bucket, and so do sums."""
    out: dict[str, dict[str, Any]] = {}
    for series in per_process:
        for key, one in series.items():
            into = out.get(key)
            if into is None:
                out[key] = {**one, "buckets": dict(one["buckets"])}
                continue
            if list(into["buckets"]) != list(one["buckets"]):
                continue  # another version's buckets: cannot be added
            for le, n in one["buckets"].items():
                into["buckets"][le] += n
            into["sum"] += one["sum"]
            into["count"] += one["count"]
    return out


def totals(per_process: Any) -> dict[str, dict[str, Any]]:
    """Counters by plugin name summed over processes, with the same keys.

    Integers add up. Percentiles cannot be added: ``duration_ms`` takes the largest
    ``p50``, ``p95`` and ``max`` of any process (the worst one) and adds the windows.
    """
    out: dict[str, dict[str, Any]] = {}
    for counters in per_process:
        for name, values in counters.items():
            out[name] = _merge(out.get(name), values)
    return out


def _merge(into: Any, value: Any) -> Any:
    if into is None:
        return _copy(value)
    if isinstance(value, Mapping) and isinstance(into, dict):
        for key, item in value.items():
            if key in ("p50", "p95", "max"):
                into[key] = _largest(into.get(key), item)
            else:
                into[key] = _merge(into.get(key), item)
        return into
    if isinstance(value, int) and isinstance(into, int) and not isinstance(value, bool):
        return into + value
    return into


def _largest(a: Any, b: Any) -> Any:
    numbers = [x for x in (a, b) if isinstance(x, int | float)]
    return max(numbers) if numbers else None


def _copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _copy(v) for k, v in value.items()}
    return value


def _iso(timestamp: Any) -> str:
    return datetime.fromtimestamp(float(timestamp), UTC).isoformat(timespec="seconds")
