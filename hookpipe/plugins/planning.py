"""Import, check and configure ``HANDLERS`` and ``RESPONDERS``, then build the plugins.

:func:`plan_plugins` calls no plugin code beyond importing it and reports every
problem as a system check message, so the checks and the build share it;
:func:`build_plugins` instantiates each plugin once per pipeline build."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from .. import conf
from ..check_ids import (
    BAD_PLUGIN_ENTRY,
    BAD_PLUGIN_SETTINGS,
    DUPLICATE_NAME,
    ENV_CLASH,
    NOT_A_PLUGIN,
    PLUGIN_IMPORT_FAILED,
    UNUSED_PLUGIN_SETTINGS,
)
from ..jobs.choice import RunnerChoice, choose, entry_class_path
from .base import HandlerImplementation, Plugin, PluginKind, ResponderImplementation, dotted
from .subconfig import PluginConfig, Setting, env_prefix, resolve
from .validation import check_methods, check_name, check_prefilters, check_subconfig


@dataclass(frozen=True)
class PluginSpec:
    """One ``HANDLERS``/``RESPONDERS`` entry, imported, checked and configured."""

    kind: PluginKind
    index: int
    path: str
    cls: type[Plugin]
    name: str
    config: PluginConfig
    #: Where a handler runs (``None`` for a responder).
    runner: RunnerChoice | None = None

    @property
    def label(self) -> str:
        return f'HOOKPIPE["{self.kind.upper()}S"][{self.index}] ({self.name!r})'


def plan_plugins(
    handlers: Sequence[Any],
    responders: Sequence[Any],
    given: Mapping[str, Any],
    environ_: Mapping[str, str],
) -> tuple[tuple[PluginSpec, ...], list[checks.CheckMessage]]:
    """Import and check ``HANDLERS`` and ``RESPONDERS`` and resolve each plugin's
    subconfig. Calls no plugin code except module imports; problems are check
    messages, and a plugin with a problem is left out of the returned specs."""
    problems: list[checks.CheckMessage] = []
    found: list[tuple[PluginKind, int, Any, type[Plugin]]] = []
    kinds: tuple[tuple[PluginKind, Sequence[Any]], ...] = (
        ("handler", handlers),
        ("responder", responders),
    )
    for kind, entries in kinds:
        for index, raw in enumerate(entries):
            cls = _import(kind, index, raw, problems)
            if cls is not None:
                found.append((kind, index, raw, cls))
    specs: list[PluginSpec] = []
    by_prefix: dict[str, str] = {}
    variables: dict[str, str] = {}
    for kind, index, raw_entry, cls in found:
        path = entry_class_path(raw_entry)
        where = f'HOOKPIPE["{kind.upper()}S"][{index}] ({path})'
        name = check_name(where, cls, problems)
        if name is None:
            continue
        # From here on, messages name the plugin as settings and logs know it.
        where = f'HOOKPIPE["{kind.upper()}S"][{index}] ({name!r}, {path})'
        prefix = env_prefix(name)
        if prefix in by_prefix:
            other = by_prefix[prefix]
            same = other == name
            problems.append(
                checks.Error(
                    f"{where}: the name {name!r} is already used by "
                    + (
                        "another handler or responder."
                        if same
                        else f"{other!r}; both map to the environment prefix {prefix}."
                    ),
                    hint="Names must be unique across HANDLERS and RESPONDERS, also once "
                    "upper-cased with '-' and '.' read as '_'.",
                    id=DUPLICATE_NAME,
                )
            )
            continue
        by_prefix[prefix] = name
        subconfig = check_subconfig(where, cls, problems)
        methods_ok = check_methods(where, kind, cls, problems)
        if subconfig is None or not check_prefilters(where, cls, problems) or not methods_ok:
            continue
        clash = False
        for key in subconfig:
            variable = prefix + key
            owner = variables.setdefault(variable, name)
            if owner != name:
                clash = True
                problems.append(
                    checks.Error(
                        f"{where}: the environment variable {variable} would configure "
                        f"both {owner!r} and {name!r}.",
                        hint="Rename a plugin or a subconfig key so that no variable "
                        "name is shared.",
                        id=ENV_CLASH,
                    )
                )
        config = configure(where, name, cls, subconfig, given.get(name, {}), environ_, problems)
        runner = choose(where, cls, raw_entry, problems) if kind == "handler" else None
        if config is None or clash or (kind == "handler" and runner is None):
            continue
        specs.append(PluginSpec(kind, index, path, cls, name, config, runner))
    configured = set(by_prefix.values())
    for name in given:
        if name not in configured:
            problems.append(
                checks.Warning(
                    f'HOOKPIPE["PLUGINS"] has settings for {name!r}, and no handler or '
                    "responder has that name.",
                    hint="Configured names: " + (", ".join(sorted(configured)) or "none") + ".",
                    id=UNUSED_PLUGIN_SETTINGS,
                )
            )
    return tuple(specs), problems


def _import(
    kind: PluginKind, index: int, raw: Any, problems: list[checks.CheckMessage]
) -> type[Plugin] | None:
    where = f'HOOKPIPE["{kind.upper()}S"][{index}]'
    base: type[Plugin] = HandlerImplementation if kind == "handler" else ResponderImplementation
    public = f"hookpipe.{base.__name__}"
    if kind == "handler":  # a handler may be {"class": ..., "runner": ...}
        raw = entry_class_path(raw)
    if not isinstance(raw, str) or not raw:
        problems.append(
            checks.Error(
                f"{where} must be a dotted path to a {public} subclass, not {raw!r}.",
                id=BAD_PLUGIN_ENTRY,
            )
        )
        return None
    try:
        obj = import_string(raw)
    except Exception as exc:  # ImportError, but also whatever the module raises
        problems.append(
            checks.Error(
                f"{where}: cannot import {raw!r}: {type(exc).__name__}: {exc}",
                hint=conf.import_hint(raw),
                id=PLUGIN_IMPORT_FAILED,
            )
        )
        return None
    if not (isinstance(obj, type) and issubclass(obj, base)):
        other = ResponderImplementation if kind == "handler" else HandlerImplementation
        if isinstance(obj, type) and issubclass(obj, other):
            hint = f"{raw} is a {other.__name__}: list it in {other.kind.upper()}S."
        else:
            hint = f"Subclass {public} and list the class, not an instance."
        problems.append(
            checks.Error(
                f"{where}: {raw!r} is not a {public} subclass.", hint=hint, id=NOT_A_PLUGIN
            )
        )
        return None
    return obj


class PluginConstructorError(ImproperlyConfigured):
    """A plugin's ``__init__`` raised while the pipeline was built."""


def build_plugins(specs: Sequence[PluginSpec]) -> list[Plugin]:
    """Instantiate each plugin once, with its resolved config."""
    plugins = []
    for spec in specs:
        try:
            plugin = spec.cls(spec.config)
        except Exception as exc:
            raise PluginConstructorError(
                f"{spec.label}: {dotted(spec.cls)}({spec.config!r}) raised "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        if not hasattr(plugin, "config"):  # an __init__ that skipped super().__init__
            plugin.config = spec.config
        plugins.append(plugin)
    return plugins


def configure(
    where: str,
    name: str,
    cls: type[Plugin],
    subconfig: Mapping[str, Setting],
    own: Any,
    environ_: Mapping[str, str],
    problems: list[checks.CheckMessage],
) -> PluginConfig | None:
    """Plugin ``name``'s config from ``own`` (its ``HOOKPIPE["PLUGINS"]`` entry) and
    ``environ_``; ``None``, with the reasons in ``problems``, if anything is wrong. Shared
    by the pipeline's plan and :func:`hookpipe.build_plugin`."""
    if not isinstance(own, Mapping):
        problems.append(
            checks.Error(
                f'HOOKPIPE["PLUGINS"][{name!r}] must be a dict of subconfig values, '
                f"not {type(own).__name__}.",
                id=BAD_PLUGIN_SETTINGS,
            )
        )
        return None
    unknown = [key for key in own if key not in subconfig]
    for key in unknown:
        problems.append(
            checks.Error(
                f'HOOKPIPE["PLUGINS"][{name!r}] has {key!r}, which {dotted(cls)} does '
                "not declare in its subconfig.",
                hint=f"Declared keys: {', '.join(subconfig) or 'none'}.",
                id=BAD_PLUGIN_SETTINGS,
            )
        )
    config, config_problems = resolve(name, subconfig, own, environ_)
    for check_id, key, message in config_problems:
        setting = subconfig[key]
        hint = f"{key}: {setting.cast.__name__}" + (f", {setting.help}" if setting.help else "")
        problems.append(checks.Error(f"{where}: {message}", hint=hint, id=check_id))
    return None if unknown or config_problems else config
