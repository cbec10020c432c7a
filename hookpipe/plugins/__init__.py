"""Handlers and responders (from Ledge): the classes users subclass, their subconfig,
the request snapshot, how configured plugins are checked and built, and how they meet
each request (:mod:`~hookpipe.plugins.dispatch`)."""

from .base import HandlerImplementation, ResponderImplementation
from .snapshot import Headers, RequestSnapshot
from .subconfig import PluginConfig, Setting

__all__ = [
    "HandlerImplementation",
    "Headers",
    "PluginConfig",
    "RequestSnapshot",
    "ResponderImplementation",
    "Setting",
]
