"""The pipeline's data arranged for display, shared by the admin page and the text output:
one title, a few facts and details per plugin, and the counters as tables."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .data import LIVE_KEYS, plain

_TITLE_KEYS = ("name", "class", "path", "factory")
_FIRST_KEYS = ("priority", "name", "class", "kind", "thread_safe", "THREAD_SAFE")
# Keys of describe()["hooks"] entries that the global hooks listing leaves out.
_VIEW_HOOK_KEYS = ("scope", "routes")
# Keys of a plugin's nested mappings (a task handler's ``task``) that its details leave
# out: the counter tables show them (:func:`counter_tables`, :func:`task_backends`).
_TABLED_KEYS = ("counters", "backend_view", "pause")


@dataclass(frozen=True)
class PluginView:
    """One hook, handler or responder, arranged for display."""

    title: str
    #: Scalar facts (class, THREAD_SAFE, priority...), in a stable order.
    fields: list[tuple[str, str]]
    #: Nested mappings (subconfig, options...) as (heading, [(key, value)...]). Live
    #: counters are left out: :func:`counter_tables` shows them.
    sections: list[tuple[str, list[tuple[str, str]]]]


def global_hooks(data: Mapping[str, Any]) -> list[PluginView]:
    """The global hooks of ``describe()["hooks"]``, which also lists per-view ones."""
    return [
        plugin_view({k: v for k, v in hook.items() if k not in _VIEW_HOOK_KEYS})
        for hook in data.get("hooks") or []
        if isinstance(hook, Mapping) and hook.get("scope", "global") == "global"
    ]


def plugin_view(item: Any) -> PluginView:
    if not isinstance(item, Mapping):
        return PluginView(str(item), [], [])
    title_key = next((k for k in _TITLE_KEYS if item.get(k) not in (None, "")), None)
    title = str(item[title_key]) if title_key else "(unnamed)"
    keys = [k for k in _FIRST_KEYS if k in item] + [k for k in item if k not in _FIRST_KEYS]
    fields: list[tuple[str, str]] = []
    sections: list[tuple[str, list[tuple[str, str]]]] = []
    for key in keys:
        value = item[key]
        if key == title_key or key in LIVE_KEYS:
            continue
        if isinstance(value, Mapping):
            shown = {k: v for k, v in value.items() if k not in _TABLED_KEYS}
            sections.append((key, flatten(shown)))
        else:
            fields.append((key, format_value(value)))
    return PluginView(title, fields, sections)


def flatten(mapping: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """``mapping`` as (key, displayed value) rows; nested keys are joined with a space."""
    rows: list[tuple[str, str]] = []
    for key, value in mapping.items():
        if isinstance(value, Mapping) and value and not ("value" in value and "secret" in value):
            rows.extend(flatten(value, f"{prefix}{key} "))
        elif isinstance(value, Mapping) and "value" in value:
            rows.append((f"{prefix}{key}", format_value(value["value"])))
        else:
            rows.append((f"{prefix}{key}", format_value(value)))
    return rows


def format_value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list | tuple):
        if all(not isinstance(v, Mapping | list | tuple) for v in value):
            return ", ".join(format_value(v) for v in value) or "-"
        return json.dumps(plain(value))
    if isinstance(value, Mapping):
        return json.dumps(plain(value))
    return str(value)


def kind_label(kind: Any) -> str:
    return "chain handler" if kind == "handler" else "tween"


# ------------------------------------------------------------- counter tables
# Counters read at a glance (as Flower and rq-dashboard show workers and queues): one
# table per kind of plugin, one row per plugin (and, in the fleet, one per process
# under it), one column per counter that kind reports. A zero is quiet, a problem is
# marked. Shared by the admin page and the command's text.

#: Counters that count something gone wrong: any value above 0 is a problem.
PROBLEM_COUNTERS = frozenset(
    {
        "failed",
        "rejected",
        "errors",
        "stream_errors",
        "handles_errors",
        "enqueue_failed",
        "fell_back",
        "too_large",
        "stale_running",
        "dead",
        "FAILED",
    }
)
#: The statuses of a database task backend, in the order a task goes through them.
TASK_STATUSES = ("READY", "RUNNING", "SUCCESSFUL", "FAILED")
#: What a process's row shows of its thread pool (the rest is its settings; its jobs'
#: outcomes are counted per handler, in the handlers' tables).
POOL_COLUMNS = ("workers", "running", "queue_depth")
_TITLES = {
    "responder": "Responders",
    "handler:pool": "Handlers run in the thread pool",
    "handler:inline": "Handlers run inline",
    "handler:task": "Handlers run as tasks",
}


@dataclass(frozen=True)
class Cell:
    """One counter's value as shown: ``quiet`` for 0 or none, ``problem`` when it
    counts something gone wrong."""

    text: str
    quiet: bool = False
    problem: bool = False
    #: The counter's name (its column).
    column: str = ""


@dataclass(frozen=True)
class Row:
    """A plugin's counters (``process`` empty), or one process's (``process`` is
    ``host:pid``, shown under its plugin's row in the fleet)."""

    label: str
    cells: list[Cell]
    process: str = ""
    #: A process's state in the fleet (``live``, ``stale``, ``exited``).
    state: str = ""
    #: Said instead of the cells (a backend that cannot be read, no counters yet).
    note: str = ""
    note_problem: bool = False

    @property
    def problem(self) -> bool:
        return self.note_problem or self.state == "stale" or any(c.problem for c in self.cells)


@dataclass(frozen=True)
class CounterTable:
    """One kind's counters: ``key`` is ``responder``, ``handler:<runner>``,
    ``task-backends``, ``processes`` (the fleet's) or ``pool`` (this process's);
    ``columns`` are the counters' names, as ``describe()`` has them."""

    key: str
    title: str
    columns: list[str]
    rows: list[Row]

    @property
    def problems(self) -> list[str]:
        """What needs looking at, one phrase per problem cell ("recorder failed 2"); a
        process's row under its plugin's is left out (the plugin's row sums it)."""
        out = []
        for row in self.rows:
            if row.process:
                continue
            who = row.label
            if row.note_problem:
                out.append(f"{who}: {row.note}")
            if row.state == "stale":
                out.append(f"{who}: stale")
            out += [
                _problem_text(who, column, cell.text)
                for column, cell in zip(self.columns, row.cells, strict=False)
                if cell.problem
            ]
        return out


def _problem_text(who: str, column: str, text: str) -> str:
    if column == "oldest_ready_s":
        return f"{who}: a task has waited {text} s for a worker"
    if column == "live_workers":
        return f"{who}: tasks wait and no task worker is alive"
    return f"{who} {column} {text}"


def counter_values(counters: Mapping[str, Any] | None) -> dict[str, Any]:
    """A plugin's counters as one level: a task handler's ``task`` counters first (they
    are its own), the pool's when its jobs fall back there, ``duration_ms`` as ``p50
    ms``, ``p95 ms``, ``max ms`` (the window's size is left to ``--json``)."""
    values: dict[str, Any] = {}
    counters = counters or {}
    task = counters.get("task")
    if isinstance(task, Mapping):
        values.update(task)
    for key, value in counters.items():
        if key == "task":
            continue
        if key == "duration_ms" and isinstance(value, Mapping):
            values.update({f"{q} ms": value.get(q) for q in ("p50", "p95", "max")})
        elif not isinstance(value, Mapping):
            values[key] = value
    return values


def cell(column: str, value: Any) -> Cell:
    if value is None:
        return Cell("\u2013", quiet=True, column=column)
    text = format_value(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return Cell(text, column=column)
    if value == 0:
        return Cell(text, quiet=True, column=column)
    return Cell(text, problem=column in PROBLEM_COUNTERS and value > 0, column=column)


def _columns(values: list[Mapping[str, Any]]) -> list[str]:
    columns: list[str] = []
    for one in values:
        columns += [key for key in one if key not in columns]
    return columns


def plugin_group(item: Mapping[str, Any], kind: str) -> str:
    """``responder``, or ``handler:`` and where the handler's jobs run."""
    if kind == "responder":
        return kind
    return f"handler:{item.get('runner') or 'pool'}"


#: A plugin as the tables take it: its group, its name, its counters (one level) and
#: the processes' own counters under it, as (counters, ``host:pid``, state).
Item = tuple[str, str, dict[str, Any], list[tuple[dict[str, Any], str, str]]]


def _grouped(items: list[Item]) -> list[CounterTable]:
    """A table per group, in a fixed order of groups; columns from the counters the
    group's plugins report."""
    order = [*_TITLES, *sorted({group for group, *_ in items} - set(_TITLES))]
    tables = []
    for group in order:
        members = [item for item in items if item[0] == group]
        if not members:
            continue
        columns = _columns([values for _, _, values, _ in members])
        rows = []
        for _, name, values, under in members:
            if values:
                rows.append(Row(name, [cell(c, values.get(c)) for c in columns]))
            else:  # a plugin that reports no counters (yet) says so
                rows.append(Row(name, [], note="no counters yet"))
            rows += [
                Row(name, [cell(c, mine.get(c)) for c in columns], process, state)
                for mine, process, state in under
            ]
        title = _TITLES.get(group, f"Handlers run by {group.partition(':')[2]}")
        tables.append(CounterTable(group, title, columns, rows))
    return tables


def counter_tables(data: Mapping[str, Any]) -> list[CounterTable]:
    """This process's handlers and responders, a table per kind (and per runner)."""
    items: list[Item] = []
    for kind in ("handler", "responder"):
        for item in data.get(f"{kind}s") or []:
            if not isinstance(item, Mapping):
                continue
            raw = item.get("counters")
            counters = dict(raw) if isinstance(raw, Mapping) else {}
            task = item.get("task")
            if isinstance(task, Mapping) and isinstance(task.get("counters"), Mapping):
                counters["task"] = {**task["counters"], **pause_columns(task.get("pause"))}
            items.append(
                (plugin_group(item, kind), str(item.get("name")), counter_values(counters), [])
            )
    return _grouped(items)


def pause_columns(pause: Any) -> dict[str, Any]:
    """A task handler's pause as two columns of its row: ``paused`` ("paused", or
    nothing) and ``parked`` (its jobs waiting for the resume). Read from the database,
    so they are the fleet's, not this process's."""
    if not isinstance(pause, Mapping) or "error" in pause:
        return {}
    return {"paused": "paused" if pause.get("paused") else None, "parked": pause.get("parked")}


def paused_handlers(data: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """The task handlers that are paused or have parked jobs, with their pause."""
    found = []
    for item in data.get("handlers") or []:
        task = item.get("task") if isinstance(item, Mapping) else None
        pause = task.get("pause") if isinstance(task, Mapping) else None
        if isinstance(pause, Mapping) and (pause.get("paused") or pause.get("parked")):
            found.append((str(item.get("name")), pause))
    return found


def fleet_tables(data: Mapping[str, Any]) -> list[CounterTable]:
    """The fleet's totals, a table per kind: each plugin's row, summed over the
    processes listed, then (when more than one process reports it, and it has counted
    something) a row per process under it."""
    cluster = data.get("cluster") or {}
    processes = cluster.get("processes") or []
    groups = {
        str(item.get("name")): plugin_group(item, kind)
        for kind in ("handler", "responder")
        for item in data.get(f"{kind}s") or []
        if isinstance(item, Mapping)
    }
    items: list[Item] = []
    for name, counters in (cluster.get("totals") or {}).items():
        under = [
            (counter_values(proc["counters"][name]), process_label(proc), str(proc.get("state")))
            for proc in processes
            if name in (proc.get("counters") or {})
        ]
        values = counter_values(counters)
        # One process's row would repeat the plugin's; all of them would repeat its zeros.
        if len(under) < 2 or not any(isinstance(v, int | float) and v for v in values.values()):
            under = []
        group = groups.get(name) or _guess_group(counters)
        items.append((group, name, values, under))
    return _grouped(items)


def _guess_group(counters: Mapping[str, Any]) -> str:
    """The kind of a plugin this process does not have (another process's settings)."""
    if "answered" in counters:
        return "responder"
    if "task" in counters:
        return "handler:task"
    return "handler:pool"


def process_label(proc: Mapping[str, Any]) -> str:
    return f"{proc.get('host')}:{proc.get('pid')}"


def process_table(data: Mapping[str, Any]) -> CounterTable:
    """The fleet's processes, one row each: its state, when it was seen, its pool."""
    processes = (data.get("cluster") or {}).get("processes") or []
    pools = [p["pool"] for p in processes if isinstance(p.get("pool"), Mapping)]
    columns = [c for c in POOL_COLUMNS if any(c in pool for pool in pools)]
    rows = []
    for proc in processes:
        pool = proc.get("pool") if isinstance(proc.get("pool"), Mapping) else {}
        rows.append(
            Row(
                process_label(proc),
                [cell(c, pool.get(c)) for c in columns],
                state=str(proc.get("state", "")),
            )
        )
    return CounterTable("processes", "Processes", columns, rows)


def task_backends(data: Mapping[str, Any]) -> CounterTable | None:
    """hookpipe's tasks on each database task backend its task handlers use, one row
    per queue (``backend/queue``): how many in each status, dead ones, RUNNING ones
    their worker abandoned, how long the oldest READY one has waited, and how many of
    the backend's task workers beat. ``None`` when no task handler uses a database
    backend."""
    views: dict[str, Mapping[str, Any]] = {}
    for item in data.get("handlers") or []:
        task = item.get("task") if isinstance(item, Mapping) else None
        if isinstance(task, Mapping) and isinstance(task.get("backend_view"), Mapping):
            views.setdefault(str(task.get("backend")), task["backend_view"])
    if not views:
        return None
    statuses = [*TASK_STATUSES]
    for view in views.values():
        statuses += [s for s in view.get("by_status") or {} if s not in statuses]
    columns = [*statuses, "dead", "stale_running", "oldest_ready_s", "live_workers"]
    rows = []
    for alias, view in views.items():
        if view.get("error"):
            rows.append(Row(alias, [], note=str(view["error"]), note_problem=True))
            continue
        queues = view.get("queues") or {}
        # A backend with no task yet still gets its row, all quiet.
        for label, counts in [(f"{alias}/{q}", c) for q, c in queues.items()] or [(alias, {})]:
            rows.append(Row(label, _queue_cells(columns, counts, view)))
    return CounterTable(
        "task-backends", "Hookpipe's tasks by task backend and queue", columns, rows
    )


def _queue_cells(
    columns: list[str], counts: Mapping[str, Any], view: Mapping[str, Any]
) -> list[Cell]:
    values = {
        **dict.fromkeys(columns, 0),
        **(counts.get("by_status") or {}),
        **counts,
        "live_workers": view.get("live_workers", 0),
    }
    cells = []
    for column in columns:
        value = values[column]
        if column == "oldest_ready_s" and value:
            # TASK_RUNNER["BACKLOG_AFTER"]; db_worker polls every second by default, so
            # an idle queue that a worker serves stays near 1 s.
            limit = float(view["backlog_after_s"])
            cells.append(Cell(format_value(value), problem=value > limit, column=column))
        elif column == "live_workers" and values["READY"] and not value:
            # Tasks wait and no worker beats: nothing will take them.
            cells.append(Cell("0", problem=True, column=column))
        else:
            cells.append(cell(column, value))
    return cells


#: Keys of the pool's state that repeat its settings (shown apart) or name the process.
_POOL_SETTINGS = ("pid", "max_workers", "max_queue", "on_full", "block_timeout_s")


def pool_table(data: Mapping[str, Any]) -> CounterTable | None:
    """This process's thread pool as one row of counters; ``None`` before it starts."""
    pool = data.get("pool")
    if not isinstance(pool, Mapping):
        return None
    columns = [key for key in pool if key not in _POOL_SETTINGS]
    label = f"process {pool['pid']}" if "pid" in pool else "this process"
    row = Row(label, [cell(c, pool[c]) for c in columns])
    return CounterTable("pool", "Workers and jobs", columns, [row])
