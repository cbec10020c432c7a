"""Reads the ``HOOKPIPE`` setting and normalises it, once.

Everything that can be said about the *shape* of the setting, without importing any
user code, is said here, as Django check messages (see docs/checks.rst). Importing the
dotted paths and ordering the tweens happen in :mod:`hookpipe.core`.

The normalised :class:`Config` is cached and the cache is dropped on ``setting_changed``,
so ``override_settings(HOOKPIPE=...)`` takes effect on the next request.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from django.conf import settings
from django.core import checks
from django.core.signals import setting_changed
from django.dispatch import receiver

from . import fleetconf
from .check_ids import (
    BAD_TWEEN_ENTRY,
    BAD_TWEEN_ORDER,
    BAD_VALUE,
    NOT_A_DICT,
    UNKNOWN_KEY,
    UNKNOWN_TWEEN_KEY,
)
from .confhelp import did_you_mean, type_name, unknown_key_hint

SETTING = "HOOKPIPE"

#: Every key of ``HOOKPIPE`` with its default. Documented in ``docs/settings.rst``.
DEFAULTS: Mapping[str, Any] = MappingProxyType(
    {
        "TWEENS": [],
        "TWEEN_ORDER": None,
        "HOOKS": [],
        "HANDLERS": [],
        "RESPONDERS": [],
        "PLUGINS": {},
        "THREAD_POOL": {},
        "TASK_RUNNER": {},
        "SWITCHES": {},
        "CLUSTER": {},
        "METRICS": {},
    }
)
THREAD_POOL_DEFAULTS: Mapping[str, Any] = MappingProxyType(
    {"MAX_WORKERS": 8, "MAX_QUEUE": 1000, "ON_FULL": "block"}
)
ON_FULL_CHOICES = ("block", "reject", "inline")
#: Handlers that run as tasks (``RUNNER = "task"``); see docs/durable.rst.
TASK_RUNNER_DEFAULTS: Mapping[str, Any] = MappingProxyType(
    {
        # The largest JSON form of a snapshot (base64 body included); a larger one is
        # refused with 413, counted. 4 MiB holds Django's default 2.5 MiB body.
        "MAX_SNAPSHOT_BYTES": 4 * 1024 * 1024,
        # When the backend cannot store the job: "503" (the sender retries) or "pool"
        # (run it in this process's pool, as a handler without RUNNER = "task" would).
        "ON_ENQUEUE_ERROR": "503",
        # A database-backend task of hookpipe's RUNNING for longer than this (seconds)
        # is taken to have lost its worker and is made READY again.
        "ABANDONED_AFTER": 600,
        # How often (seconds, at most) a task worker sweeps for such tasks by itself.
        "RECOVER_EVERY": 60,
    }
)
ON_ENQUEUE_ERROR_CHOICES = ("503", "pool")
TWEEN_KEYS = ("factory", "handler", "name", "over", "under", "options")

TweenKind = Literal["factory", "handler"]


@dataclass(frozen=True)
class TweenEntry:
    """One entry of ``HOOKPIPE["TWEENS"]``, normalised."""

    index: int
    kind: TweenKind
    #: Dotted path of the factory (``kind == "factory"``) or the chain handler.
    path: str
    name: str
    over: tuple[str, ...] = ()
    under: tuple[str, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)
    #: ``over`` and ``under`` as the settings wrote them (a string or a list), for
    #: messages that quote them.
    written: Mapping[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """How messages name this entry: where it is in settings, and what it is."""
        return f'{SETTING}["TWEENS"][{self.index}] ({self.name!r})'


@dataclass(frozen=True)
class Config:
    """The normalised ``HOOKPIPE`` setting plus what is wrong with its shape."""

    tweens: tuple[TweenEntry, ...] = ()
    tween_order: tuple[str, ...] | None = None
    hooks: tuple[Any, ...] = ()
    handlers: tuple[Any, ...] = ()
    responders: tuple[Any, ...] = ()
    plugins: Mapping[str, Any] = field(default_factory=dict)
    thread_pool: Mapping[str, Any] = field(default_factory=lambda: THREAD_POOL_DEFAULTS)
    task_runner: Mapping[str, Any] = field(default_factory=lambda: TASK_RUNNER_DEFAULTS)
    switches: Mapping[str, Any] = field(default_factory=lambda: fleetconf.SWITCHES_DEFAULTS)
    cluster: Mapping[str, Any] = field(default_factory=lambda: fleetconf.CLUSTER_DEFAULTS)
    metrics: Mapping[str, Any] = field(default_factory=lambda: fleetconf.METRICS_DEFAULTS)
    #: True when the project defines ``HOOKPIPE`` at all (even as ``{}``).
    declared: bool = False
    problems: tuple[checks.CheckMessage, ...] = ()


_lock = threading.Lock()
_cached: Config | None = None


def get_config() -> Config:
    """The normalised setting; computed on first use, then cached."""
    global _cached
    config = _cached
    if config is None:
        with _lock:
            if _cached is None:
                _cached = load(getattr(settings, SETTING, None), hasattr(settings, SETTING))
            config = _cached
    return config


@receiver(setting_changed)
def _reset(*, setting: str, **kwargs: Any) -> None:
    global _cached
    if setting == SETTING:
        _cached = None


def load(raw: Any, declared: bool = True) -> Config:
    """Normalise a raw ``HOOKPIPE`` value; never raises, problems are returned as data."""
    return _Loader().load(raw, declared)


class _Loader:
    def __init__(self) -> None:
        self.problems: list[checks.CheckMessage] = []

    def error(self, id: str, msg: str, hint: str | None = None) -> None:
        self.problems.append(checks.Error(msg, hint=hint, id=id))

    def fleet_error(self, kind: str, msg: str, hint: str | None) -> None:
        self.error(UNKNOWN_KEY if kind == "unknown" else BAD_VALUE, msg, hint)

    def load(self, raw: Any, declared: bool) -> Config:
        if raw is None:
            raw = {}
        if not isinstance(raw, Mapping):
            self.error(
                NOT_A_DICT,
                f"{SETTING} must be a dict, not {type_name(raw)}.",
                'Write HOOKPIPE = {"TWEENS": [...]} or leave it out.',
            )
            return Config(declared=declared, problems=tuple(self.problems))
        for key in raw:
            if key not in DEFAULTS:
                self.error(
                    UNKNOWN_KEY,
                    f"{SETTING} has an unknown key {key!r}.",
                    did_you_mean(key, DEFAULTS),
                )
        values = {key: raw.get(key, default) for key, default in DEFAULTS.items()}
        lists = {}
        for key in ("TWEENS", "HOOKS", "HANDLERS", "RESPONDERS"):
            lists[key] = self.sequence(key, values[key])
        tweens = tuple(
            t for i, e in enumerate(lists["TWEENS"]) if (t := self.tween(i, e)) is not None
        )
        return Config(
            tweens=tweens,
            tween_order=self.tween_order(values["TWEEN_ORDER"]),
            hooks=lists["HOOKS"],
            handlers=lists["HANDLERS"],
            responders=lists["RESPONDERS"],
            plugins=self.mapping("PLUGINS", values["PLUGINS"]),
            thread_pool=self.thread_pool(values["THREAD_POOL"]),
            task_runner=self.task_runner(values["TASK_RUNNER"]),
            switches=fleetconf.switches(values["SWITCHES"], self.fleet_error),
            cluster=fleetconf.cluster(values["CLUSTER"], self.fleet_error),
            metrics=fleetconf.metrics(values["METRICS"], self.fleet_error),
            declared=declared,
            problems=tuple(self.problems),
        )

    def sequence(self, key: str, value: Any) -> tuple[Any, ...]:
        if isinstance(value, list | tuple):
            return tuple(value)
        self.error(
            BAD_VALUE,
            f'{SETTING}["{key}"] must be a list, not {type_name(value)}.',
        )
        return ()

    def mapping(self, key: str, value: Any) -> Mapping[str, Any]:
        if isinstance(value, Mapping):
            return MappingProxyType(dict(value))
        self.error(
            BAD_VALUE,
            f'{SETTING}["{key}"] must be a dict, not {type_name(value)}.',
        )
        return MappingProxyType({})

    def tween(self, index: int, raw: Any) -> TweenEntry | None:
        where = f'{SETTING}["TWEENS"][{index}]'
        if isinstance(raw, str):
            return TweenEntry(index=index, kind="factory", path=raw, name=raw)
        if not isinstance(raw, Mapping):
            self.error(
                BAD_TWEEN_ENTRY,
                f"{where} must be a dotted path or a dict, not {type_name(raw)}.",
                'Write "myapp.tweens.factory" or {"factory": "myapp.tweens.factory"}.',
            )
            return None
        for key in raw:
            if key not in TWEEN_KEYS:
                self.error(
                    UNKNOWN_TWEEN_KEY,
                    f"{where} has an unknown key {key!r}.",
                    did_you_mean(key, TWEEN_KEYS),
                )
        if ("factory" in raw) == ("handler" in raw):
            self.error(
                BAD_TWEEN_ENTRY,
                f'{where} needs exactly one of "factory" or "handler".',
                '"factory" is a tween factory, "handler" a chain handler '
                "fn(app, request, next_handler).",
            )
            return None
        kind: TweenKind = "factory" if "factory" in raw else "handler"
        path = raw[kind]
        if not isinstance(path, str) or not path:
            self.error(BAD_TWEEN_ENTRY, f'{where}["{kind}"] must be a dotted path string.')
            return None
        name = raw.get("name", path)
        if not isinstance(name, str) or not name:
            self.error(BAD_TWEEN_ENTRY, f'{where}["name"] must be a non-empty string.')
            return None
        over = self.hint(where, "over", raw.get("over"))
        under = self.hint(where, "under", raw.get("under"))
        options = raw.get("options", {})
        if not isinstance(options, Mapping) or not all(isinstance(k, str) for k in options):
            self.error(
                BAD_TWEEN_ENTRY,
                f'{where}["options"] must be a dict of keyword arguments.',
            )
            return None
        if options and kind == "handler":
            self.error(
                BAD_TWEEN_ENTRY,
                f'{where} gives "options" to a chain handler, which takes none.',
                "Chain handlers are called as fn(app, request, next_handler); read "
                "settings from app.settings, or write a tween factory instead.",
            )
        if over is None or under is None:
            return None
        written = MappingProxyType({k: raw[k] for k in ("over", "under") if k in raw})
        return TweenEntry(
            index, kind, path, name, over, under, MappingProxyType(dict(options)), written
        )

    def hint(self, where: str, key: str, raw: Any) -> tuple[str, ...] | None:
        if raw is None:
            return ()
        if isinstance(raw, str):
            return (raw,)
        if isinstance(raw, list | tuple) and raw and all(isinstance(x, str) for x in raw):
            return tuple(raw)
        self.error(
            BAD_TWEEN_ENTRY,
            f'{where}["{key}"] must be a tween name, "hookpipe.INGRESS", '
            f'"hookpipe.MAIN" or a non-empty list of those, not {raw!r}.',
        )
        return None

    def tween_order(self, raw: Any) -> tuple[str, ...] | None:
        if raw is None:
            return None
        if isinstance(raw, list | tuple) and all(isinstance(x, str) for x in raw):
            return tuple(raw)
        self.error(
            BAD_TWEEN_ORDER,
            f'{SETTING}["TWEEN_ORDER"] must be None or a list of tween names, not {raw!r}.',
        )
        return None

    def thread_pool(self, raw: Any) -> Mapping[str, Any]:
        raw = self.mapping("THREAD_POOL", raw)
        for key in raw:
            if key not in THREAD_POOL_DEFAULTS:
                self.error(
                    UNKNOWN_KEY,
                    f'{SETTING}["THREAD_POOL"] has an unknown key {key!r}.',
                    unknown_key_hint("THREAD_POOL", key, THREAD_POOL_DEFAULTS),
                )
        pool = {**THREAD_POOL_DEFAULTS, **raw}
        for key, minimum in (("MAX_WORKERS", 1), ("MAX_QUEUE", 0)):
            value = pool[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                self.error(
                    BAD_VALUE,
                    f'{SETTING}["THREAD_POOL"]["{key}"] must be an integer >= {minimum}, '
                    f"not {value!r}.",
                )
        if pool["ON_FULL"] not in ON_FULL_CHOICES:
            self.error(
                BAD_VALUE,
                f'{SETTING}["THREAD_POOL"]["ON_FULL"] must be one of '
                f"{', '.join(map(repr, ON_FULL_CHOICES))}, not {pool['ON_FULL']!r}.",
            )
        return MappingProxyType(pool)

    def task_runner(self, raw: Any) -> Mapping[str, Any]:
        raw = self.mapping("TASK_RUNNER", raw)
        for key in raw:
            if key not in TASK_RUNNER_DEFAULTS:
                self.error(
                    UNKNOWN_KEY,
                    f'{SETTING}["TASK_RUNNER"] has an unknown key {key!r}.',
                    unknown_key_hint("TASK_RUNNER", key, TASK_RUNNER_DEFAULTS),
                )
        runner = {**TASK_RUNNER_DEFAULTS, **raw}
        for key in ("MAX_SNAPSHOT_BYTES", "ABANDONED_AFTER", "RECOVER_EVERY"):
            value = runner[key]
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                self.error(
                    BAD_VALUE,
                    f'{SETTING}["TASK_RUNNER"]["{key}"] must be a number > 0, not {value!r}.',
                )
        if runner["ON_ENQUEUE_ERROR"] not in ON_ENQUEUE_ERROR_CHOICES:
            self.error(
                BAD_VALUE,
                f'{SETTING}["TASK_RUNNER"]["ON_ENQUEUE_ERROR"] must be one of '
                f"{', '.join(map(repr, ON_ENQUEUE_ERROR_CHOICES))}, "
                f"not {runner['ON_ENQUEUE_ERROR']!r}.",
            )
        return MappingProxyType(runner)
