"""System checks: every problem with ``HOOKPIPE`` is reported by ``manage.py check``.

The shape of the setting is checked in :mod:`hookpipe.conf`, imports and ordering in
:func:`hookpipe.core.plan` (the same code the pipeline is built with, so a
configuration that passes the checks builds); this module adds how hookpipe sits in
``MIDDLEWARE`` and, when a database is asked for (``check --database``), whether the
tables hookpipe's features read are there. Every id is listed in ``docs/checks.rst``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig, apps
from django.conf import settings
from django.core import checks
from django.db import connections, router

from . import check_ids, conf
from .core.plan import plan
from .tasks import backends as task_backends
from .tasks.checks import check_task_handlers

MIDDLEWARE_PATH = "hookpipe.middleware.HookpipeMiddleware"
#: What a tween, hook or handler may read of the request, by the middleware that sets it.
NEEDED_ABOVE = {
    "django.contrib.sessions.middleware.SessionMiddleware": "request.session",
    "django.contrib.auth.middleware.AuthenticationMiddleware": "request.user",
}


def check_hookpipe(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    config = conf.get_config()
    planned = plan(config)
    return [
        *planned.problems,
        *check_task_handlers(planned.plugins),
        *_check_middleware(config),
    ]


def _check_middleware(config: conf.Config) -> list[checks.CheckMessage]:
    middleware = list(getattr(settings, "MIDDLEWARE", None) or [])
    count = middleware.count(MIDDLEWARE_PATH)
    if count == 0 and config.declared:
        return [
            checks.Error(
                f"HOOKPIPE is set but {MIDDLEWARE_PATH!r} is not in MIDDLEWARE, so "
                "nothing in it runs.",
                hint="Add it to MIDDLEWARE, after the middleware whose work your tweens "
                "need (sessions, authentication).",
                id=check_ids.MIDDLEWARE_MISSING,
            )
        ]
    if count > 1:
        return [
            checks.Error(
                f"{MIDDLEWARE_PATH!r} appears {count} times in MIDDLEWARE; every "
                "request would run the pipeline more than once.",
                hint="Keep one entry.",
                id=check_ids.MIDDLEWARE_TWICE,
            )
        ]
    if count == 1:
        return _check_middleware_order(middleware)
    return []


def _check_middleware_order(middleware: list[str]) -> list[checks.CheckMessage]:
    """A warning when hookpipe runs before the middleware that gives the request its
    session and user: a tween that reads ``request.user`` then fails on every request."""
    position = middleware.index(MIDDLEWARE_PATH)
    below = [path for path in NEEDED_ABOVE if path in middleware[position + 1 :]]
    if not below:
        return []
    missing = " and ".join(NEEDED_ABOVE[path] for path in below)
    return [
        checks.Warning(
            f"{MIDDLEWARE_PATH!r} comes before {', '.join(map(repr, below))} in MIDDLEWARE, "
            f"so hookpipe's tweens, hooks and handlers see requests without {missing} "
            "(reading it raises AttributeError).",
            hint=f"Move {MIDDLEWARE_PATH!r} below {below[-1]!r}. If no piece of the "
            f"pipeline needs {missing}, add {check_ids.MIDDLEWARE_ABOVE_AUTH!r} to "
            "SILENCED_SYSTEM_CHECKS.",
            id=check_ids.MIDDLEWARE_ABOVE_AUTH,
        )
    ]


def check_migrations(
    app_configs: Sequence[AppConfig] | None = None,
    databases: Sequence[str] | None = None,
    **kwargs: Any,
) -> list[checks.CheckMessage]:
    """A warning for each database asked for (``check --database``, ``migrate``, the
    test runner) that lacks migrations of hookpipe, of the fleet app or of the task
    engine that hookpipe's task handlers store their jobs with. Registered with the
    ``database`` tag: without a database asked for it reads none."""
    if not databases:
        return []
    labels = _labels_with_tables()
    problems: list[checks.CheckMessage] = []
    for alias in databases:
        pending = _unapplied(alias, labels)
        if not pending:
            continue
        names = ", ".join(f"{label} ({n})" for label, n in sorted(pending.items()))
        option = "" if alias == "default" else f" --database {alias}"
        problems.append(
            checks.Warning(
                f"The database {alias!r} lacks migrations that hookpipe needs: {names}. "
                "Until they are applied, what needs them fails: the runtime switches, "
                "task handlers' jobs (503s), the Pipeline page's permissions.",
                hint=f"Run `manage.py migrate{option}`.",
                id=check_ids.UNAPPLIED_MIGRATIONS,
            )
        )
    return problems


def _labels_with_tables() -> set[str]:
    """hookpipe's app, the fleet app, and the apps of the task backends that hookpipe's
    task handlers use (``django_tasks_db``, say), as far as they are installed."""
    labels = {"hookpipe"}
    if apps.is_installed("hookpipe.fleet"):
        labels.add(apps.get_app_config("hookpipe_fleet").label)
    for spec in plan(conf.get_config()).plugins:
        if spec.runner is None or spec.runner.runner != "task":
            continue
        path = task_backends.backend_class_path(spec.runner.backend)
        engine = apps.get_containing_app_config(path) if path else None
        if engine is not None:
            labels.add(engine.label)
    return labels


def _unapplied(alias: str, labels: set[str]) -> dict[str, int]:
    """How many migrations of each app in ``labels`` are not applied to ``alias``;
    empty when the database cannot be read (Django's own checks say why)."""
    from django.db.migrations.executor import MigrationExecutor

    try:
        executor = MigrationExecutor(connections[alias])
        planned = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception:  # no database here, or a migration graph Django itself reports on
        return {}
    pending: dict[str, int] = {}
    for migration, backwards in planned:
        label = migration.app_label
        if not backwards and label in labels and router.allow_migrate(alias, label):
            pending[label] = pending.get(label, 0) + 1
    return pending
