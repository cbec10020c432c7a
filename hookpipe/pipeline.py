"""Builds the request pipeline from the configuration and runs requests through it.

Two steps, kept apart so that system checks can run the first without side effects:

* :func:`plan` imports every dotted path and orders the tweens. It calls no user code
  except module imports, and reports every problem as a check message.
* :class:`Pipeline` calls the tween factories, innermost first, and links the tweens
  into a chain that ends in ``MAIN``, the hookpipe core, which hands the request on to
  the rest of Django.

The chain is built once per process, lazily, by :func:`get_pipeline` (so ``gunicorn
--preload`` does not run factories in the master) and rebuilt after ``HOOKPIPE``
changes: the ``setting_changed`` signal drops the built pipeline (and the normalised
configuration, see :mod:`hookpipe.conf`), so that a request finds it with one global
read. The middleware hands each request to :func:`serve_sync` or :func:`serve_async`.

Sync and async: each link knows whether its tween is sync or async and how to be
called from either side. A link calls the next one directly when both are of the same
kind, so a run of sync tweens costs one thread hop in total, not one per tween.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
import types
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from asgiref.sync import async_to_sync, iscoroutinefunction, sync_to_async
from django.conf import settings as django_settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponseBase
from django.utils.module_loading import import_string

from . import conf, executor
from .context import GetResponse, RequestContext, attach_finished
from .dispatch import PluginRuntime, answered_async, answered_sync
from .failsafe import NotAResponse, failsafe_response
from .hooks import HookConstructorError, HookRuntime, HookSpec, State, build_hooks, plan_hooks
from .ordering import INGRESS, MAIN, OrderingError, Problem, TweenDecl, order_tweens
from .plugins import (
    PluginConstructorError,
    PluginSpec,
    build_plugins,
    plan_plugins,
)

if TYPE_CHECKING:
    from django.conf import LazySettings

logger = logging.getLogger("hookpipe")

SyncHandler = Callable[[HttpRequest], HttpResponseBase]
AsyncHandler = Callable[[HttpRequest], Awaitable[HttpResponseBase]]


# --------------------------------------------------------------------------- plan


@dataclass(frozen=True)
class Plan:
    """What the configuration asks for, imported and ordered, before anything runs."""

    config: conf.Config
    #: Tween entries in chain order, outermost first.
    tweens: tuple[conf.TweenEntry, ...]
    #: The imported factory or chain handler for each entry, by name.
    objects: dict[str, Any]
    explicit: bool
    problems: tuple[checks.CheckMessage, ...]
    #: ``HOOKPIPE["HOOKS"]`` imported and checked, in settings order.
    hooks: tuple[HookSpec, ...] = ()
    #: ``HANDLERS`` then ``RESPONDERS``, imported, checked and configured (subconfig).
    plugins: tuple[PluginSpec, ...] = ()


def plan(config: conf.Config) -> Plan:
    """Import and order what ``config`` declares; problems come back as check messages."""
    problems = list(config.problems)
    objects: dict[str, Any] = {}
    for entry in config.tweens:
        obj = _import(entry, problems)
        if obj is not None:
            objects[entry.name] = obj
    ordering = order_tweens(
        [TweenDecl(e.name, e.over, e.under, e.path) for e in config.tweens],
        None if config.tween_order is None else list(config.tween_order),
    )
    by_name: dict[str, conf.TweenEntry] = {}
    for entry in config.tweens:
        by_name.setdefault(entry.name, entry)
    duplicates: dict[str, list[int]] = {}
    for entry in config.tweens:
        duplicates.setdefault(entry.name, []).append(entry.index)
    problems.extend(_ordering_problem(e, by_name, duplicates) for e in ordering.errors)
    hook_specs, hook_problems = plan_hooks(config.hooks)
    problems.extend(hook_problems)
    # Subconfig values may come from the environment: read it now, at each check and
    # each build, never at import time.
    plugin_specs, plugin_problems = plan_plugins(
        config.handlers, config.responders, config.plugins, os.environ
    )
    problems.extend(plugin_problems)
    return Plan(
        config=config,
        tweens=tuple(by_name[name] for name in ordering.order),
        objects=objects,
        explicit=ordering.explicit,
        problems=tuple(problems),
        hooks=hook_specs,
        plugins=plugin_specs,
    )


def _import(entry: conf.TweenEntry, problems: list[checks.CheckMessage]) -> Any:
    what = "tween factory" if entry.kind == "factory" else "chain handler"
    try:
        obj = import_string(entry.path)
    except Exception as exc:  # ImportError, but also whatever the module raises
        problems.append(
            checks.Error(
                f"{entry.label}: cannot import {what} {entry.path!r}: {type(exc).__name__}: {exc}",
                hint="Check the dotted path; the module must be importable.",
                id="hookpipe.E007",
            )
        )
        return None
    if not callable(obj):
        problems.append(
            checks.Error(
                f"{entry.label}: {what} {entry.path!r} is a {type(obj).__name__}, not a callable.",
                hint="A tween factory is called as factory(handler, registry, **options); "
                "a chain handler as fn(app, request, next_handler).",
                id="hookpipe.E008",
            )
        )
        return None
    return obj


def _ordering_problem(
    error: OrderingError, by_name: dict[str, conf.TweenEntry], duplicates: dict[str, list[int]]
) -> checks.CheckMessage:
    entry = by_name.get(error.name)
    label = entry.label if entry else repr(error.name)
    known = ", ".join(repr(n) for n in by_name) or "none"
    match error.problem:
        case Problem.OVER_INGRESS:
            return checks.Error(
                f'{label} has over="{INGRESS}": nothing is closer to the ingress.',
                hint=f'Leave "over" out to place it at the top (under="{INGRESS}").',
                id="hookpipe.E010",
            )
        case Problem.UNDER_MAIN:
            return checks.Error(
                f'{label} has under="{MAIN}": nothing is closer to MAIN than MAIN.',
                hint=f'Use over="{MAIN}" to place it at the bottom of the chain.',
                id="hookpipe.E011",
            )
        case Problem.RESERVED_NAME:
            return checks.Error(
                f"{label}: {error.name!r} is reserved for the chain's sentinels.",
                hint='Give the tween another "name".',
                id="hookpipe.E012",
            )
        case Problem.DUPLICATE_NAME:
            return checks.Error(
                f"More than one tween is named {error.name!r}: "
                + " and ".join(f'HOOKPIPE["TWEENS"][{i}]' for i in duplicates[error.name])
                + ".",
                hint='Give each use of the factory its own "name" alias.',
                id="hookpipe.E013",
            )
        case Problem.MISSING_TARGET:
            return checks.Error(
                f"{label} has {error.hint}={list(error.names)!r}, and none of those "
                "tweens is configured.",
                hint=f"Configured tween names: {known}. In a list, one present entry "
                "is enough; absent ones are skipped.",
                id="hookpipe.E014",
            )
        case Problem.CYCLE:
            return checks.Error(
                f"The tween hints form a cycle: {error.cycle_text}.",
                hint="Each name must be over the next; drop or change one of these hints.",
                id="hookpipe.E015",
            )
        case Problem.UNKNOWN_IN_ORDER:
            return checks.Error(
                f'HOOKPIPE["TWEEN_ORDER"] names {error.name!r}, which is not a tween '
                'of HOOKPIPE["TWEENS"].',
                hint=f"Configured tween names: {known}.",
                id="hookpipe.E016",
            )
        case Problem.DUPLICATE_IN_ORDER:
            return checks.Error(
                f'HOOKPIPE["TWEEN_ORDER"] lists {error.name!r} more than once.',
                hint="Each tween runs at most once; list it once.",
                id="hookpipe.E018",
            )


# -------------------------------------------------------------------------- build


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


def _is_async(obj: Any) -> bool:
    if iscoroutinefunction(obj):
        return True
    # A class-style tween: an instance whose __call__ is ``async def``.
    if isinstance(obj, types.FunctionType | types.MethodType):
        return False
    return iscoroutinefunction(type(obj).__call__)


class _Link:
    """One position in the chain, callable from sync code and from async code.

    ``call_sync`` and ``call_async`` are what a caller of each kind calls: a tween
    guarded (see :func:`_guard`) and adapted, once, for callers of the other kind.
    ``tween`` is a sync tween itself, unguarded, which the handler of a sync tween above
    calls and guards inline (see :func:`_downstream`); ``None`` for the others.
    """

    __slots__ = ("call_async", "call_sync", "name", "tween", "what")

    def __init__(
        self,
        name: str,
        call_sync: SyncHandler,
        call_async: AsyncHandler,
        tween: SyncHandler | None = None,
        what: str = "",
    ) -> None:
        self.name = name
        self.call_sync = call_sync
        self.call_async = call_async
        self.tween = tween
        self.what = what

    @classmethod
    def around(
        cls, name: str, tween: Callable[[HttpRequest], Any], is_async: bool, what: str
    ) -> _Link:
        """A link for ``tween``, guarded, and adapted once, here, for callers of the other
        kind."""
        call = _guard(tween, is_async, what, name)
        if is_async:
            return cls(name, async_to_sync(call), call)
        return cls(name, call, sync_to_async(call, thread_sensitive=True), tween, what)


def _downstream(below: _Link) -> tuple[Callable[[HttpRequest], Any], Callable[[bool], None]]:
    """The ``handler`` (or ``next_handler``) a tween receives: the rest of the chain,
    and the function that binds it once the tween is known to be sync or async.

    Bound, calling it never switches threads unless the next link is of the other kind.
    Every request calls it once per tween, so it is cheap: a plain function rather
    than an object with ``__call__`` (which Python calls several times slower), and
    between two sync tweens it guards the next tween itself, as :func:`_guard` would,
    instead of calling the guarded one: one call less per tween.
    """
    call: Callable[[HttpRequest], Any] = below.call_sync
    tween: Callable[[HttpRequest], Any] | None = None
    what, name = below.what, below.name

    def handler(request: HttpRequest) -> Any:
        if tween is None:
            return call(request)
        try:
            response = tween(request)
            if not isinstance(response, HttpResponseBase):
                raise _not_a_response(what, name, response)
            return response
        except Exception as exc:
            return failsafe_response(request, exc, what, name)

    def bind(is_async: bool) -> None:
        nonlocal call, tween
        call = below.call_async if is_async else below.call_sync
        tween = None if is_async else below.tween

    # Its repr: <function <hookpipe handler for 'auth'> at 0x...>.
    handler.__qualname__ = f"<hookpipe handler for {below.name!r}>"
    return handler, bind


def _below_sync(ctx: RequestContext, request: HttpRequest) -> HttpResponseBase:
    """The rest of Django below the middleware, called from sync code."""
    if ctx.get_response_is_async:
        return async_to_sync(ctx.get_response)(request)  # type: ignore[no-any-return]
    return ctx.get_response(request)  # type: ignore[no-any-return]


async def _below_async(ctx: RequestContext, request: HttpRequest) -> HttpResponseBase:
    if ctx.get_response_is_async:
        return await ctx.get_response(request)  # type: ignore[no-any-return]
    return await sync_to_async(ctx.get_response, thread_sensitive=True)(request)  # type: ignore[no-any-return]


# MAIN: the hookpipe core, the innermost link. With global hooks it runs on_route. Then
# the handlers and responders (hookpipe.dispatch), when any are configured: handlers get
# the request, and the first responder that wants it answers. Otherwise the request goes
# on to the rest of Django (routing, process_view -> before hooks, the view,
# process_exception -> on_error hooks), and on_error gets a routing error. Last, the
# after hooks run on the final response: the global ones, or without global hooks those
# of a view whose own hooks made a state in process_view. A responder's error before its
# first chunk goes to on_error (state.view is the responder), then the failsafe.
# Hook errors are handled inside the hooks runtime (hookpipe.hooks); nothing it runs
# lets a hook's exception out. Without plugins, ``plugins`` is None: one attribute read.
# Which of the two MAINs a pipeline uses (with or without global hooks) is decided when
# it is built; both have a sync and an async version.


def _main_sync(request: HttpRequest) -> HttpResponseBase:
    """MAIN without global hooks."""
    ctx: RequestContext = request.hookpipe  # type: ignore[attr-defined]
    ctx.state = None  # a tween may call the handler twice
    plugins = ctx.pipeline.plugins
    if plugins is not None:
        answer = plugins.run_sync(request)
        if answer is not None:
            return answered_sync(request, answer, ctx.pipeline.hooks, None)
    response = _below_sync(ctx, request)
    made = ctx.state  # by process_view, for a view with hooks
    if made is None:
        return response
    ctx.state = None  # see _main_hooked_sync
    return HookRuntime.leave_sync(made, response)


def _main_hooked_sync(request: HttpRequest) -> HttpResponseBase:
    """MAIN with global hooks."""
    ctx: RequestContext = request.hookpipe  # type: ignore[attr-defined]
    pipeline = ctx.pipeline
    hooks = pipeline.hooks
    state = ctx.state = State(request, hooks.globals)
    response = hooks.enter_sync(state)
    if response is None:
        plugins = pipeline.plugins
        answer = None if plugins is None else plugins.run_sync(request)
        if answer is None:
            response = _below_sync(ctx, request)
            if state.view is None and response.status_code >= 400:  # did routing fail?
                response = hooks.routed_sync(state, response)
        else:
            response = answered_sync(request, answer, hooks, state)
    # The state is done with. Dropping it breaks the cycle request -> context -> state
    # -> request, so that the request is freed when the server lets go of it, not by a
    # later garbage collection (which a cycle per request keeps busy).
    ctx.state = None
    return hooks.leave_sync(state, response)


async def _main_async(request: HttpRequest) -> HttpResponseBase:
    """MAIN without global hooks, for async callers."""
    ctx: RequestContext = request.hookpipe  # type: ignore[attr-defined]
    ctx.state = None
    plugins = ctx.pipeline.plugins
    if plugins is not None:
        answer = await plugins.run_async(request)
        if answer is not None:
            return await answered_async(request, answer, ctx.pipeline.hooks, None)
    response = await _below_async(ctx, request)
    made = ctx.state
    if made is None:
        return response
    ctx.state = None  # see _main_hooked_sync
    return await HookRuntime.leave_async(made, response)


async def _main_hooked_async(request: HttpRequest) -> HttpResponseBase:
    """MAIN with global hooks, for async callers."""
    ctx: RequestContext = request.hookpipe  # type: ignore[attr-defined]
    pipeline = ctx.pipeline
    hooks = pipeline.hooks
    state = ctx.state = State(request, hooks.globals)
    response = await hooks.enter_async(state)
    if response is None:
        plugins = pipeline.plugins
        answer = None if plugins is None else await plugins.run_async(request)
        if answer is None:
            response = await _below_async(ctx, request)
            if state.view is None and response.status_code >= 400:
                response = await hooks.routed_async(state, response)
        else:
            response = await answered_async(request, answer, hooks, state)
    ctx.state = None  # see _main_hooked_sync
    return await hooks.leave_async(state, response)


def _not_a_response(what: str, name: str, response: Any) -> NotAResponse:
    return NotAResponse(
        f"{what} {name!r} returned {type(response).__name__} instead of an "
        "HttpResponse; it must return the handler's response or its own."
    )


def _guard(call: Callable[..., Any], is_async: bool, what: str, name: str) -> Any:
    """Wrap one tween so that whatever it does, the tween above it gets a response."""
    if is_async:

        async def guarded_async(request: HttpRequest) -> HttpResponseBase:
            try:
                response = await call(request)
                if not isinstance(response, HttpResponseBase):
                    raise _not_a_response(what, name, response)
                return response
            except Exception as exc:
                return await sync_to_async(failsafe_response, thread_sensitive=False)(
                    request, exc, what, name
                )

        return guarded_async

    def guarded(request: HttpRequest) -> HttpResponseBase:
        try:
            response = call(request)
            if not isinstance(response, HttpResponseBase):
                raise _not_a_response(what, name, response)
            return response
        except Exception as exc:
            return failsafe_response(request, exc, what, name)

    return guarded


def _chain_handler_tween(fn: Any, app: Registry, downstream: Callable[..., Any]) -> Any:
    """Adapt a Tangled-style ``fn(app, request, next_handler)`` to a tween."""
    if _is_async(fn):

        async def chain_tween_async(request: HttpRequest) -> Any:
            return await fn(app, request, downstream)

        return chain_tween_async

    def chain_tween(request: HttpRequest) -> Any:
        return fn(app, request, downstream)

    return chain_tween


class Pipeline:
    """The built chain for one configuration. Use :func:`get_pipeline` to get one."""

    def __init__(self, built_plan: Plan) -> None:
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
        # Global hooks: instantiated once per build, sorted once (hookpipe.hooks). A
        # constructor that raises is a build failure, retried like a factory's.
        try:
            global_hooks = build_hooks(built_plan.hooks)
        except HookConstructorError as exc:
            raise BuildError(str(exc)) from exc
        self.hooks = HookRuntime(global_hooks, built_plan.hooks)
        # Handlers and responders: instantiated once per build with their subconfig.
        try:
            plugins = build_plugins(built_plan.plugins)
        except PluginConstructorError as exc:
            raise BuildError(str(exc)) from exc
        #: ``None`` without plugins, so that MAIN skips them (and the body) at once.
        self.plugins: PluginRuntime | None = (
            PluginRuntime(plugins, built_plan.plugins, self.config.thread_pool) if plugins else None
        )
        if self.hooks.active:
            link = _Link(MAIN, _main_hooked_sync, _main_hooked_async)
        else:
            link = _Link(MAIN, _main_sync, _main_async)
        infos: list[TweenInfo] = []
        # Innermost first: each factory needs the handler it wraps.
        for entry in reversed(built_plan.tweens):
            link, info = self._build_one(entry, built_plan.objects[entry.name], link)
            infos.append(info)
        self._top = link
        self.tweens = tuple(reversed(infos))
        self.registry.pipeline = self

    def _build_one(self, entry: conf.TweenEntry, obj: Any, below: _Link) -> tuple[_Link, TweenInfo]:
        downstream, bind = _downstream(below)
        if entry.kind == "handler":
            what = "chain handler"
            tween = _chain_handler_tween(obj, self.registry, downstream)
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
        is_async = _is_async(tween)
        bind(is_async)
        link = _Link.around(entry.name, tween, is_async, what)
        return link, dataclasses.replace(info, omitted=False, is_async=is_async)

    def describe(self) -> dict[str, Any]:
        """The pipeline as plain data: what ``manage.py hookpipe --json`` prints.

        ``handlers`` and ``responders`` carry their subconfig (secrets redacted) and
        this process's counters; ``pool`` is the thread pool's state in this process,
        ``None`` until the first handler job starts it.
        """
        plugins = self.plugins.describe() if self.plugins is not None else {}
        pool = executor.current_pool()
        return {
            "tween_order": "explicit" if self.explicit else "implicit",
            "tweens": [t.as_dict() for t in self.tweens],
            "hooks": self.hooks.describe(),
            "handlers": plugins.get("handlers", []),
            "responders": plugins.get("responders", []),
            "pool": pool.state() if pool is not None else None,
        }


# ------------------------------------------------------------------ process-wide


_lock = threading.Lock()
_current: Pipeline | None = None
#: Bumped by every change of the setting (see _drop).
_generation = 0
_failed: _Failure | None = None

#: Seconds before a build whose factory raised is tried again (see get_pipeline).
RETRY_FAILED_BUILD_AFTER = 5.0


class BuildError(ImproperlyConfigured):
    """A tween factory raised or returned a non-callable while the chain was built."""


@dataclass(frozen=True)
class _Failure:
    config: conf.Config
    error: ImproperlyConfigured
    at: float

    def still_holds(self, config: conf.Config) -> bool:
        if self.config is not config:
            return False
        # A configuration problem stays until the setting changes; a factory that
        # raised may have met a passing condition (a database not up yet).
        if isinstance(self.error, BuildError):
            return time.monotonic() - self.at < RETRY_FAILED_BUILD_AFTER
        return True


def current_pipeline() -> Pipeline | None:
    """The pipeline if it is built and up to date, else ``None``; never builds."""
    return _current


@receiver(setting_changed)
def _drop(*, setting: str, **kwargs: Any) -> None:
    """``HOOKPIPE`` changed: the next request builds a new pipeline.

    Dropping the built one here, rather than comparing configurations on every request,
    leaves the per-request check at one global read. A build that was under way when
    the setting changed is used for its own request and not kept (``_generation``).
    """
    global _current, _generation
    if setting == conf.SETTING:
        _generation += 1
        _current = None


def serve_sync(request: HttpRequest, get_response: GetResponse) -> HttpResponseBase:
    """Run ``request`` through the process's pipeline, from sync code (the middleware's
    ``__call__``); ``get_response`` is the rest of Django below the middleware."""
    pipeline = _current
    if pipeline is None:
        pipeline = _build()
    ctx = RequestContext(pipeline, get_response, False)
    request.hookpipe = ctx  # type: ignore[attr-defined]
    response: HttpResponseBase = pipeline._top.call_sync(request)
    if ctx.finished is not None:
        attach_finished(response, request, ctx)
    return response


async def serve_async(request: HttpRequest, get_response: GetResponse) -> HttpResponseBase:
    """Run ``request`` through the process's pipeline, on the event loop."""
    pipeline = _current
    if pipeline is None:
        # The first request of a process (or after a settings change) builds the
        # chain; factories are sync code that may touch the database, so not here.
        pipeline = await sync_to_async(get_pipeline, thread_sensitive=True)()
    ctx = RequestContext(pipeline, get_response, True)
    request.hookpipe = ctx  # type: ignore[attr-defined]
    response: HttpResponseBase = await pipeline._top.call_async(request)
    if ctx.finished is not None:
        attach_finished(response, request, ctx)
    return response


def get_pipeline() -> Pipeline:
    """The process's pipeline, built on first use and after the setting changes.

    A configuration that cannot be built raises ``ImproperlyConfigured`` (the client
    gets a 500: fail closed), logged once per attempt rather than once per request.
    """
    pipeline = _current
    if pipeline is not None:
        return pipeline
    return _build()


def _build() -> Pipeline:
    global _current, _failed
    with _lock:
        if _current is not None:
            return _current
        generation = _generation
        config = conf.get_config()
        if _failed is not None and _failed.still_holds(config):
            raise _failed.error
        try:
            built = Pipeline(plan(config))
        except ImproperlyConfigured as exc:
            logger.error("hookpipe: the pipeline cannot be built: %s", exc)
            _failed = _Failure(config, exc, time.monotonic())
            raise
        _failed = None
        if generation == _generation:
            _current = built
        logger.info(
            "hookpipe: pipeline built in process %s: %s",
            os.getpid(),
            " > ".join(t.name for t in built.tweens if not t.omitted) or "no tweens",
        )
        return built
