"""hookpipe: one ordered request pipeline for Django.

Users import from here and nothing deeper; the modules behind these names are private.
The testing helpers are the one other public module: :mod:`hookpipe.testing`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .context import RequestContext, context_of
from .core.ordering import INGRESS, MAIN
from .hooks import Hook, State, include_with_hooks, with_hooks
from .plugins.base import HandlerImplementation, ResponderImplementation
from .plugins.snapshot import RequestSnapshot
from .plugins.subconfig import PluginConfig, Setting
from .types import AsyncChainHandler, AsyncTween, ChainHandler, Tween, TweenFactory

if TYPE_CHECKING:
    from .core.build import Registry

__version__ = "0.1.0"

__all__ = [
    "INGRESS",
    "MAIN",
    "AsyncChainHandler",
    "AsyncTween",
    "ChainHandler",
    "HandlerImplementation",
    "Hook",
    "PluginConfig",
    "Registry",
    "RequestContext",
    "RequestSnapshot",
    "ResponderImplementation",
    "Setting",
    "State",
    "Tween",
    "TweenFactory",
    "context_of",
    "include_with_hooks",
    "with_hooks",
]


def __getattr__(name: str) -> Any:
    # ``Registry`` lives with the pipeline it describes. A settings module may import
    # hookpipe for INGRESS and MAIN; importing the pipeline (runners, streaming) there,
    # before Django is set up, would be wasted at best, so it is imported on first use.
    if name == "Registry":
        from .core.build import Registry

        return Registry
    raise AttributeError(f"module 'hookpipe' has no attribute {name!r}")
