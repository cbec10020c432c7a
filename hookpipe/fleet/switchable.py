"""What a switch does to a pipeline: the plan without the disabled plugins, and the
listing with every plugin marked enabled or not.

A disabled plugin is taken out of the plan after the tweens are ordered, so a disabled
tween leaves the others where the hints put them and requests pass straight through its
place; a disabled hook, handler or responder is built by no one, as if it were not
configured. Only what ``HOOKPIPE`` configures can be switched: tweens and chain
handlers by name, global hooks by the dotted path of their ``HOOKS`` entry, handlers and
responders by ``name``. A name in ``HOOKPIPE["SWITCHES"]["LOCKED"]`` is never taken out.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..core.plan import Plan


def switchable(built_plan: Plan) -> dict[str, str]:
    """Every name that can be switched in ``built_plan``, with its kind."""
    names: dict[str, str] = {}
    for entry in built_plan.tweens:
        names.setdefault(entry.name, "tween" if entry.kind == "factory" else "chain handler")
    for hook in built_plan.hooks:
        names.setdefault(hook.path, "hook")
    for plugin in built_plan.plugins:
        names.setdefault(plugin.name, plugin.kind)
    return names


def effective(disabled: Iterable[str], locked: Iterable[str]) -> frozenset[str]:
    """The names actually taken out: disabled and not locked."""
    return frozenset(disabled) - frozenset(locked)


def annotate(data: dict[str, Any], built_plan: Plan, off: frozenset[str]) -> None:
    """Mark each plugin of ``describe()`` data ``enabled`` and ``switchable``, and put the
    disabled ones back in their places (they are in the plan, not in the pipeline)."""
    locked = frozenset(built_plan.config.switches["LOCKED"])

    def mark(item: dict[str, Any], name: str) -> dict[str, Any]:
        return {
            **item,
            "switch_name": name,
            "enabled": name not in off,
            "switchable": name not in locked,
        }

    built = iter(data.get("tweens") or [])
    tweens = []
    for entry in built_plan.tweens:
        if entry.name in off:
            tweens.append(
                mark(
                    {
                        "name": entry.name,
                        "factory": entry.path,
                        "kind": entry.kind,
                        "over": list(entry.over),
                        "under": list(entry.under),
                        "omitted": False,
                        "is_async": None,
                    },
                    entry.name,
                )
            )
        else:
            item = next(built, None)
            if item is not None:
                tweens.append(mark(item, entry.name))
    tweens.extend(built)  # anything the plan does not know is shown as it is
    data["tweens"] = tweens

    by_label = {hook.label: hook.path for hook in built_plan.hooks}
    hooks = []
    for item in data.get("hooks") or []:
        if item.get("scope", "global") == "global" and item.get("entry") in by_label:
            hooks.append(mark(item, by_label[item["entry"]]))
        else:
            hooks.append(item)  # per-view hooks are not switched
    for hook in built_plan.hooks:
        if hook.path in off:
            hooks.append(
                mark(
                    {
                        "name": hook.cls.__name__,
                        "class": hook.path,
                        "priority": getattr(hook.cls, "priority", None),
                        "scope": "global",
                        "entry": hook.label,
                    },
                    hook.path,
                )
            )
    data["hooks"] = hooks

    for key, kind in (("handlers", "handler"), ("responders", "responder")):
        planned = {spec.name for spec in built_plan.plugins if spec.kind == kind}
        listed = data.get(key) or []
        present = {
            item["name"]: item
            for item in listed
            if isinstance(item, dict) and item.get("name") in planned
        }
        items: list[Any] = []
        for spec in built_plan.plugins:
            if spec.kind != kind:
                continue
            if spec.name in present:
                items.append(mark(present[spec.name], spec.name))
            elif spec.name in off:
                items.append(
                    mark({"name": spec.name, "class": spec.path, "entry": spec.label}, spec.name)
                )
        # Anything the plan does not know is shown as it is.
        items += [
            item for item in listed if not (isinstance(item, dict) and item.get("name") in planned)
        ]
        data[key] = items
