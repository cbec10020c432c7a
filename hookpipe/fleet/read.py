"""Reading the fleet: every process's last record, and the counters summed over them.

A process last seen more than ``STALE_AFTER`` seconds ago is ``"stale"`` (shown greyed
out); after ``DROP_AFTER`` seconds it is left out altogether. One that published its
record at exit is ``"exited"`` until it is dropped. The totals sum the counters of every
process listed (live, stale or exited), so that a worker that just stopped does not take
its requests out of the totals at once.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from .publish import VERSION, index_key

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
        index = cache.get(index_key(settings)) or {}
        keys = [k for k, seen in index.items() if now - seen < settings["DROP_AFTER"]]
        records = cache.get_many(keys) if keys else {}
    except Exception as exc:
        out["error"] = f"{type(exc).__name__}: {exc}"
        return out
    processes = []
    for key in keys:
        rec = records.get(key)
        if not isinstance(rec, dict) or rec.get("version") != VERSION:
            continue
        age = now - float(rec["last_seen"])
        if age >= settings["DROP_AFTER"]:
            continue
        state = "live" if age < settings["STALE_AFTER"] else "stale"
        if rec.get("exited"):
            state = "exited"
        processes.append(
            {
                "host": rec["host"],
                "pid": rec["pid"],
                "state": state,
                "started": _iso(rec["started"]),
                "last_seen": _iso(rec["last_seen"]),
                "seen_ago_s": round(max(age, 0.0), 1),
                "switched_off": rec.get("switched_off") or [],
                "pool": rec.get("pool"),
                "counters": {
                    name: plugin.get("counters") or {}
                    for name, plugin in (rec.get("plugins") or {}).items()
                },
                "durations": rec.get("durations") or {},
            }
        )
    processes.sort(key=lambda p: (p["host"], p["pid"]))
    out["processes"] = processes
    out["totals"] = totals(p["counters"] for p in processes)
    out["durations"] = duration_totals(p["durations"] for p in processes)
    return out


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
