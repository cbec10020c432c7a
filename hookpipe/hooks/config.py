"""``HOOKPIPE["HOOKS"]``: checked and imported ahead, instantiated once per build.

:func:`plan_hooks` turns the setting into :class:`HookSpec` entries plus check messages,
importing classes but building nothing and never raising, so the same code serves
``manage.py check`` and the pipeline build (a configuration that passes the checks
builds). :func:`build_hooks` then makes the one instance of each global hook. Every check
id about hooks is defined here, once; ``docs/checks.rst`` describes them.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from .. import conf
from ..check_ids import (
    BAD_HOOK_ENTRY,
    BAD_HOOK_OPTIONS,
    BAD_PRIORITY,
    BAD_SIGNATURE_OPTION,
    BAD_VIEWER_OPTION,
    HOOK_IMPORT_FAILED,
    NOT_A_HOOK,
    OPTIONS_DO_NOT_FIT,
    UNKNOWN_VIEWER_ITEM,
)
from .api import METHODS, Hook, hook_problem
from .signatures import SignatureHook, signature_options
from .viewer import (
    VIEWER_ITEMS,
    VIEWER_METHODS,
    RequestViewerHook,
    viewer_known_items,
    viewer_options,
)

SETTING_LABEL = 'HOOKPIPE["HOOKS"]'
ENTRY_KEYS = ("class", "options")


@dataclass(frozen=True)
class HookSpec:
    """One entry of ``HOOKPIPE["HOOKS"]``: imported and checked, not yet instantiated."""

    index: int
    path: str
    cls: type
    options: Mapping[str, Any]

    @property
    def label(self) -> str:
        return f"{SETTING_LABEL}[{self.index}] ({self.path!r})"


def plan_hooks(entries: Sequence[Any]) -> tuple[tuple[HookSpec, ...], list[checks.CheckMessage]]:
    """Import and check ``HOOKPIPE["HOOKS"]``; instantiates nothing, never raises.

    The same code serves ``manage.py check`` and the pipeline build.
    """
    specs: list[HookSpec] = []
    problems: list[checks.CheckMessage] = []
    for index, raw in enumerate(entries):
        spec = _plan_one(index, raw, problems)
        if spec is not None:
            specs.append(spec)
    return tuple(specs), problems


def _plan_one(index: int, raw: Any, problems: list[checks.CheckMessage]) -> HookSpec | None:
    where = f"{SETTING_LABEL}[{index}]"

    def error(id: str, msg: str, hint: str | None = None) -> None:
        problems.append(checks.Error(msg, hint=hint, id=id))

    path: Any
    options: Any = {}
    unknown: list[Any] = []
    if isinstance(raw, str):
        path = raw
    elif isinstance(raw, Mapping):
        unknown = [k for k in raw if k not in ENTRY_KEYS]
        if unknown:
            error(
                BAD_HOOK_ENTRY,
                f"{where} has unknown key(s) {', '.join(map(repr, unknown))}.",
                'A hook entry is "myapp.hooks.MyHook" or {"class": "myapp.hooks.MyHook", '
                '"options": {...}}.',
            )
        path = raw.get("class")
        options = raw.get("options", {})
    else:
        error(
            BAD_HOOK_ENTRY,
            f"{where} must be a dotted path or a dict, not {type(raw).__name__}.",
            'Write "myapp.hooks.MyHook" or {"class": "myapp.hooks.MyHook", "options": {...}}.',
        )
        return None
    if not isinstance(path, str) or not path:
        if not (isinstance(raw, Mapping) and unknown and "class" not in raw):  # said above
            error(
                BAD_HOOK_ENTRY,
                f'{where} needs "class": the dotted path of a hookpipe.Hook subclass.',
                'Write {"class": "myapp.hooks.MyHook", "options": {...}}.',
            )
        return None
    where = f"{where} ({path!r})"
    if not isinstance(options, Mapping) or not all(isinstance(k, str) for k in options):
        error(
            BAD_HOOK_OPTIONS,
            f'{where}: "options" must be a dict of keyword arguments, not {options!r}.',
            "The hook is built once as cls(**options).",
        )
        return None
    try:
        cls = import_string(path)
    except Exception as exc:  # ImportError, and whatever the module raises on import
        error(
            HOOK_IMPORT_FAILED,
            f"{where}: cannot import hook class {path!r}: {type(exc).__name__}: {exc}",
            conf.import_hint(path),
        )
        return None
    if not isinstance(cls, type):
        error(
            NOT_A_HOOK,
            f"{where} is a {type(cls).__name__}, not a class.",
            "Give the path of a hookpipe.Hook subclass; hookpipe builds one instance.",
        )
        return None
    if not issubclass(cls, Hook):
        missing = [m for m in METHODS if not callable(getattr(cls, m, None))]
        if missing:
            error(
                NOT_A_HOOK,
                f"{where} is not a hookpipe.Hook subclass and lacks {', '.join(missing)}.",
                "Subclass hookpipe.Hook and override the methods you need.",
            )
            return None
    priority = inspect.getattr_static(cls, "priority", None)
    if not isinstance(priority, property) and (
        isinstance(priority, bool) or not isinstance(priority, int)
    ):
        error(
            BAD_PRIORITY,
            f"{where}: priority must be an int, not {priority!r}.",
            "Lower runs first for on_route/before and last for after/on_error; default 100.",
        )
    fits = True
    try:
        inspect.signature(cls).bind(**options)
    except TypeError as exc:
        fits = False
        error(
            OPTIONS_DO_NOT_FIT,
            f"{where}: the options do not fit {cls.__qualname__}(): {exc}.",
            f"Options given: {sorted(options) or 'none'}.",
        )
    except ValueError:  # no signature to read (a C type): let the build tell
        pass
    if fits and issubclass(cls, RequestViewerHook):
        problems.extend(_check_viewer_options(options, where))
    if fits and issubclass(cls, SignatureHook):
        try:
            signature_options(**options)
        except (TypeError, ValueError) as exc:
            error(
                BAD_SIGNATURE_OPTION,
                f"{where}: {exc}.",
                "scheme: standard, github or stripe; paths: path prefixes to verify; "
                "secrets: a list, and/or secrets_env: an environment variable holding "
                "them comma-separated; tolerance: seconds.",
            )
    return HookSpec(index, path, cls, MappingProxyType(dict(options)))


class HookConstructorError(ImproperlyConfigured):
    """A global hook's constructor raised while the pipeline was built."""


def build_hooks(specs: Sequence[HookSpec]) -> list[Any]:
    """Instantiate the global hooks, once per pipeline build."""
    hooks = []
    for spec in specs:
        try:
            hook = spec.cls(**spec.options)
        except Exception as exc:
            raise HookConstructorError(
                f"{spec.label}: building the hook raised {type(exc).__name__}: {exc}"
            ) from exc
        problem = hook_problem(hook)
        if problem:
            raise ImproperlyConfigured(f"{spec.label}: {problem}")
        hooks.append(hook)
    return hooks


def _check_viewer_options(options: Mapping[str, Any], where: str) -> list[checks.CheckMessage]:
    problems: list[checks.CheckMessage] = []
    try:
        viewer_options(**options)
    except (TypeError, ValueError) as exc:
        problems.append(
            checks.Error(
                f"{where}: {exc}",
                hint="items: a list of names; blacklist: a list of path prefixes; "
                "headers: True or False; max_length: an int >= 16.",
                id=BAD_VIEWER_OPTION,
            )
        )
        return problems
    items = options.get("items")
    unknown = [i for i in items or () if i not in viewer_known_items()]
    if unknown:
        problems.append(
            checks.Warning(
                f"{where}: RequestViewerHook item(s) {', '.join(map(repr, unknown))} are "
                "neither built-in items nor attributes Django sets on a request; they "
                'will show as "-".',
                hint=f"Built-in: {', '.join(VIEWER_ITEMS)}; or a request attribute such "
                "as path, method, GET, headers, user; or one of "
                f"{', '.join(VIEWER_METHODS)}.",
                id=UNKNOWN_VIEWER_ITEM,
            )
        )
    return problems
