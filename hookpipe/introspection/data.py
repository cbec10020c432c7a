"""What ``manage.py hookpipe`` and the admin "Pipeline" page show, and how.

:func:`inspect_pipeline` builds (or reuses) this process's pipeline and returns it as
plain data: :meth:`hookpipe.core.build.Pipeline.describe` plus what only the project can
tell, namely the normalised ``THREAD_POOL`` setting and the per-view hooks found by
walking the URLconf. A configuration that cannot be built comes back as check messages,
never as an exception, so both the command and the page can show them.

The sections for hooks, handlers and responders are rendered generically from the
dicts ``describe()`` returns: whatever keys a plugin kind reports are shown, secrets
redacted. :func:`render_text` is the command's output; :func:`plugin_view` prepares
one plugin for the admin template.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from .. import conf
from ..core.plan import plan
from ..core.process import get_pipeline
from ..hooks import REDACTED as VIEWER_REDACTED
from ..hooks import SECRET_NAME, hook_label
from ..hooks import view_hooks as hooks_of_view
from ..routes import walk_urlconf

#: Keys of a plugin's dict that hold per-process live state. The command leaves them
#: out of its text (its own process has served no request); the admin page shows them.
LIVE_KEYS = ("counters", "stats")
#: Keys of a plugin's dict that hold its settings; their secrets are redacted.
CONFIG_KEYS = ("subconfig", "options")
REDACTED = "********"


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

    The checks run first, on the same :func:`~hookpipe.core.plan` the pipeline is
    built from, so a broken configuration is reported with its check ids and no tween
    factory runs. A factory that raises while the chain is built is reported too.
    """
    full_plan = plan(conf.get_config())
    problems = full_plan.problems
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
    if apps.is_installed("hookpipe.fleet"):
        # Runtime switches and the fleet's records. Imported here: the fleet's modules
        # reach its models, which exist only when the app is installed.
        from ..fleet import listing, read, switchable

        switchable.annotate(data, full_plan, pipeline.switched_off)
        data["switches"] = plain(listing.listing(full_plan, pipeline))
        data["cluster"] = plain(read.read(full_plan.config.cluster))
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
    the hooks are the view's own (``@with_hooks``, ``include_with_hooks``), global ones
    are not repeated.
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
