"""The switches and the fleet as ``manage.py hookpipe`` prints them (text)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .display import flatten

Table = Callable[[Sequence[str], Sequence[Sequence[str]]], list[str]]


def render(data: Mapping[str, Any], table: Table) -> list[str]:
    """Lines for the ``switches`` and ``cluster`` parts of the inspection data (which
    only the fleet app adds)."""
    if "switches" not in data:
        return [
            "",
            'Switches and the fleet: add "hookpipe.fleet" to INSTALLED_APPS (docs/fleet.rst).',
        ]
    out: list[str] = []
    switches = data.get("switches") or {}
    every = switches.get("check_every_s")
    out += ["", f'Switches (applied by every process within {every:g} s; HOOKPIPE["SWITCHES"]):']
    if switches.get("error"):
        out.append(f"  cannot be read: {switches['error']}")
    rows = []
    for plugin in switches.get("plugins") or []:
        state = "enabled" if plugin["enabled"] else "DISABLED"
        if not plugin["switchable"]:
            state += " (locked)"
        last = (
            f"by {plugin['changed_by']} at {plugin['changed_at']}" if plugin["changed_at"] else "-"
        )
        rows.append([plugin["name"], plugin["kind"], state, last])
    out += [f"  {line}" for line in table(["Plugin", "Kind", "State", "Last switched"], rows)]
    if not rows:
        out.append("  none")
    out += _cluster(data.get("cluster") or {}, table)
    return out


def _cluster(cluster: Mapping[str, Any], table: Table) -> list[str]:
    out = ["", f"Fleet (cache {cluster.get('cache')!r}, {cluster.get('backend')}):"]
    if not cluster.get("enabled"):
        return [*out, '  off (HOOKPIPE["CLUSTER"]["ENABLED"] is False)']
    if cluster.get("scope") == "process":
        out.append(
            "  This cache is private to each process: no other process can be seen. "
            'Set HOOKPIPE["CLUSTER"]["CACHE"] to a shared cache.'
        )
    if cluster.get("error"):
        out.append(f"  cannot be read: {cluster['error']}")
    processes = cluster.get("processes") or []
    rows = [
        [p["host"], str(p["pid"]), p["state"], f"{p['seen_ago_s']} s ago", p["started"]]
        for p in processes
    ]
    out += [f"  {line}" for line in table(["Host", "PID", "State", "Last seen", "Started"], rows)]
    out += ["", f"Fleet totals (summed over {len(processes)} processes):"]
    totals = cluster.get("totals") or {}
    if not totals:
        out.append("  none published yet")
    for name, counters in totals.items():
        values = ", ".join(f"{k}={v}" for k, v in flatten(counters))
        out.append(f"  {name}: {values}")
    return out
