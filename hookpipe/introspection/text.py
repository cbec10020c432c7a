"""The pipeline as text: what ``manage.py hookpipe`` prints (like Pyramid's ``ptweens``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ..core.ordering import INGRESS, MAIN
from .display import (
    PluginView,
    format_value,
    global_hooks,
    kind_label,
    paused_handlers,
    plugin_view,
    task_backends,
)
from .fleet_text import LEGEND, counter_lines
from .fleet_text import render as fleet_text


def render_text(data: Mapping[str, Any]) -> str:
    """The pipeline as ``manage.py hookpipe`` prints it (live counters left out)."""
    out: list[str] = []
    if data.get("tween_order") == "explicit":
        out.append('Tween order: explicit (HOOKPIPE["TWEEN_ORDER"]; over/under hints are ignored)')
    else:
        out.append('Tween order: implicit (HOOKPIPE["TWEENS"] order and over/under hints)')
    out += ["", "Tween chain, from INGRESS (outermost) to MAIN (innermost):", ""]
    out += _indent(
        _table(
            ["Position", "Name", "Factory", "Kind", "Over", "Under", "Notes"],
            list(_tween_rows(data.get("tweens") or [])),
        )
    )
    out += ["", 'Global hooks (HOOKPIPE["HOOKS"]), in priority order:']
    out += _plugin_table(global_hooks(data))
    out += ["", "Per-view hooks (@with_hooks, include_with_hooks; found by walking the URLconf):"]
    out += _view_hooks_table(data.get("view_hooks") or [])
    for key, heading in (("handlers", "Handlers"), ("responders", "Responders")):
        out += ["", f'{heading} (HOOKPIPE["{key.upper()}"]):']
        out += _plugin_records(data.get(key) or [])
    out += _paused_lines(data)
    backends = task_backends(data)
    if backends is not None:
        out += ["", f"{backends.title} (database backends) {LEGEND}:"]
        out += counter_lines(backends, titled=False)
    out += ["", 'Thread pool (HOOKPIPE["THREAD_POOL"]):']
    pool = data.get("thread_pool") or {}
    out += [f"  {key}: {format_value(value)}" for key, value in pool.items()] or ["  -"]
    out += fleet_text(data, _table)
    return "\n".join(out) + "\n"


def _paused_lines(data: Mapping[str, Any]) -> list[str]:
    """The paused task handlers, and those with parked jobs; nothing when there is none."""
    found = paused_handlers(data)
    if not found:
        return []
    out = ["", "Paused task handlers (deliveries stored, not run; resume: --resume NAME):"]
    for name, pause in found:
        state = (
            f"paused by {pause.get('paused_by') or '?'} at {pause.get('paused_at')}"
            if pause.get("paused")
            else "not paused"
        )
        parked = int(pause.get("parked") or 0)
        out.append(f"  {name}: {state}; {parked} parked job{'' if parked == 1 else 's'}")
    return out


def _tween_rows(tweens: Sequence[Mapping[str, Any]]) -> Iterator[list[str]]:
    yield ["-", INGRESS, "-", "-", "-", "-", ""]
    position = 0
    for tween in tweens:
        omitted = bool(tween.get("omitted"))
        if tween.get("enabled") is False:
            notes, where = "disabled", "-"
        elif omitted:
            notes, where = "omitted", "-"
        else:
            notes = "async" if tween.get("is_async") else "sync"
            where, position = str(position), position + 1
        yield [
            where,
            str(tween.get("name", "?")),
            str(tween.get("factory", "?")),
            kind_label(tween.get("kind")),
            format_value(tween.get("over") or None),
            format_value(tween.get("under") or None),
            notes,
        ]
    yield ["-", MAIN, "-", "-", "-", "-", ""]


def _plugin_table(views: Sequence[PluginView]) -> list[str]:
    if not views:
        return ["  none"]
    headers = (
        ["priority", "name"]
        if any(k == "priority" for v in views for k, _ in v.fields)
        else ["name"]
    )
    for view in views:
        headers += [key for key, _ in view.fields if key not in headers]
    rows = []
    for view in views:
        values = dict(view.fields)
        values["name"] = view.title
        rows.append([values.get(h, "") for h in headers])
    return _indent(_table([h.capitalize() if h.islower() else h for h in headers], rows))


def _view_hooks_table(entries: Sequence[Mapping[str, Any]]) -> list[str]:
    if not entries:
        return ["  none"]
    rows = []
    for entry in entries:
        hooks = ", ".join(_hook_label(h) for h in entry.get("hooks") or [])
        rows.append([str(entry.get("pattern", "?")), str(entry.get("view", "?")), hooks])
    return _indent(_table(["URL pattern", "View", "Hooks"], rows))


def _hook_label(hook: Any) -> str:
    view = plugin_view(hook)
    priority = dict(view.fields).get("priority")
    return f"{view.title} (priority {priority})" if priority else view.title


def _plugin_records(items: Sequence[Any]) -> list[str]:
    if not items:
        return ["  none"]
    out: list[str] = []
    for item in items:
        view = plugin_view(item)
        out.append(f"  {view.title}")
        width = max([len(k) for k, _ in view.fields] + [len(s) for s, _ in view.sections] + [0])
        for key, value in view.fields:
            out.append(f"    {key + ':':<{width + 1}}  {value}")
        for heading, rows in view.sections:
            out.append(f"    {heading + ':':<{width + 1}}  {'' if rows else '-'}".rstrip())
            inner = max([len(k) for k, _ in rows] + [0])
            out += [f"      {k + ':':<{inner + 1}}  {v}" for k, v in rows]
    return out


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *rows, strict=False)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(f"{c:<{w}}" for c, w in zip(cells, widths, strict=True)).rstrip()

    return [line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def _indent(lines: list[str]) -> list[str]:
    return [f"  {line}" if line else line for line in lines]
