"""Reads the ``HOOKPIPE`` setting and normalises it, once.

Everything that can be said about the *shape* of the setting, without importing any
user code, is said here, as Django check messages (see docs/checks.rst). Importing the
dotted paths and ordering the tweens happen in :mod:`hookpipe.core`.

The normalised :class:`Config` is cached and the cache is dropped on ``setting_changed``,
so ``override_settings(HOOKPIPE=...)`` takes effect on the next request.
"""

from __future__ import annotations

import difflib
import sys
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from django.conf import settings
from django.core import checks
from django.core.signals import setting_changed
from django.dispatch import receiver

from .check_ids import (
    BAD_TWEEN_ENTRY,
    BAD_TWEEN_ORDER,
    BAD_VALUE,
    NOT_A_DICT,
    UNKNOWN_KEY,
    UNKNOWN_TWEEN_KEY,
)

SETTING = "HOOKPIPE"

#: Every key of ``HOOKPIPE`` with its default, sections with theirs: the one table of
#: defaults, documented in ``docs/settings.rst``.
DEFAULTS: Mapping[str, Any] = MappingProxyType(
    {
        "TWEENS": [],
        "TWEEN_ORDER": None,
        "HOOKS": [],
        "HANDLERS": [],
        "RESPONDERS": [],
        "PLUGINS": {},
        # The process's handler pool (docs/plugins.rst).
        "THREAD_POOL": MappingProxyType({"MAX_WORKERS": 8, "MAX_QUEUE": 1000, "ON_FULL": "block"}),
        # Handlers that run as tasks (RUNNER = "task"; docs/durable.rst).
        "TASK_RUNNER": MappingProxyType(
            {
                # The largest JSON form of a snapshot (base64 body included); a larger
                # one is refused with 413, counted. 4 MiB holds Django's default 2.5 MiB.
                "MAX_SNAPSHOT_BYTES": 4 * 1024 * 1024,
                # When the backend cannot store the job: "503" (the sender retries) or
                # "pool" (run it in this process's pool, as a pool handler would).
                "ON_ENQUEUE_ERROR": "503",
                # A database backend's task worker writes a heartbeat this often
                # (seconds) and sweeps for jobs whose worker stopped beating.
                "HEARTBEAT_EVERY": 5,
                # A job RUNNING on a worker whose last beat is older than this (seconds)
                # was abandoned: it is made READY again. With the beat above, a killed
                # worker's job is READY again 15 to 25 s after the kill: within 30 s.
                "HEARTBEAT_TIMEOUT": 20,
                # A queue whose oldest waiting job has waited longer than this (seconds)
                # has a backlog: marked in the admin, logged by the task workers.
                "BACKLOG_AFTER": 60,
                # The fallback for a job whose worker never beat (a worker that does
                # not load hookpipe's app): RUNNING for longer than this is abandoned.
                "ABANDONED_AFTER": 600,
                # Seconds an idempotency key is kept: a delivery with the same key is
                # a duplicate for that long. Stripe retries for up to 3 days; a week
                # leaves room for a manual redelivery.
                "IDEMPOTENCY_KEEP": 7 * 24 * 3600,
                # RabbitMQ's consumer_timeout for a Celery backend's queues (seconds;
                # None: the broker enforces none): a Celery worker holds a deferred
                # retry unacknowledged until it is due, and RabbitMQ closes its channel
                # after this long: manage.py check warns. 1800 is RabbitMQ's default.
                "CONSUMER_TIMEOUT": 1800,
            }
        ),
        # The fleet app's runtime switches (docs/fleet.rst).
        "SWITCHES": MappingProxyType(
            {
                # Seconds between two reads of the switch table by one process: the
                # bound on how long a switch takes to reach a serving process.
                "CHECK_EVERY": 10.0,
                # Names of plugins that cannot be switched off at run time.
                "LOCKED": (),
            }
        ),
        # The fleet app's published records (docs/fleet.rst).
        "CLUSTER": MappingProxyType(
            {
                # False: this process neither publishes its state nor reads the fleet's.
                "ENABLED": True,
                # The alias in CACHES that every process of the fleet shares.
                "CACHE": "default",
                # Seconds between two publications of one process's state.
                "PUBLISH_EVERY": 5.0,
                # A process not seen for this long is shown greyed out ...
                "STALE_AFTER": 15.0,
                # ... and after this long it is dropped (and left out of the totals).
                "DROP_AFTER": 60.0,
                # Prefix of every cache key hookpipe writes.
                "KEY_PREFIX": "hookpipe:cluster",
                # Processes the fleet can list at once: one cache key (a slot) each,
                # and a read fetches them all in one get_many.
                "MAX_PROCESSES": 256,
            }
        ),
        "METRICS": MappingProxyType(
            {
                # True: the pipeline is built with each tween, hook, responder and MAIN
                # timed, and handler jobs' durations kept in buckets (hookpipe.durations).
                "DURATIONS": False,
                # A scraper that cannot log in sends "Authorization: Bearer <token>";
                # empty: only users with hookpipe.view_pipeline may read the metrics.
                "BEARER_TOKEN": "",
            }
        ),
        # OpenTelemetry spans and the Server-Timing header (docs/tracing.rst).
        "TRACING": MappingProxyType(
            {
                # True: spans for hookpipe's part of each request (needs hookpipe[otel]).
                "ENABLED": False,
                # Which pieces get a span of their own, under the request's span.
                "SPANS": ("tween", "hook", "responder", "handler", "task"),
                # True: a Server-Timing header, one entry per piece that ran. It tells
                # any client how the server spends its time: not for production.
                "SERVER_TIMING": False,
            }
        ),
    }
)
#: The pieces ``HOOKPIPE["TRACING"]["SPANS"]`` may name.
SPAN_KINDS = ("tween", "hook", "responder", "handler", "task")
ON_FULL_CHOICES = ("block", "reject", "inline")
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


#: Keys that were renamed, by ``(section, old key)``: the new spelling, which the
#: "unknown key" check message then names (CHANGELOG.md, "Upgrading").
RENAMED = {
    # One meaning per word: the fleet's STALE_AFTER greys out a silent process.
    ("TASK_RUNNER", "STALE_AFTER"): "ABANDONED_AFTER",
    # The sweep a worker ran when a task started is its heart's now, at each beat.
    ("TASK_RUNNER", "RECOVER_EVERY"): "HEARTBEAT_EVERY",
}


def unknown_key_hint(section: str, key: object, choices: Iterable[str]) -> str:
    """The hint for an unknown key of ``HOOKPIPE[section]``: its new spelling when it
    was renamed, else :func:`did_you_mean`."""
    new = RENAMED.get((section, str(key)))
    if new is not None:
        return f'It was renamed: write "{new}" (see "Upgrading" in the CHANGELOG).'
    return did_you_mean(key, choices)


def did_you_mean(key: object, choices: Iterable[str], known_as: str = "Known keys") -> str:
    """A hint naming the closest choice, if one is close, and every choice."""
    known_keys = list(choices)
    close = difflib.get_close_matches(str(key), known_keys, n=1)
    known = ", ".join(known_keys) or "none"
    if close:
        return f"Did you mean {close[0]!r}? {known_as}: {known}."
    return f"{known_as}: {known}."


def import_hint(path: str) -> str:
    """The hint for a dotted path that did not import. When its module did import and
    only the name in it is missing (a typo), the closest name the module has."""
    module_path, _, name = path.rpartition(".")
    module = sys.modules.get(module_path)
    if module is not None and name:
        names = [n for n in vars(module) if not n.startswith("_")]
        close = difflib.get_close_matches(name, names, n=1)
        if close:
            return f"Did you mean {module_path}.{close[0]}? {module_path} has no {name!r}."
    return "Check the dotted path; the module must be importable."


def type_name(value: object) -> str:
    """How a message names the type of a wrong value: ``list``, ``str``..."""
    return type(value).__name__


@dataclass(frozen=True)
class Config:
    """The normalised ``HOOKPIPE`` setting plus what is wrong with its shape."""

    tweens: tuple[TweenEntry, ...] = ()
    tween_order: tuple[str, ...] | None = None
    hooks: tuple[Any, ...] = ()
    handlers: tuple[Any, ...] = ()
    responders: tuple[Any, ...] = ()
    plugins: Mapping[str, Any] = field(default_factory=dict)
    thread_pool: Mapping[str, Any] = field(default_factory=lambda: DEFAULTS["THREAD_POOL"])
    task_runner: Mapping[str, Any] = field(default_factory=lambda: DEFAULTS["TASK_RUNNER"])
    switches: Mapping[str, Any] = field(default_factory=lambda: DEFAULTS["SWITCHES"])
    cluster: Mapping[str, Any] = field(default_factory=lambda: DEFAULTS["CLUSTER"])
    metrics: Mapping[str, Any] = field(default_factory=lambda: DEFAULTS["METRICS"])
    tracing: Mapping[str, Any] = field(default_factory=lambda: DEFAULTS["TRACING"])
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
        # A section left out reads as its defaults; one given is read over them.
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
            switches=self.switches(values["SWITCHES"]),
            cluster=self.cluster(values["CLUSTER"]),
            metrics=self.metrics(values["METRICS"]),
            tracing=self.tracing(values["TRACING"]),
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

    def section(self, key: str, raw: Any) -> dict[str, Any]:
        """``HOOKPIPE[key]`` over its defaults; unknown keys reported (with the new
        spelling of a renamed one). A bad value is reported by the caller, which puts
        the default in its place: one policy for every section."""
        defaults = DEFAULTS[key]
        if raw is None:
            raw = {}
        if not isinstance(raw, Mapping):
            self.error(BAD_VALUE, f'{SETTING}["{key}"] must be a dict, not {type_name(raw)}.')
            raw = {}
        for name in raw:
            if name not in defaults:
                self.error(
                    UNKNOWN_KEY,
                    f'{SETTING}["{key}"] has an unknown key {name!r}.',
                    unknown_key_hint(key, name, defaults),
                )
        return {**defaults, **{k: v for k, v in raw.items() if k in defaults}}

    def bad_value(
        self, key: str, name: str, values: dict[str, Any], must: str, hint: str | None = None
    ) -> None:
        self.error(
            BAD_VALUE,
            f'{SETTING}["{key}"]["{name}"] must be {must}, not {values[name]!r}.',
            hint,
        )
        values[name] = DEFAULTS[key][name]

    def positive(self, key: str, name: str, values: dict[str, Any]) -> None:
        value = values[name]
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            self.bad_value(key, name, values, "a number > 0")

    def thread_pool(self, raw: Any) -> Mapping[str, Any]:
        pool = self.section("THREAD_POOL", raw)
        for name, minimum in (("MAX_WORKERS", 1), ("MAX_QUEUE", 0)):
            value = pool[name]
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                self.bad_value("THREAD_POOL", name, pool, f"an integer >= {minimum}")
        if pool["ON_FULL"] not in ON_FULL_CHOICES:
            self.bad_value(
                "THREAD_POOL", "ON_FULL", pool, "one of " + ", ".join(map(repr, ON_FULL_CHOICES))
            )
        return MappingProxyType(pool)

    def task_runner(self, raw: Any) -> Mapping[str, Any]:
        runner = self.section("TASK_RUNNER", raw)
        for name in (
            "MAX_SNAPSHOT_BYTES",
            "HEARTBEAT_EVERY",
            "HEARTBEAT_TIMEOUT",
            "BACKLOG_AFTER",
            "ABANDONED_AFTER",
            "IDEMPOTENCY_KEEP",
        ):
            self.positive("TASK_RUNNER", name, runner)
        if runner["CONSUMER_TIMEOUT"] is not None:
            self.positive("TASK_RUNNER", "CONSUMER_TIMEOUT", runner)
        if runner["HEARTBEAT_TIMEOUT"] <= runner["HEARTBEAT_EVERY"]:
            # A timeout within one beat would take live workers for dead.
            self.bad_value(
                "TASK_RUNNER",
                "HEARTBEAT_TIMEOUT",
                runner,
                "a number of seconds above HEARTBEAT_EVERY (several beats: 4 * HEARTBEAT_EVERY)",
            )
        if runner["ON_ENQUEUE_ERROR"] not in ON_ENQUEUE_ERROR_CHOICES:
            self.bad_value(
                "TASK_RUNNER",
                "ON_ENQUEUE_ERROR",
                runner,
                "one of " + ", ".join(map(repr, ON_ENQUEUE_ERROR_CHOICES)),
            )
        return MappingProxyType(runner)

    def switches(self, raw: Any) -> Mapping[str, Any]:
        values = self.section("SWITCHES", raw)
        self.positive("SWITCHES", "CHECK_EVERY", values)
        locked = values["LOCKED"]
        if not isinstance(locked, list | tuple) or not all(isinstance(x, str) for x in locked):
            self.bad_value("SWITCHES", "LOCKED", values, "a list of plugin names")
        values["LOCKED"] = tuple(values["LOCKED"])
        return MappingProxyType(values)

    def cluster(self, raw: Any) -> Mapping[str, Any]:
        values = self.section("CLUSTER", raw)
        for name in ("PUBLISH_EVERY", "STALE_AFTER", "DROP_AFTER"):
            self.positive("CLUSTER", name, values)
        slots = values["MAX_PROCESSES"]
        if isinstance(slots, bool) or not isinstance(slots, int) or not 1 <= slots <= 10_000:
            self.bad_value("CLUSTER", "MAX_PROCESSES", values, "an integer from 1 to 10000")
        for name in ("CACHE", "KEY_PREFIX"):
            if not isinstance(values[name], str) or not values[name]:
                self.bad_value("CLUSTER", name, values, "a non-empty string")
        if not isinstance(values["ENABLED"], bool):
            self.bad_value("CLUSTER", "ENABLED", values, "True or False")
        if values["DROP_AFTER"] < values["STALE_AFTER"]:
            self.error(
                BAD_VALUE,
                f'{SETTING}["CLUSTER"]["DROP_AFTER"] must not be less than "STALE_AFTER".',
                "A process is first greyed out, then dropped.",
            )
        return MappingProxyType(values)

    def metrics(self, raw: Any) -> Mapping[str, Any]:
        values = self.section("METRICS", raw)
        if not isinstance(values["DURATIONS"], bool):
            self.bad_value(
                "METRICS",
                "DURATIONS",
                values,
                "True or False",
                "Timing every plugin is opt in: DURATIONS = True.",
            )
        if not isinstance(values["BEARER_TOKEN"], str):
            self.bad_value(
                "METRICS",
                "BEARER_TOKEN",
                values,
                "a string",
                "Read it from the environment, e.g. env.str('METRICS_TOKEN', default='').",
            )
        return MappingProxyType(values)

    def tracing(self, raw: Any) -> Mapping[str, Any]:
        values = self.section("TRACING", raw)
        for name in ("ENABLED", "SERVER_TIMING"):
            if not isinstance(values[name], bool):
                self.bad_value("TRACING", name, values, "True or False")
        spans = values["SPANS"]
        if not isinstance(spans, list | tuple | set | frozenset) or not all(
            s in SPAN_KINDS for s in spans
        ):
            self.bad_value(
                "TRACING",
                "SPANS",
                values,
                "a list of " + ", ".join(map(repr, SPAN_KINDS)),
                "The request's own span is always made; list the pieces that get theirs.",
            )
        values["SPANS"] = frozenset(values["SPANS"])
        return MappingProxyType(values)
