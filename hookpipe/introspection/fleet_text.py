"""The switches and the fleet as ``manage.py hookpipe`` prints them (text), and the
counter tables the text shares with the admin page (:mod:`.display`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .display import Cell, CounterTable, fleet_tables, process_label, process_table

Table = Callable[[Sequence[str], Sequence[Sequence[str]]], list[str]]

#: How the text marks a zero (quiet) and a problem.
ZERO = "."
PROBLEM = "!"
LEGEND = f"({ZERO} is 0, {PROBLEM} marks a problem)"


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
    out += _cluster(data, table)
    return out


def _cluster(data: Mapping[str, Any], table: Table) -> list[str]:
    cluster = data.get("cluster") or {}
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
    pools = process_table(data)
    rows = []
    for proc, row in zip(processes, pools.rows, strict=True):
        state = proc["state"] + (f" {PROBLEM}" if row.state == "stale" else "")
        rows.append(
            [
                process_label(proc),
                state,
                f"{proc['seen_ago_s']} s ago",
                proc["started"],
                *(cell_text(c) for c in row.cells),
            ]
        )
    headers = ["Process", "State", "Last seen", "Started", *(f"pool {c}" for c in pools.columns)]
    out += [f"  {line}" for line in table(headers, rows)]
    tables = fleet_tables(data)
    out += ["", f"Fleet totals (summed over {len(processes)} processes) {LEGEND}:"]
    if not tables:
        out.append("  none published yet")
    for counters in tables:
        out += counter_lines(counters)
    problems = [p for t in (pools, *tables) for p in t.problems]
    if problems:
        out += ["", "Fleet problems:", *(f"  {p}" for p in problems)]
    return out


def cell_text(cell: Cell) -> str:
    if cell.quiet and cell.text == "0":
        return ZERO
    if cell.quiet and cell.text == "\u2013":  # none: ASCII in a terminal
        return "-"
    return f"{cell.text}{PROBLEM}" if cell.problem else cell.text


def counter_lines(table: CounterTable, indent: str = "  ", titled: bool = True) -> list[str]:
    """``table`` as text: its title, then a row per plugin with a process's rows
    indented under it; numbers right-aligned, zeros as ``.``, problems marked ``!``."""
    headers = ["Plugin" if table.key not in ("task-backends",) else "Backend", *table.columns]
    rows: list[list[str]] = []
    for row in table.rows:
        label = f"  {row.process}" if row.process else row.label
        if row.state == "stale":
            label += f" (stale{PROBLEM})"
        if row.note:
            rows.append([label, row.note + (PROBLEM if row.note_problem else "")])
        else:
            rows.append([label, *(cell_text(c) for c in row.cells)])
    widths = [len(h) for h in headers]
    for cells in rows:
        if len(cells) == len(headers):
            widths = [max(w, len(c)) for w, c in zip(widths, cells, strict=True)]

    def line(cells: Sequence[str]) -> str:
        if len(cells) != len(headers):  # a note: after the label, as it comes
            return f"{cells[0]:<{widths[0]}}  {cells[1]}"
        # Numbers right-aligned; a problem's "!" sits in a column of its own.
        first = f"{cells[0]:<{widths[0]}}"
        rest = [
            f"{c[:-1]:>{w}}{PROBLEM}" if c.endswith(PROBLEM) else f"{c:>{w}} "
            for c, w in zip(cells[1:], widths[1:], strict=True)
        ]
        return "  ".join([first, *rest]).rstrip()

    rule = ["-" * w for w in widths]
    inner = f"{indent}  " if titled else indent
    out = [f"{indent}{table.title}:"] if titled else []
    out += [f"{inner}{text}" for text in (line(headers), line(rule), *map(line, rows))]
    return out
