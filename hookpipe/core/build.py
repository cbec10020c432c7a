"""One pipeline, built from a :class:`~hookpipe.core.plan.Plan`: the global hooks
and the plugins instantiated, the tween factories called innermost first and linked
into a chain that ends in MAIN."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured

from .. import conf, durations, tracing
from ..hooks import HookConstructorError, HookRuntime, build_hooks
from ..jobs import process_pool
from ..plugins.dispatch import PluginRuntime
from ..plugins.planning import PluginConstructorError, build_plugins
from .chain import Link, chain_handler_tween, handler_below, is_async_tween
from .main import main_async, main_hooked_async, main_hooked_sync, main_sync
from .ordering import MAIN
from .plan import Plan

if TYPE_CHECKING:
    from django.conf import LazySettings


class Registry:
    """Given to tween factories as ``registry`` and to chain handlers as ``app``.

    ``settings`` is Django's settings, ``config`` the normalised ``HOOKPIPE``, and
    ``pipeline`` the built pipeline (``None`` while the factories are being called),
    whose :meth:`Pipeline.describe` is what the admin page and the command show.
    """

    def __init__(self, config: conf.Config) -> None:
        self.config = config
        self.pipeline: Pipeline | None = None

    @property
    def settings(self) -> LazySettings:
        return django_settings


@dataclass(frozen=True)
class TweenInfo:
    """One tween as built, for introspection."""

    name: str
    factory: str
    kind: conf.TweenKind
    over: tuple[str, ...]
    under: tuple[str, ...]
    omitted: bool
    is_async: bool | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "factory": self.factory,
            "kind": self.kind,
            "over": list(self.over),
            "under": list(self.under),
            "omitted": self.omitted,
            "is_async": self.is_async,
        }


class Pipeline:
    """The built chain for one configuration. Use :func:`get_pipeline` to get one."""

    def __init__(self, built_plan: Plan, switched_off: frozenset[str] = frozenset()) -> None:
        #: The plugins an operator switched off (hookpipe.fleet); ``built_plan`` is
        #: already without them.
        self.switched_off = switched_off
        # Warnings (an unknown RequestViewerHook item) are reported by the checks but
        # do not stop the build.
        errors = [p for p in built_plan.problems if p.is_serious()]
        if errors:
            raise ImproperlyConfigured(
                "HOOKPIPE is not valid (run 'manage.py check' for hints):\n"
                + "\n".join(f"  {p.id}: {p.msg}" for p in errors)
            )
        self.config = built_plan.config
        self.explicit = built_plan.explicit
        self.registry = Registry(self.config)
        #: This process's duration series when ``METRICS["DURATIONS"]`` is on, else None:
        #: then nothing below is wrapped in a timer (see hookpipe.durations).
        self.timer = durations.store() if self.config.metrics["DURATIONS"] else None
        #: The probes of ``HOOKPIPE["TRACING"]`` (spans, Server-Timing), else None: then,
        #: as for the timer, nothing below is wrapped (see hookpipe.tracing).
        self.instruments = tracing.instruments(self.config.tracing)
        # Global hooks: instantiated once per build, sorted once (hookpipe.hooks). A
        # constructor that raises is a build failure, retried like a factory's.
        try:
            global_hooks = build_hooks(built_plan.hooks)
        except HookConstructorError as exc:
            raise BuildError(str(exc)) from exc
        self.hooks = HookRuntime(global_hooks, built_plan.hooks, self.timer, self.instruments)
        # Handlers and responders: instantiated once per build with their subconfig.
        try:
            plugins = build_plugins(built_plan.plugins)
        except PluginConstructorError as exc:
            raise BuildError(str(exc)) from exc
        #: ``None`` without plugins, so that MAIN skips them (and the body) at once.
        self.plugins: PluginRuntime | None = (
            PluginRuntime(
                plugins,
                built_plan.plugins,
                self.config.thread_pool,
                self.config.task_runner,
                self.timer,
                self.instruments,
            )
            if plugins
            else None
        )
        main: tuple[Any, Any] = (main_sync, main_async)
        if self.hooks.active:
            main = (main_hooked_sync, main_hooked_async)
        if self.timer is not None:
            series = self.timer.series("main", MAIN, "call")
            main = (durations.timed(main[0], series, False), durations.timed(main[1], series, True))
        if self.instruments is not None:
            main = (self.instruments.main(main[0], False), self.instruments.main(main[1], True))
        link = Link(MAIN, *main)
        infos: list[TweenInfo] = []
        # Innermost first: each factory needs the handler it wraps.
        for entry in reversed(built_plan.tweens):
            link, info = self._build_one(entry, built_plan.objects[entry.name], link)
            infos.append(info)
        if self.instruments is not None:  # the request's span around the whole chain
            link = Link(link.name, *self.instruments.request(link.call_sync, link.call_async))
        #: The outermost link: where process.serve_sync and serve_async hand each request.
        self.top = link
        self.tweens = tuple(reversed(infos))
        self.registry.pipeline = self

    def _build_one(self, entry: conf.TweenEntry, obj: Any, below: Link) -> tuple[Link, TweenInfo]:
        downstream, bind = handler_below(below, chain=entry.kind == "handler")
        if entry.kind == "handler":
            what = "chain handler"
            tween = chain_handler_tween(obj, self.registry, downstream)
        else:
            what = "tween"
            try:
                tween = obj(downstream, self.registry, **entry.options)
            except Exception as exc:
                raise BuildError(
                    f"{entry.label}: the tween factory {entry.path!r} raised "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
        info = TweenInfo(entry.name, entry.path, entry.kind, entry.over, entry.under, omitted=True)
        if tween is downstream:
            return below, info
        if not callable(tween):
            raise BuildError(
                f"{entry.label}: the tween factory {entry.path!r} returned "
                f"{type(tween).__name__}, not a callable tween (or the handler to omit it)."
            )
        is_async = is_async_tween(tween)
        bind(is_async)
        if self.timer is not None:  # the tween and all it wraps, as its caller sees it
            tween = durations.timed(tween, self.timer.series("tween", entry.name, "call"), is_async)
        if self.instruments is not None:  # inside the guard: the span sees the error
            tween = self.instruments.tween(tween, entry.name, what, is_async)
        link = Link.around(entry.name, tween, is_async, what)
        return link, dataclasses.replace(info, omitted=False, is_async=is_async)

    def describe(self) -> dict[str, Any]:
        """The pipeline as plain data: what ``manage.py hookpipe --json`` prints.

        ``handlers`` and ``responders`` carry their subconfig (secrets redacted) and
        this process's counters; ``pool`` is the thread pool's state in this process,
        ``None`` until the first handler job starts it.
        """
        plugins = self.plugins.describe() if self.plugins is not None else {}
        pool = process_pool.current_pool()
        return {
            "tween_order": "explicit" if self.explicit else "implicit",
            "tweens": [t.as_dict() for t in self.tweens],
            "hooks": self.hooks.describe(),
            "handlers": plugins.get("handlers", []),
            "responders": plugins.get("responders", []),
            "pool": pool.state() if pool is not None else None,
        }


class BuildError(ImproperlyConfigured):
    """A tween factory raised or returned a non-callable while the chain was built."""
