"""The pipeline's data arranged for display: one title, a few facts and details per plugin,
shared by the admin page and the text output."""

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


@dataclass(frozen=True)
class PluginView:
    """One hook, handler or responder, arranged for display."""

    title: str
    #: Scalar facts (class, THREAD_SAFE, priority...), in a stable order.
    fields: list[tuple[str, str]]
    #: Nested mappings (subconfig, options...) as (heading, [(key, value)...]).
    sections: list[tuple[str, list[tuple[str, str]]]]
    #: Live counters as (name, value); ``None`` when the plugin reports none.
    counters: list[tuple[str, str]] | None


def global_hooks(data: Mapping[str, Any]) -> list[PluginView]:
    """The global hooks of ``describe()["hooks"]``, which also lists per-view ones."""
    return [
        plugin_view({k: v for k, v in hook.items() if k not in _VIEW_HOOK_KEYS})
        for hook in data.get("hooks") or []
        if isinstance(hook, Mapping) and hook.get("scope", "global") == "global"
    ]


def plugin_view(item: Any) -> PluginView:
    if not isinstance(item, Mapping):
        return PluginView(str(item), [], [], None)
    title_key = next((k for k in _TITLE_KEYS if item.get(k) not in (None, "")), None)
    title = str(item[title_key]) if title_key else "(unnamed)"
    keys = [k for k in _FIRST_KEYS if k in item] + [k for k in item if k not in _FIRST_KEYS]
    fields: list[tuple[str, str]] = []
    sections: list[tuple[str, list[tuple[str, str]]]] = []
    counters: list[tuple[str, str]] | None = None
    for key in keys:
        value = item[key]
        if key == title_key:
            continue
        if key in LIVE_KEYS:
            if isinstance(value, Mapping):
                counters = flatten(value)
            elif value is not None:
                counters = [(key, format_value(value))]
        elif isinstance(value, Mapping):
            sections.append((key, flatten(value)))
        else:
            fields.append((key, format_value(value)))
    return PluginView(title, fields, sections, counters)


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
