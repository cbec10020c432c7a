"""Ledge-style plugins: handlers and responders, their subconfig, and the request snapshot.

A **handler** (:class:`HandlerImplementation`) does background work with a request:
every handler whose ``handles(request, content)`` is true runs ``handle()``, in the
bounded pool (:mod:`hookpipe.executor`) with a :class:`RequestSnapshot`, or inline with
the live request when ``THREAD_SAFE = False``. A **responder**
(:class:`ResponderImplementation`) answers a request: the first whose ``handles()`` is
true returns the response from ``respond()``, streamed (:mod:`hookpipe.streaming`).
:mod:`hookpipe.dispatch` runs them in ``MAIN``.

**Subconfig.** A plugin declares typed settings::

    class WebhookStore(HandlerImplementation):
        name = "webhook-store"
        subconfig = {
            "TOKEN": Setting(str, secret=True),   # required: no default
            "BATCH": Setting(int, default=10),
        }

Each value comes from ``HOOKPIPE["PLUGINS"]["webhook-store"]["TOKEN"]``, else from the
environment variable ``HOOKPIPE_WEBHOOK_STORE_TOKEN`` (cast with django-environ), else
from the default. The plugin gets them, frozen, as ``self.config`` (``self.config.TOKEN``
or ``self.config["TOKEN"]``). Problems are system check messages, computed by
:func:`plan_plugins` without calling plugin code beyond importing it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Final, Literal

import environ  # type: ignore[import-untyped]
from asgiref.sync import iscoroutinefunction
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from django.http import HttpRequest

PluginKind = Literal["handler", "responder"]

#: How secret values are shown (``describe()``, the admin page, ``repr(self.config)``).
REDACTED: Final = "********"

#: The prefix of every plugin's environment variables.
ENV_PREFIX: Final = "HOOKPIPE_"

UNSET_HANDLER_NAME: Final = "UNSET_HANDLER_NAME"
UNSET_RESPONDER_NAME: Final = "UNSET_RESPONDER_NAME"

# Check ids, each written once here; docs/checks.rst describes them.
BAD_PLUGIN_ENTRY: Final = "hookpipe.E030"
PLUGIN_IMPORT_FAILED: Final = "hookpipe.E031"
NOT_A_PLUGIN: Final = "hookpipe.E032"
NAME_NOT_SET: Final = "hookpipe.E033"
BAD_NAME: Final = "hookpipe.E034"
DUPLICATE_NAME: Final = "hookpipe.E035"
BAD_SUBCONFIG: Final = "hookpipe.E036"
BAD_PLUGIN_SETTINGS: Final = "hookpipe.E037"
MISSING_VALUE: Final = "hookpipe.E038"
BAD_VALUE: Final = "hookpipe.E039"
ENV_CLASH: Final = "hookpipe.E040"
BAD_METHOD: Final = "hookpipe.E041"
BAD_METHODS_FILTER: Final = "hookpipe.E042"
BAD_PATH_FILTER: Final = "hookpipe.E043"
UNUSED_PLUGIN_SETTINGS: Final = "hookpipe.W030"

#: A name: letters and digits, with single ``-``, ``_`` or ``.`` between them, starting
#: with a letter. Every such name maps to a valid environment variable prefix.
NAME_PATTERN: Final = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-._][A-Za-z0-9]+)*")
#: A subconfig key: an upper-case identifier, as it appears in the variable's name.
KEY_PATTERN: Final = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*")

#: An HTTP method name in a ``methods`` prefilter (any case; compared upper-cased).
METHOD_PATTERN: Final = re.compile(r"[A-Za-z]+(?:-[A-Za-z]+)*")

#: The types a setting may have: what django-environ can cast a variable to.
CASTS: Final[tuple[type, ...]] = (str, int, float, bool, list)
_TRUE = frozenset({"true", "on", "ok", "y", "yes", "1"})
_FALSE = frozenset({"false", "off", "n", "no", "0", ""})


def env_prefix(name: str) -> str:
    """The environment variable prefix of plugin ``name``: ``webhook-store`` ->
    ``HOOKPIPE_WEBHOOK_STORE_``. Upper-case; ``-`` and ``.`` become ``_``."""
    return ENV_PREFIX + re.sub(r"[-.]", "_", name).upper() + "_"


# ----------------------------------------------------------------- subconfig


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


#: The default of a :class:`Setting` that has none: a value must be given.
REQUIRED: Final[Any] = _Required()


@dataclass(frozen=True)
class Setting:
    """One typed value of a plugin's ``subconfig``.

    ``cast`` is ``str``, ``int``, ``float``, ``bool`` or ``list`` (of strings; comma
    separated in an environment variable). Without a ``default`` the value is required:
    a missing one is a system check error. ``secret=True`` redacts it wherever hookpipe
    shows it. ``help`` is shown next to it in the docs you write and in check hints.
    """

    cast: type
    default: Any = REQUIRED
    secret: bool = False
    help: str = ""

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


class PluginConfig(Mapping[str, Any]):
    """A plugin's resolved subconfig: read-only, by key or attribute.

    ``config["TOKEN"]`` and ``config.TOKEN`` are the same value. ``repr()`` and
    :meth:`redacted` hide the secret ones. ``sources`` says where each came from:
    ``"settings"``, ``"env"`` (with the variable's name) or ``"default"``.
    """

    __slots__ = ("_secret", "_sources", "_values")

    def __init__(
        self,
        values: Mapping[str, Any] | None = None,
        secret: Sequence[str] = (),
        sources: Mapping[str, str] | None = None,
    ) -> None:
        object.__setattr__(self, "_values", dict(values or {}))
        object.__setattr__(self, "_secret", frozenset(secret))
        object.__setattr__(self, "_sources", dict(sources or {}))

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_"):
            raise AttributeError(key)
        try:
            return self._values[key]
        except KeyError:
            raise AttributeError(f"this plugin's subconfig has no {key!r}") from None

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError("a plugin's config is read-only")

    def __reduce__(self) -> tuple[Any, ...]:
        return (PluginConfig, (self._values, tuple(self._secret), self._sources))

    @property
    def sources(self) -> Mapping[str, str]:
        return dict(self._sources)

    def redacted(self) -> dict[str, Any]:
        """The values, secret ones replaced by ``"********"`` (if set)."""
        return {
            key: REDACTED if key in self._secret and value not in (None, "") else value
            for key, value in self._values.items()
        }

    def __repr__(self) -> str:
        return f"PluginConfig({self.redacted()!r})"


def resolve(
    name: str,
    subconfig: Mapping[str, Setting],
    given: Mapping[str, Any],
    environ_: Mapping[str, str],
) -> tuple[PluginConfig, list[tuple[str, str, str]]]:
    """Resolve ``subconfig`` for plugin ``name``: ``given`` (its ``HOOKPIPE["PLUGINS"]``
    entry), then ``environ_``, then defaults.

    Returns the config and a list of problems ``(check id, key, message)``; a key with a
    problem is left out of the config.
    """
    prefix = env_prefix(name)
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    problems: list[tuple[str, str, str]] = []
    for key, setting in subconfig.items():
        variable = prefix + key
        if key in given:
            value = given[key]
            fitted = _fit(value, setting.cast)
            if fitted is _MISFIT:
                shown = REDACTED if setting.secret else repr(value)
                problems.append(
                    (
                        BAD_VALUE,
                        key,
                        f'HOOKPIPE["PLUGINS"][{name!r}][{key!r}] must be '
                        f"{setting.cast.__name__}, not {type(value).__name__} ({shown}).",
                    )
                )
                continue
            values[key], sources[key] = fitted, "settings"
        elif variable in environ_:
            raw = environ_[variable]
            try:
                values[key] = _cast(raw, setting.cast)
            except ValueError:
                shown = REDACTED if setting.secret else repr(raw)
                problems.append(
                    (
                        BAD_VALUE,
                        key,
                        f"the environment variable {variable}={shown} cannot be read as "
                        f"{setting.cast.__name__}.",
                    )
                )
                continue
            sources[key] = f"env {variable}"
        elif setting.required:
            problems.append(
                (
                    MISSING_VALUE,
                    key,
                    f"plugin {name!r} needs a value for {key} and has none: set "
                    f'HOOKPIPE["PLUGINS"][{name!r}][{key!r}] or the environment variable '
                    f"{variable}.",
                )
            )
            continue
        else:
            values[key], sources[key] = setting.default, "default"
    secret = [key for key, setting in subconfig.items() if setting.secret]
    return PluginConfig(values, secret, sources), problems


class _Misfit:
    pass


_MISFIT: Final = _Misfit()


def _fit(value: Any, cast: type) -> Any:
    """A settings value as ``cast``, or ``_MISFIT``. Settings hold Python values, so no
    parsing: an int is fine for a float, a tuple for a list, ``None`` for anything."""
    if value is None:
        return None
    if cast is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if cast is int and isinstance(value, bool):
        return _MISFIT
    if cast is list and isinstance(value, tuple | list):
        return list(value)
    return value if isinstance(value, cast) else _MISFIT


def _cast(raw: str, cast: type) -> Any:
    """An environment variable's text as ``cast``, the way django-environ reads it
    (``environ.Env.parse_value``); a bool must be one of the words it knows."""
    if cast is bool and raw.strip().lower() not in _TRUE | _FALSE:
        raise ValueError(raw)
    return environ.Env.parse_value(raw, cast)


# --------------------------------------------------------------- the plugins


class _Plugin:
    """What handlers and responders share: name, subconfig, config, ``handles()``."""

    #: Used in logs, in ``HOOKPIPE["PLUGINS"]`` and for environment variables. Required.
    name: ClassVar[str] = ""
    #: Typed settings, ``{"KEY": Setting(...)}``; see :class:`Setting`.
    subconfig: ClassVar[Mapping[str, Setting]] = {}
    #: Prefilter: the HTTP methods this plugin may want, e.g. ``{"POST"}``; ``None``
    #: (the default): any method. A request with another method never meets the plugin.
    methods: ClassVar[AbstractSet[str] | None] = None
    #: Prefilter: the path prefixes this plugin may want, e.g. ``("/hooks/",)``,
    #: matched against ``request.path_info``; ``None`` (the default): any path.
    path_prefixes: ClassVar[tuple[str, ...] | None] = None
    kind: ClassVar[PluginKind]
    _unset: ClassVar[str]

    def __init__(self, config: PluginConfig | None = None) -> None:
        """Called once per pipeline build with the resolved subconfig. A subclass that
        overrides it must call ``super().__init__(config)``."""
        if not self.name or self.name == self._unset:
            raise ImproperlyConfigured(
                f"{dotted(type(self))} must set 'name' (a {self.kind} named "
                f"{self._unset!r} cannot be configured)."
            )
        self.config = config if config is not None else PluginConfig()

    def handles(self, request: HttpRequest, content: bytes) -> bool:
        """Whether this plugin wants ``request``. Keep it quick: it runs for every
        request, in the request's thread. Raising counts as ``False`` (and is logged)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} config={self.config!r}>"


class HandlerImplementation(_Plugin):
    """Does background work with the requests it ``handles()``; never answers them.

    Every handler whose ``handles()`` is true runs ``handle(request, content)``. With
    ``THREAD_SAFE = True`` (the default) that is in the bounded pool, later, with a
    :class:`RequestSnapshot` in place of the request; with ``THREAD_SAFE = False`` it is
    in the request's thread, before the response, with the live ``HttpRequest``. What
    ``handle()`` returns is ignored, and what it raises is logged with its ``name``.
    """

    name: ClassVar[str] = UNSET_HANDLER_NAME
    kind: ClassVar[PluginKind] = "handler"
    _unset: ClassVar[str] = UNSET_HANDLER_NAME
    #: True: run in the pool with a snapshot. False: run inline with the live request.
    THREAD_SAFE: ClassVar[bool] = True

    def handle(self, request: Any, content: bytes) -> None:
        """Do the work. ``request`` is a :class:`RequestSnapshot` (or, with
        ``THREAD_SAFE = False``, the ``HttpRequest``)."""
        raise NotImplementedError


class ResponderImplementation(_Plugin):
    """Answers the requests it ``handles()`` (the first responder that does wins).

    ``respond(request, content)`` returns an ``HttpResponse``/``StreamingHttpResponse``,
    which is used as is, or an iterable or async iterable of ``bytes``/``str``, which is
    streamed chunk by chunk with ``content_type``, ``status`` and ``headers``. It may be
    ``async def`` (or an async generator). It runs in the request's thread, or on the
    event loop when it is async.
    """

    name: ClassVar[str] = UNSET_RESPONDER_NAME
    kind: ClassVar[PluginKind] = "responder"
    _unset: ClassVar[str] = UNSET_RESPONDER_NAME
    #: Of a streamed answer. ``None``: Django's default (``text/html; charset=utf-8``).
    content_type: ClassVar[str | None] = None
    status: ClassVar[int] = 200
    headers: ClassVar[Mapping[str, str]] = {}

    def respond(self, request: HttpRequest, content: bytes) -> Any:
        """Answer ``request``: a response, or chunks to stream."""
        raise NotImplementedError


def dotted(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


# ------------------------------------------------------------ the snapshot


class Headers(Mapping[str, str]):
    """Request headers, read-only, looked up without regard to case. Picklable."""

    __slots__ = ("_items", "_lower")

    def __init__(self, items: Sequence[tuple[str, str]] = ()) -> None:
        self._items = tuple((str(k), str(v)) for k, v in items)
        self._lower = {k.lower(): v for k, v in self._items}

    def __getitem__(self, key: str) -> str:
        return self._lower[key.lower()]

    def __iter__(self) -> Iterator[str]:
        return (k for k, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._lower

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Headers) and other._items == self._items

    def __hash__(self) -> int:
        return hash(self._items)

    def __reduce__(self) -> tuple[Any, ...]:
        return (Headers, (self._items,))

    def __repr__(self) -> str:
        return f"Headers({dict(self._items)!r})"


def new_request_id() -> str:
    """A fresh request id: 32 hex digits of OS randomness (``os.urandom``).

    Unique across processes and threads without coordination, and not guessable, so an
    id that reaches a client or a log cannot be predicted by someone else.
    """
    return os.urandom(16).hex()


@dataclass(frozen=True)
class RequestSnapshot:
    """What a thread-safe handler gets instead of the request: a frozen, picklable copy.

    It holds no reference to the ``HttpRequest``, so a pool thread may use it after the
    response was sent, and it can cross a process boundary (``pickle``) unchanged.
    """

    method: str
    #: ``request.path``: the path, without the query string.
    path: str
    #: ``request.get_full_path()``: the path and the query string.
    full_path: str
    #: The query string as ``(name, value)`` pairs, in order, repeats kept.
    query: tuple[tuple[str, str], ...]
    headers: Headers
    content: bytes
    #: ``REMOTE_ADDR`` as the server saw it (behind a proxy: the proxy's address).
    remote_addr: str | None
    scheme: str
    #: The authenticated user's primary key, ``None`` if anonymous or without auth.
    user_id: Any
    #: The id hookpipe gave this request (also ``request.hookpipe.request_id``).
    request_id: str = field(default_factory=new_request_id)

    @classmethod
    def from_request(cls, request: HttpRequest, content: bytes, request_id: str) -> RequestSnapshot:
        return cls(
            method=request.method or "",
            path=request.path,
            full_path=request.get_full_path(),
            query=tuple((k, v) for k, values in request.GET.lists() for v in values),
            headers=Headers(_headers(request.META)),
            content=content,
            remote_addr=request.META.get("REMOTE_ADDR"),
            scheme=request.scheme or "",
            user_id=_user_id(request),
            request_id=request_id,
        )

    def param(self, name: str, default: str | None = None) -> str | None:
        """The last value of query parameter ``name`` (like ``request.GET.get``)."""
        found = default
        for key, value in self.query:
            if key == name:
                found = value
        return found

    def json(self) -> Any:
        """``content`` parsed as JSON (raises ``ValueError`` if it is not)."""
        return json.loads(self.content)


def _headers(meta: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The request's headers from ``META``, named as ``request.headers`` names them
    (``HttpHeaders.parse_header_name``), without building ``request.headers`` first."""
    found = []
    for key, value in meta.items():
        if key.startswith("HTTP_"):
            key = key[5:]
        elif key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            continue
        found.append((key.replace("_", "-").title(), value))
    return found


def _user_id(request: HttpRequest) -> Any:
    user = getattr(request, "user", None)
    try:
        if user is None or not user.is_authenticated:
            return None
        return user.pk
    except Exception:  # a broken session or auth backend must not stop the handlers
        return None


# ----------------------------------------------------------------- planning


@dataclass(frozen=True)
class PluginSpec:
    """One ``HANDLERS``/``RESPONDERS`` entry, imported, checked and configured."""

    kind: PluginKind
    index: int
    path: str
    cls: type[_Plugin]
    name: str
    config: PluginConfig

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
    found: list[tuple[PluginKind, int, str, type[_Plugin]]] = []
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
    for kind, index, path, cls in found:
        where = f'HOOKPIPE["{kind.upper()}S"][{index}] ({path})'
        name = _check_name(where, cls, problems)
        if name is None:
            continue
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
        subconfig = _check_subconfig(where, cls, problems)
        methods_ok = _check_methods(where, kind, cls, problems)
        if subconfig is None or not _check_prefilters(where, cls, problems) or not methods_ok:
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
        own = given.get(name, {})
        if not isinstance(own, Mapping):
            problems.append(
                checks.Error(
                    f'HOOKPIPE["PLUGINS"][{name!r}] must be a dict of subconfig values, '
                    f"not {type(own).__name__}.",
                    id=BAD_PLUGIN_SETTINGS,
                )
            )
            continue
        unknown = [key for key in own if key not in subconfig]
        for key in unknown:
            known = ", ".join(subconfig) or "none"
            problems.append(
                checks.Error(
                    f'HOOKPIPE["PLUGINS"][{name!r}] has {key!r}, which {dotted(cls)} does '
                    "not declare in its subconfig.",
                    hint=f"Declared keys: {known}.",
                    id=BAD_PLUGIN_SETTINGS,
                )
            )
        config, config_problems = resolve(name, subconfig, own, environ_)
        for check_id, key, message in config_problems:
            setting = subconfig[key]
            hint = f"{key}: {setting.cast.__name__}" + (f", {setting.help}" if setting.help else "")
            problems.append(checks.Error(f"{where}: {message}", hint=hint, id=check_id))
        if config_problems or unknown or clash:
            continue
        specs.append(PluginSpec(kind, index, path, cls, name, config))
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
) -> type[_Plugin] | None:
    where = f'HOOKPIPE["{kind.upper()}S"][{index}]'
    base: type[_Plugin] = HandlerImplementation if kind == "handler" else ResponderImplementation
    public = f"hookpipe.{base.__name__}"
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
                hint="Check the dotted path; the module must be importable.",
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


def _check_name(where: str, cls: type[_Plugin], problems: list[checks.CheckMessage]) -> str | None:
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


def _check_subconfig(
    where: str, cls: type[_Plugin], problems: list[checks.CheckMessage]
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
        elif not setting.required and _fit(setting.default, setting.cast) is _MISFIT:
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


def _check_methods(
    where: str, kind: PluginKind, cls: type[_Plugin], problems: list[checks.CheckMessage]
) -> bool:
    base: type[_Plugin] = HandlerImplementation if kind == "handler" else ResponderImplementation
    work = "handle" if kind == "handler" else "respond"
    ok = True
    for method in ("handles", work):
        fn = getattr(cls, method, None)
        if fn is getattr(base, method) or fn is getattr(_Plugin, method, None):
            ok = False
            problems.append(
                checks.Error(
                    f"{where}: {dotted(cls)} does not implement {method}().",
                    hint=f"A {kind} overrides handles(request, content) and "
                    f"{work}(request, content).",
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


def prefilters(cls: type[_Plugin]) -> tuple[frozenset[str] | None, tuple[str, ...] | None]:
    """A plugin class's prefilters, normalised: upper-case methods, prefixes as a tuple.

    ``None`` means no filter. Only for a class that passed :func:`_check_prefilters`.
    """
    methods = cls.methods
    prefixes = cls.path_prefixes
    return (
        None if methods is None else frozenset(m.upper() for m in methods),
        None if prefixes is None else tuple(prefixes),
    )


def _check_prefilters(where: str, cls: type[_Plugin], problems: list[checks.CheckMessage]) -> bool:
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
    return ok


class PluginConstructorError(ImproperlyConfigured):
    """A plugin's ``__init__`` raised while the pipeline was built."""


def build_plugins(specs: Sequence[PluginSpec]) -> list[_Plugin]:
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
