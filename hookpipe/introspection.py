"""What ``manage.py hookpipe`` and the admin "Pipeline" page show, and how.

:func:`inspect_pipeline` builds (or reuses) this process's pipeline and returns it as
plain data: :meth:`hookpipe.pipeline.Pipeline.describe` plus what only the project can
tell, namely the normalised ``THREAD_POOL`` setting and the per-view hooks found by
walking the URLconf. A configuration that cannot be built comes back as check messages,
never as an exception, so both the command and the page can show them.

The sections for hooks, handlers and responders are rendered generically from the
dicts ``describe()`` returns: whatever keys a plugin kind reports are shown, secrets
redacted. :func:`render_text` is the command's output; :func:`plugin_view` prepares
one plugin for the admin template.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from . import conf
from .hooks import REDACTED as VIEWER_REDACTED
from .hooks import SECRET_NAME, hook_label
from .hooks import view_hooks as hooks_of_view
from .ordering import INGRESS, MAIN
from .pipeline import get_pipeline, plan
from .routes import walk_urlconf

#: Keys of a plugin's dict that hold per-process live state. The command leaves them
#: out of its text (its own process has served no request); the admin page shows them.
LIVE_KEYS = ("counters", "stats")
#: Keys of a plugin's dict that hold its settings; their secrets are redacted.
CONFIG_KEYS = ("subconfig", "options")
REDACTED = "********"
_TITLE_KEYS = ("name", "class", "path", "factory")
_FIRST_KEYS = ("priority", "name", "class", "kind", "thread_safe", "THREAD_SAFE")
# Keys of describe()["hooks"] entries that the global hooks listing leaves out.
_VIEW_HOOK_KEYS = ("scope", "routes")


@dataclass(frozen=True)
class Inspection:
    """The pipeline of this process as plain data, or why it cannot be built."""

    #: ``describe()`` plus ``thread_pool`` and ``view_hooks``; ``None`` when broken.
    data: dict[str, Any] | None
    #: Why the pipeline cannot be built (check messages, with their ids).
    problems: tuple[checks.CheckMessage, ...] = ()
    #: Things worth saying that do not stop the pipeline (e.g. an unreadable URLconf).
    notes: tuple[str, ...] = ()


def inspect_pipeline() -> Inspection:
    """Build (or reuse) this process's pipeline and describe it.

    The checks run first, on the same :func:`~hookpipe.pipeline.plan` the pipeline is
    built from, so a broken configuration is reported with its check ids and no tween
    factory runs. A factory that raises while the chain is built is reported too.
    """
    problems = plan(conf.get_config()).problems
    errors = tuple(p for p in problems if p.is_serious())
    if errors:
        return Inspection(None, errors)
    # Warnings (hookpipe.W...) do not stop the build; say them anyway.
    notes = [f"{p.id}: {p.msg}" for p in problems if not p.is_serious()]
    try:
        pipeline = get_pipeline()
    except ImproperlyConfigured as exc:  # a tween factory raised
        return Inspection(None, (checks.Error(str(exc)),))
    data = plain(pipeline.describe())
    data.setdefault("thread_pool", plain(pipeline.config.thread_pool))
    for key in ("handlers", "responders"):
        data[key] = [redact_plugin(item) for item in data.get(key) or []]
    if "view_hooks" not in data:
        try:
            data["view_hooks"] = view_hooks()
        except Exception as exc:  # a broken URLconf must not hide the pipeline
            data["view_hooks"] = []
            notes.append(
                f"Per-view hooks are not shown: the URLconf cannot be read "
                f"({type(exc).__name__}: {exc})."
            )
    return Inspection(data, (), tuple(notes))


# ------------------------------------------------------------------ plain data


def plain(value: Any) -> Any:
    """``value`` with mappings as dicts, sequences as lists and the rest JSON-ready."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def redact(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a settings mapping with the values of secret-looking keys hidden.

    Plugins mark their secret subconfig values themselves; this is the second line of
    defence for a text value that was not marked, under a name such as ``TOKEN``,
    ``PASSWORD`` or ``API_KEY`` (the rule the request viewer uses for parameters). A
    nested ``{"value": ..., "secret": true}`` is redacted too.
    """
    result: dict[str, Any] = {}
    for key, value in mapping.items():
        if isinstance(value, Mapping):
            if value.get("secret") and "value" in value:
                result[key] = {**value, "value": REDACTED}
            else:
                result[key] = redact(value)
        elif (
            isinstance(value, str)
            and value not in ("", REDACTED, VIEWER_REDACTED)
            and SECRET_NAME.search(key)
        ):
            result[key] = REDACTED
        else:
            result[key] = value
    return result


def redact_plugin(item: Any) -> Any:
    if not isinstance(item, dict):
        return item
    return {
        key: redact(value) if key in CONFIG_KEYS and isinstance(value, Mapping) else value
        for key, value in item.items()
    }


# --------------------------------------------------------------- per-view hooks


def view_hooks(urlconf: str | None = None) -> list[dict[str, Any]]:
    """Every URL pattern whose view carries hooks, in URLconf order.

    Each entry is ``{"pattern", "name", "view", "hooks": [{"name", "class", "priority"}]}``;
    the hooks are the view's own (``@with_hooks``), global ones are not repeated.
    """
    found = []
    for route, name, callback in walk_urlconf(urlconf):
        hooks = hooks_of_view(callback)
        if hooks:
            found.append(
                {
                    "pattern": route,
                    "name": name,
                    "view": dotted_name(getattr(callback, "view_class", callback)),
                    # In the order they run (by priority, stable), like the request's list.
                    "hooks": [
                        describe_hook(hook)
                        for hook in sorted(hooks, key=lambda h: getattr(h, "priority", 0))
                    ],
                }
            )
    return found


def describe_hook(hook: Any) -> dict[str, Any]:
    return {
        "name": type(hook).__name__,
        "class": hook_label(hook),
        "priority": getattr(hook, "priority", None),
    }


def dotted_name(obj: Any) -> str:
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if module and qualname:
        return f"{module}.{qualname}"
    return repr(obj)


# ----------------------------------------------------------- display of plugins


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


# ---------------------------------------------------------------------- text


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
    out += ["", "Per-view hooks (@with_hooks, found by walking the URLconf):"]
    out += _view_hooks_table(data.get("view_hooks") or [])
    for key, heading in (("handlers", "Handlers"), ("responders", "Responders")):
        out += ["", f'{heading} (HOOKPIPE["{key.upper()}"]):']
        out += _plugin_records(data.get(key) or [])
    out += ["", 'Thread pool (HOOKPIPE["THREAD_POOL"]):']
    pool = data.get("thread_pool") or {}
    out += [f"  {key}: {format_value(value)}" for key, value in pool.items()] or ["  -"]
    return "\n".join(out) + "\n"


def _tween_rows(tweens: Sequence[Mapping[str, Any]]) -> Iterator[list[str]]:
    yield ["-", INGRESS, "-", "-", "-", "-", ""]
    position = 0
    for tween in tweens:
        omitted = bool(tween.get("omitted"))
        if omitted:
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
