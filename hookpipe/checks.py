"""System checks: every problem with ``HOOKPIPE`` is reported by ``manage.py check``.

The shape of the setting is checked in :mod:`hookpipe.conf`, imports and ordering in
:func:`hookpipe.core.plan` (the same code the pipeline is built with, so a
configuration that passes the checks builds); this module adds how hookpipe sits in
``MIDDLEWARE``. Every id is listed in ``docs/checks.rst``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core import checks

from . import check_ids, conf
from .core.plan import plan
from .tasks.checks import check_task_handlers

MIDDLEWARE_PATH = "hookpipe.middleware.HookpipeMiddleware"


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
    return []
