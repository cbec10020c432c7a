"""hookpipe: one ordered request pipeline for Django.

Users import from here and nothing deeper; the modules behind these names are private.
"""

from .hooks import Hook, State, include_with_hooks, with_hooks
from .ordering import INGRESS, MAIN
from .plugins.base import HandlerImplementation, ResponderImplementation
from .plugins.snapshot import RequestSnapshot
from .plugins.subconfig import Setting

__version__ = "0.1.0"

__all__ = [
    "INGRESS",
    "MAIN",
    "HandlerImplementation",
    "Hook",
    "RequestSnapshot",
    "ResponderImplementation",
    "Setting",
    "State",
    "include_with_hooks",
    "with_hooks",
]
