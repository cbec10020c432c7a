"""The plugin base classes users subclass: handlers and responders (from Ledge).

A **handler** (:class:`HandlerImplementation`) does background work with a request:
every handler whose ``handles(request, content)`` is true runs ``handle()`` where its
runner says (:mod:`hookpipe.jobs`): in the bounded pool with a
:class:`~hookpipe.plugins.snapshot.RequestSnapshot`, or inline with the live request when
``THREAD_SAFE = False``. A **responder** (:class:`ResponderImplementation`) answers a
request: the first whose ``handles()`` is true returns the response from ``respond()``,
streamed (:mod:`hookpipe.streaming`). :mod:`hookpipe.plugins.dispatch` runs them in ``MAIN``."""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from typing import TYPE_CHECKING, Any, ClassVar, Final, Literal

from django.core.exceptions import ImproperlyConfigured

from .subconfig import PluginConfig, Setting

if TYPE_CHECKING:
    from django.http import HttpRequest


PluginKind = Literal["handler", "responder"]


UNSET_HANDLER_NAME: Final = "UNSET_HANDLER_NAME"
UNSET_RESPONDER_NAME: Final = "UNSET_RESPONDER_NAME"


class Plugin:
    """What handlers and responders share: name, subconfig, config, ``handles()``."""

    #: Used in logs, in ``HOOKPIPE["PLUGINS"]`` and for environment variables. Required.
    name: ClassVar[str] = ""
    #: Typed settings, ``{"KEY": Setting(...)}``; see :class:`Setting`.
    subconfig: ClassVar[Mapping[str, Setting]] = {}
    #: Prefilter: the HTTP methods this plugin may want, e.g. ``{"POST"}``; ``None``
    #: (the default): any method. A request with another method never meets the plugin.
    methods: ClassVar[AbstractSet[str] | None] = None
    #: Prefilter: the path prefixes this plugin may want, e.g. ``("/hooks/",)``,
    #: matched against ``request.path_info``; ``None`` (the default): any path.
    path_prefixes: ClassVar[tuple[str, ...] | None] = None
    #: Whether this plugin reads ``content``, the request's body as bytes. ``False``:
    #: hookpipe does not read the body for it (its ``content`` is ``b""``), and a
    #: request that meets only such plugins keeps its body for the view, read by
    #: Django's own rules: a multipart upload streamed to the upload handlers, a body
    #: over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` refused only if the view reads it.
    NEEDS_CONTENT: ClassVar[bool] = True
    kind: ClassVar[PluginKind]
    _unset: ClassVar[str]

    def __init__(self, config: PluginConfig | None = None) -> None:
        """Called once per pipeline build with the resolved subconfig. A subclass that
        overrides it must call ``super().__init__(config)``."""
        if not self.name or self.name == self._unset:
            raise ImproperlyConfigured(
                f"{dotted(type(self))} must set 'name' (a {self.kind} named "
                f"{self._unset!r} cannot be configured)."
            )
        self.config = config if config is not None else PluginConfig()

    def handles(self, request: HttpRequest, content: bytes) -> bool:
        """Whether this plugin wants ``request``. Keep it quick: it runs for every
        request, in the request's thread. Raising counts as ``False`` (and is logged)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} config={self.config!r}>"


class HandlerImplementation(Plugin):
    """Does background work with the requests it ``handles()``; never answers them.

    Every handler whose ``handles()`` is true runs ``handle(request, content)``. With
    ``THREAD_SAFE = True`` (the default) that is in the bounded pool, later, with a
    :class:`RequestSnapshot` in place of the request; with ``THREAD_SAFE = False`` it is
    in the request's thread, before the response, with the live ``HttpRequest``. What
    ``handle()`` returns is ignored, and what it raises is logged with its ``name``.
    """

    name: ClassVar[str] = UNSET_HANDLER_NAME
    kind: ClassVar[PluginKind] = "handler"
    _unset: ClassVar[str] = UNSET_HANDLER_NAME
    #: True: run in the pool with a snapshot. False: run inline with the live request.
    THREAD_SAFE: ClassVar[bool] = True
    #: Where ``handle()`` runs: ``"inline"``, ``"pool"`` or ``"task"`` (a job on a Django
    #: Tasks backend, see docs/durable.rst). ``None``: as ``THREAD_SAFE`` says. A
    #: ``HANDLERS`` entry ``{"class": ..., "RUNNER": ...}`` overrides it.
    RUNNER: ClassVar[str | None] = None
    #: For ``RUNNER = "task"``: the ``TASKS`` alias, the queue and the priority (-100..100).
    TASK_BACKEND: ClassVar[str] = "default"
    TASK_QUEUE_NAME: ClassVar[str] = "default"
    TASK_PRIORITY: ClassVar[int] = 0
    #: For ``RUNNER = "task"``: ``"success"`` stores the job only when the request
    #: succeeds (final status below 400, nothing raised, its transaction committed);
    #: ``"any"`` stores it whatever the response.
    TASK_STORE_ON: ClassVar[str] = "success"
    #: For ``RUNNER = "task"``: the header that identifies a delivery (``"webhook-id"``
    #: for Standard Webhooks, ``"X-GitHub-Delivery"``...). A delivery whose key was
    #: stored already is neither stored nor run again (docs/durable.rst). Where the key
    #: is elsewhere (in the body, say), override :meth:`idempotency_key` instead.
    TASK_IDEMPOTENCY_KEY: ClassVar[str | None] = None
    #: For ``RUNNER = "task"``: a stored job keeps no header or query parameter that
    #: looks secret (``Cookie``, ``Authorization``, signatures, tokens, API keys: the
    #: names :doc:`hooks`' redaction rules know); name here those ``handle()`` needs.
    TASK_KEEP_HEADERS: ClassVar[tuple[str, ...]] = ()
    #: For ``RUNNER = "task"``: how many times a job whose ``handle()`` raises runs
    #: before it is dead (listed, to replay), and the wait before the first retry in
    #: seconds, doubled for each retry after (30, 60, 120...).
    TASK_MAX_ATTEMPTS: ClassVar[int] = 3
    TASK_RETRY_BACKOFF: ClassVar[float] = 30.0

    def idempotency_key(self, request: Any, content: bytes) -> str | None:
        """Override to give a task handler's delivery its key when it is not a header
        (Stripe's event id is in the body); ``None``: this delivery has none.

        ``request`` is the :class:`RequestSnapshot` the job will carry. Not overridden,
        the key is the header ``TASK_IDEMPOTENCY_KEY`` names, if any."""
        return None

    def handle(self, request: Any, content: bytes) -> None:
        """Do the work. ``request`` is a :class:`RequestSnapshot` (or, with
        ``THREAD_SAFE = False``, the ``HttpRequest``)."""
        raise NotImplementedError


class ResponderImplementation(Plugin):
    """Answers the requests it ``handles()`` (the first responder that does wins).

    ``respond(request, content)`` returns an ``HttpResponse``/``StreamingHttpResponse``,
    which is used as is, or an iterable or async iterable of ``bytes``/``str``, which is
    streamed chunk by chunk with ``content_type``, ``status`` and ``headers``. It may be
    ``async def`` (or an async generator). It runs in the request's thread, or on the
    event loop when it is async.
    """

    name: ClassVar[str] = UNSET_RESPONDER_NAME
    kind: ClassVar[PluginKind] = "responder"
    _unset: ClassVar[str] = UNSET_RESPONDER_NAME
    #: Of a streamed answer. ``None``: Django's default (``text/html; charset=utf-8``).
    content_type: ClassVar[str | None] = None
    status: ClassVar[int] = 200
    headers: ClassVar[Mapping[str, str]] = {}

    def respond(self, request: HttpRequest, content: bytes) -> Any:
        """Answer ``request``: a response, or chunks to stream."""
        raise NotImplementedError


def dotted(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"
