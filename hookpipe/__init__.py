"""hookpipe: one ordered request pipeline for Django.

Users import from here, from :mod:`hookpipe.tasks` and from :mod:`hookpipe.fleet`, and
nothing deeper: the modules behind these names are private. Settings name the built-in
hooks the same way (``"hookpipe.TransactionHook"``).

The names for servers (``get_asgi_application``, ``with_lifespan``, ``worker_exit``)
and for tests (``PluginTester`` and the rest) are imported on first use: a settings
module or ``gunicorn.conf.py`` imports hookpipe before Django is set up.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .context import RequestContext, context_of
from .core.ordering import INGRESS, MAIN
from .hooks import (
    Hook,
    RequestViewerHook,
    SignatureHook,
    State,
    TransactionHook,
    include_with_hooks,
    with_hooks,
)
from .plugins.base import HandlerImplementation, ResponderImplementation
from .plugins.snapshot import RequestSnapshot
from .plugins.subconfig import PluginConfig, Setting
from .types import AsyncChainHandler, AsyncTween, ChainHandler, Tween, TweenFactory

if TYPE_CHECKING:
    from .core.build import Registry
    from .server.asgi import get_asgi_application, with_lifespan
    from .server.gunicorn import worker_exit
    from .testing import (
        Job,
        Jobs,
        PluginConfigError,
        PluginTester,
        build_plugin,
        run_handlers,
        snapshot_of,
    )

__version__ = "0.1.0"

__all__ = [
    "INGRESS",
    "MAIN",
    "AsyncChainHandler",
    "AsyncTween",
    "ChainHandler",
    "HandlerImplementation",
    "Hook",
    "Job",
    "Jobs",
    "PluginConfig",
    "PluginConfigError",
    "PluginTester",
    "Registry",
    "RequestContext",
    "RequestSnapshot",
    "RequestViewerHook",
    "ResponderImplementation",
    "Setting",
    "SignatureHook",
    "State",
    "TransactionHook",
    "Tween",
    "TweenFactory",
    "build_plugin",
    "context_of",
    "get_asgi_application",
    "include_with_hooks",
    "run_handlers",
    "snapshot_of",
    "with_hooks",
    "with_lifespan",
    "worker_exit",
]

#: Names imported on first use, and the module each comes from.
_LAZY = {
    # Registry lives with the pipeline it describes (runners, streaming).
    "Registry": ".core.build",
    "get_asgi_application": ".server.asgi",
    "with_lifespan": ".server.asgi",
    "worker_exit": ".server.gunicorn",
    **dict.fromkeys(
        (
            "Job",
            "Jobs",
            "PluginConfigError",
            "PluginTester",
            "build_plugin",
            "run_handlers",
            "snapshot_of",
        ),
        ".testing",
    ),
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hookpipe' has no attribute {name!r}")
    return getattr(importlib.import_module(module, __name__), name)
