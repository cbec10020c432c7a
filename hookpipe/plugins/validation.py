"""Checks of a plugin class: its name, subconfig declaration, methods and prefilters.

Each check appends system check messages and says whether the class may be used;
:mod:`hookpipe.plugins.planning` runs them for every configured class."""

from __future__ import annotations

import inspect
import re
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from typing import Final

from asgiref.sync import iscoroutinefunction
from django.core import checks

from ..check_ids import (
    BAD_METHOD,
    BAD_METHODS_FILTER,
    BAD_NAME,
    BAD_NEEDS_CONTENT,
    BAD_PATH_FILTER,
    BAD_SUBCONFIG,
    NAME_NOT_SET,
)
from .base import HandlerImplementation, Plugin, PluginKind, ResponderImplementation, dotted
from .subconfig import CASTS, MISFIT, Setting, env_prefix, fit

#: A name: letters and digits, with single ``-``, ``_`` or ``.`` between them, starting
#: with a letter. Every such name maps to a valid environment variable prefix.
NAME_PATTERN: Final = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-._][A-Za-z0-9]+)*")
#: A subconfig key: an upper-case identifier, as it appears in the variable's name.
KEY_PATTERN: Final = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*")

#: An HTTP method name in a ``methods`` prefilter (any case; compared upper-cased).
METHOD_PATTERN: Final = re.compile(r"[A-Za-z]+(?:-[A-Za-z]+)*")


def check_name(where: str, cls: type[Plugin], problems: list[checks.CheckMessage]) -> str | None:
    name = cls.name
    if not isinstance(name, str) or not name or name == cls._unset:
        problems.append(
            checks.Error(
                f"{where}: {dotted(cls)} does not set 'name'.",
                hint=f'Give the class a name, e.g. name = "{_suggest(cls)}"; it names the '
                "plugin in logs, in HOOKPIPE['PLUGINS'] and in environment variables.",
                id=NAME_NOT_SET,
            )
        )
        return None
    if not NAME_PATTERN.fullmatch(name):
        problems.append(
            checks.Error(
                f"{where}: the name {name!r} of {dotted(cls)} cannot be used in environment "
                "variable names.",
                hint="Use letters and digits with single '-', '_' or '.' between them, "
                "starting with a letter. A name maps to variables upper-cased, with '-' "
                f"and '.' as '_': 'webhook-store' -> {env_prefix('webhook-store')}<KEY>.",
                id=BAD_NAME,
            )
        )
        return None
    return name


def _suggest(cls: type) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", cls.__name__).lower()


def check_subconfig(
    where: str, cls: type[Plugin], problems: list[checks.CheckMessage]
) -> Mapping[str, Setting] | None:
    subconfig = cls.subconfig
    if subconfig is None:
        return {}
    if not isinstance(subconfig, Mapping):
        problems.append(
            checks.Error(
                f"{where}: {dotted(cls)}.subconfig must be a dict of KEY: Setting(...), "
                f"not {type(subconfig).__name__}.",
                id=BAD_SUBCONFIG,
            )
        )
        return None
    ok = True
    casts = ", ".join(c.__name__ for c in CASTS)
    for key, setting in subconfig.items():
        problem = ""
        if not isinstance(key, str) or not KEY_PATTERN.fullmatch(key):
            problem = f"the key {key!r} is not an upper-case name such as 'TOKEN' or 'BATCH_SIZE'"
        elif not isinstance(setting, Setting):
            problem = f"{key} is {type(setting).__name__}, not a hookpipe.plugins.Setting"
        elif setting.cast not in CASTS:
            problem = f"{key} has the type {setting.cast!r}; supported: {casts}"
        elif not setting.required and fit(setting.default, setting.cast) is MISFIT:
            problem = (
                f"{key} has the default {setting.default!r}, which is not {setting.cast.__name__}"
            )
        if problem:
            ok = False
            problems.append(
                checks.Error(
                    f"{where}: {dotted(cls)}.subconfig: {problem}.",
                    hint='Write subconfig = {"KEY": Setting(str), "BATCH": Setting(int, '
                    "default=10)}.",
                    id=BAD_SUBCONFIG,
                )
            )
    return subconfig if ok else None


def check_methods(
    where: str, kind: PluginKind, cls: type[Plugin], problems: list[checks.CheckMessage]
) -> bool:
    base: type[Plugin] = HandlerImplementation if kind == "handler" else ResponderImplementation
    work = "handle" if kind == "handler" else "respond"
    ok = True
    for method in ("handles", work):
        fn = getattr(cls, method, None)
        if fn is getattr(base, method) or fn is getattr(Plugin, method, None):
            ok = False
            problems.append(
                checks.Error(
                    f"{where}: {dotted(cls)} does not implement {method}().",
                    hint=f"A {kind} overrides handles(request, content) and "
                    f"{work}(request, content).",
                    id=BAD_METHOD,
                )
            )
        elif (unfit := _unfit_signature(cls, method)) is not None:
            ok = False
            problems.append(
                checks.Error(
                    f"{where}: {dotted(cls)}.{method}{unfit} cannot be called "
                    f"as {method}(request, content).",
                    hint=f"hookpipe calls {method}(request, content): the request (or its "
                    "snapshot) and the body as bytes. Take both, even if you use one.",
                    id=BAD_METHOD,
                )
            )
        elif method != "respond" and iscoroutinefunction(fn):
            ok = False
            problems.append(
                checks.Error(
                    f"{where}: {dotted(cls)}.{method}() is async def; it must be a plain def.",
                    hint="handles() runs in the request's thread and handle() in a pool "
                    "thread. Only a responder's respond() may be async.",
                    id=BAD_METHOD,
                )
            )
    if kind == "handler" and not isinstance(getattr(cls, "THREAD_SAFE", True), bool):
        ok = False
        problems.append(
            checks.Error(
                f"{where}: {dotted(cls)}.THREAD_SAFE must be True or False.", id=BAD_METHOD
            )
        )
    return ok


def _unfit_signature(cls: type[Plugin], method: str) -> str | None:
    """``cls.method``'s signature when it cannot be called with a request and a body, as
    hookpipe calls it; ``None`` when it can, or when it cannot be read (a builtin)."""
    fn = getattr(cls, method)
    # Read from the class, a plain function's signature has self first; a static or
    # class method's has not.
    static = isinstance(inspect.getattr_static(cls, method), staticmethod | classmethod)
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    args: tuple[object, ...] = (object(), b"") if static else (object(), object(), b"")
    try:
        signature.bind(*args)
    except TypeError:
        return str(signature)
    return None


def prefilters(cls: type[Plugin]) -> tuple[frozenset[str] | None, tuple[str, ...] | None]:
    """A plugin class's prefilters, normalised: upper-case methods, prefixes as a tuple.

    ``None`` means no filter. Only for a class that passed :func:`check_prefilters`.
    """
    methods = cls.methods
    prefixes = cls.path_prefixes
    return (
        None if methods is None else frozenset(m.upper() for m in methods),
        None if prefixes is None else tuple(prefixes),
    )


def check_prefilters(where: str, cls: type[Plugin], problems: list[checks.CheckMessage]) -> bool:
    ok = True
    methods = cls.methods
    if methods is not None:
        problem = ""
        if isinstance(methods, str):
            problem = f"is the string {methods!r}, not a set of method names"
        elif not isinstance(methods, AbstractSet | list | tuple):
            problem = f"is a {type(methods).__name__}, not a set of method names"
        elif not methods:
            problem = "is empty, so the plugin could never be asked"
        else:
            bad = [m for m in methods if not isinstance(m, str) or not METHOD_PATTERN.fullmatch(m)]
            if bad:
                problem = f"has {', '.join(map(repr, bad))}, which is not an HTTP method name"
        if problem:
            ok = False
            problems.append(
                checks.Error(
                    f"{where}: {dotted(cls)}.methods {problem}.",
                    hint='Write methods = {"POST"} (or {"GET", "HEAD"}), or leave it out '
                    "(None) to be asked for every method.",
                    id=BAD_METHODS_FILTER,
                )
            )
    prefixes = cls.path_prefixes
    if prefixes is not None:
        problem = ""
        if isinstance(prefixes, str):
            problem = (
                f"is the string {prefixes!r}, not a tuple of prefixes (a one-element "
                "tuple needs a trailing comma)"
            )
        elif not isinstance(prefixes, tuple | list):
            problem = f"is a {type(prefixes).__name__}, not a tuple of prefixes"
        elif not prefixes:
            problem = "is empty, so the plugin could never be asked"
        else:
            bad = [p for p in prefixes if not isinstance(p, str) or not p.startswith("/")]
            if bad:
                problem = f"has {', '.join(map(repr, bad))}, which does not start with '/'"
        if problem:
            ok = False
            problems.append(
                checks.Error(
                    f"{where}: {dotted(cls)}.path_prefixes {problem}.",
                    hint='Write path_prefixes = ("/webhooks/",): paths as request.path_info '
                    "has them, each starting with '/'; or leave it out (None) to be asked "
                    "for every path.",
                    id=BAD_PATH_FILTER,
                )
            )
    # Read with the prefilters, per request, to decide whether the body is read at all.
    if not isinstance(cls.NEEDS_CONTENT, bool):
        ok = False
        problems.append(
            checks.Error(
                f"{where}: {dotted(cls)}.NEEDS_CONTENT is {cls.NEEDS_CONTENT!r}, not True "
                "or False.",
                hint="NEEDS_CONTENT = False when the plugin never reads content (the body "
                "is then left to the view); leave it out (True) otherwise.",
                id=BAD_NEEDS_CONTENT,
            )
        )
    return ok
