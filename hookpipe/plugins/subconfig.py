"""A plugin's typed settings (``subconfig``) and how their values are found.

A plugin declares typed settings::

    class WebhookStore(HandlerImplementation):
        name = "webhook-store"
        subconfig = {
            "TOKEN": Setting(str, secret=True),   # required: no default
            "BATCH": Setting(int, default=10),
        }

Each value comes from ``HOOKPIPE["PLUGINS"]["webhook-store"]["TOKEN"]``, else from the
environment variable ``HOOKPIPE_WEBHOOK_STORE_TOKEN`` (cast with django-environ), else
from the default. The plugin gets them, frozen, as ``self.config`` (``self.config.TOKEN``
or ``self.config["TOKEN"]``). Problems are reported by :func:`resolve` as data, for the
system checks (:mod:`hookpipe.plugins.planning`)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import environ  # type: ignore[import-untyped]

from ..check_ids import BAD_PLUGIN_VALUE as BAD_VALUE
from ..check_ids import MISSING_VALUE

#: How secret values are shown (``describe()``, the admin page, ``repr(self.config)``).
REDACTED: Final = "********"

#: The prefix of every plugin's environment variables.
ENV_PREFIX: Final = "HOOKPIPE_"


#: The types a setting may have: what django-environ can cast a variable to.
CASTS: Final[tuple[type, ...]] = (str, int, float, bool, list)
_TRUE = frozenset({"true", "on", "ok", "y", "yes", "1"})
_FALSE = frozenset({"false", "off", "n", "no", "0", ""})


def env_prefix(name: str) -> str:
    """The environment variable prefix of plugin ``name``: ``webhook-store`` ->
    ``HOOKPIPE_WEBHOOK_STORE_``. Upper-case; ``-`` and ``.`` become ``_``."""
    return ENV_PREFIX + re.sub(r"[-.]", "_", name).upper() + "_"


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
            fitted = fit(value, setting.cast)
            if fitted is MISFIT:
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


class Misfit:
    pass


MISFIT: Final = Misfit()


def fit(value: Any, cast: type) -> Any:
    """A settings value as ``cast``, or ``MISFIT``. Settings hold Python values, so no
    parsing: an int is fine for a float, a tuple for a list, ``None`` for anything."""
    if value is None:
        return None
    if cast is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if cast is int and isinstance(value, bool):
        return MISFIT
    if cast is list and isinstance(value, tuple | list):
        return list(value)
    return value if isinstance(value, cast) else MISFIT


def _cast(raw: str, cast: type) -> Any:
    """An environment variable's text as ``cast``, the way django-environ reads it
    (``environ.Env.parse_value``); a bool must be one of the words it knows."""
    if cast is bool and raw.strip().lower() not in _TRUE | _FALSE:
        raise ValueError(raw)
    return environ.Env.parse_value(raw, cast)
