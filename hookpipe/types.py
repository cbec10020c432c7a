"""The shapes of the callables a user writes for the chain, as ``typing.Protocol`` s.

hookpipe calls tweens, tween factories and chain handlers by their shape, not by a base
class, so a user's plain functions and classes are what a type checker must accept.
These protocols say that shape for ``mypy --strict`` (they are exported from
``hookpipe``); nothing checks them at run time: the system checks and the failsafe do::

    from hookpipe import Registry, Tween

    def timing_factory(handler: Tween, registry: Registry) -> Tween:
        def timing_tween(request: HttpRequest) -> HttpResponseBase:
            return handler(request)
        return timing_tween

The request parameter is positional-only in each protocol, so a user's function may
name it as it likes. A factory's keyword ``options`` are extra parameters with
defaults, which a protocol cannot list and does not need to: a function with more
optional parameters still fits.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, Protocol

from django.http import HttpRequest, HttpResponseBase

if TYPE_CHECKING:
    from .core.build import Registry


class Tween(Protocol):
    """A sync tween, ``def tween(request) -> response``; also what a sync tween gets as
    its ``handler`` (the rest of the chain), and a sync chain handler as ``next_handler``."""

    def __call__(self, request: HttpRequest, /) -> HttpResponseBase: ...


class AsyncTween(Protocol):
    """An async tween, ``async def tween(request) -> response``; also what an async tween
    gets as its ``handler``, and an async chain handler as ``next_handler``."""

    def __call__(self, request: HttpRequest, /) -> Awaitable[HttpResponseBase]: ...


class TweenFactory(Protocol):
    """``factory(handler, registry, **options) -> tween``, called once per pipeline build.

    ``handler`` is a :class:`Tween` when the factory returns a sync tween and an
    :class:`AsyncTween` when it returns an async one (hookpipe binds it once it knows
    which), hence ``Any`` here: annotate it in your factory as the kind you return.
    Returning ``handler`` itself leaves the tween out of the chain. A class whose
    ``__init__(self, handler, registry)`` makes the tween fits too.
    """

    def __call__(self, handler: Any, registry: Registry, /) -> Tween | AsyncTween: ...


class ChainHandler(Protocol):
    """A Tangled-style chain handler, ``fn(app, request, next_handler) -> response``;
    ``app`` is the pipeline's :class:`~hookpipe.Registry`."""

    def __call__(
        self, app: Registry, request: HttpRequest, next_handler: Tween, /
    ) -> HttpResponseBase: ...


class AsyncChainHandler(Protocol):
    """``async def fn(app, request, next_handler) -> response``; it awaits
    ``next_handler(request)``."""

    def __call__(
        self, app: Registry, request: HttpRequest, next_handler: AsyncTween, /
    ) -> Awaitable[HttpResponseBase]: ...
