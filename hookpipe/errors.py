"""The error hookpipe raises when a plugin hands back something that is not a response.

Tweens, chain handlers (:mod:`hookpipe.pipeline`) and hook methods
(:mod:`hookpipe.hooks`) share it, so a log line names the same error whichever kind of
plugin broke the contract; the failsafe turns it into a 500 like any other error.
"""

from __future__ import annotations


class NotAResponse(TypeError):
    """A tween, chain handler or hook method returned (or, in ``after``, set
    ``state.response`` to) something that is not an ``HttpResponse``."""
