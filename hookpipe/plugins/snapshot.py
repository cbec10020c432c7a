"""What a handler that runs off the request gets: a frozen copy of the request."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from django.utils.encoding import escape_uri_path, iri_to_uri
from django.utils.functional import LazyObject, empty

from ..context import new_request_id

if TYPE_CHECKING:
    from django.http import HttpRequest


class Headers(Mapping[str, str]):
    """Request headers, read-only, looked up without regard to case. Picklable.

    The case-blind index is made on the first lookup: a snapshot is made in the
    request's thread, and most handlers read few headers, if any, later in the pool.
    """

    __slots__ = ("_items", "_lower")

    def __init__(self, items: Sequence[tuple[str, str]] = ()) -> None:
        self._items = tuple((str(k), str(v)) for k, v in items)
        self._lower: dict[str, str] | None = None

    @classmethod
    def _of(cls, items: tuple[tuple[str, str], ...]) -> Headers:
        """From pairs known to be strings (:func:`_headers`): nothing to convert."""
        headers = cls.__new__(cls)
        headers._items = items
        headers._lower = None
        return headers

    def __getitem__(self, key: str) -> str:
        lower = self._lower
        if lower is None:
            lower = self._lower = {k.lower(): v for k, v in self._items}
        return lower[key.lower()]

    def __iter__(self) -> Iterator[str]:
        return (k for k, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        try:
            self[key]
        except KeyError:
            return False
        return True

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Headers) and other._items == self._items

    def __hash__(self) -> int:
        return hash(self._items)

    def __reduce__(self) -> tuple[Any, ...]:
        return (Headers, (self._items,))

    def __repr__(self) -> str:
        return f"Headers({dict(self._items)!r})"


@dataclass(frozen=True)
class RequestSnapshot:
    """What a thread-safe handler gets instead of the request: a frozen, picklable copy.

    It holds no reference to the ``HttpRequest``, so a pool thread may use it after the
    response was sent, and it can cross a process boundary (``pickle``) unchanged.
    """

    method: str
    #: ``request.path``: the path, without the query string.
    path: str
    #: ``request.get_full_path()``: the path and the query string.
    full_path: str
    #: The query string as ``(name, value)`` pairs, in order, repeats kept.
    query: tuple[tuple[str, str], ...]
    headers: Headers
    content: bytes
    #: ``REMOTE_ADDR`` as the server saw it (behind a proxy: the proxy's address).
    remote_addr: str | None
    scheme: str
    #: The authenticated user's primary key, when the request had loaded its user by the
    #: time the handlers were asked (a tween or middleware that authenticates does);
    #: ``None`` if anonymous, without auth, or not loaded: a snapshot never loads the
    #: session (see "The user" in ``docs/plugins.rst``).
    user_id: Any
    #: The id hookpipe gave this request (also ``request.hookpipe.request_id``).
    request_id: str = field(default_factory=new_request_id)

    @classmethod
    def from_request(cls, request: HttpRequest, content: bytes, request_id: str) -> RequestSnapshot:
        return PendingSnapshot(request, content, request_id).get()

    def param(self, name: str, default: str | None = None) -> str | None:
        """The last value of query parameter ``name`` (like ``request.GET.get``)."""
        found = default
        for key, value in self.query:
            if key == name:
                found = value
        return found

    def json(self) -> Any:
        """``content`` parsed as JSON (raises ``ValueError`` if it is not)."""
        return json.loads(self.content)

    def to_wire(self) -> dict[str, Any]:
        """This snapshot as versioned, JSON-ready data, to cross into another process
        such as a task worker (see "The wire form" below)."""
        return _to_wire(self)

    @classmethod
    def from_wire(cls, data: Any) -> RequestSnapshot:
        """The snapshot :meth:`to_wire` gave; ``WireError`` if ``data`` is not one."""
        return _from_wire(data)


class PendingSnapshot:
    """A request's snapshot taken in two halves, so that the request's thread does little.

    Taken at once, in the request's thread: what only that thread may read or what may
    still change, that is a copy of ``META`` (a middleware or the view may rewrite it
    later, ``REMOTE_ADDR`` behind a proxy say), the path, the scheme, the query and the
    user (whose lazy session belongs to the request). Made on the first :meth:`get`, in
    the thread that runs the first handler: the headers as Django names them, the full
    path, and the frozen :class:`RequestSnapshot`, most of the cost, which so stays off
    the request's thread. Every
    :meth:`get` returns the same object: the handlers of one request share one snapshot.
    """

    __slots__ = ("_made", "_meta", "_taken")

    def __init__(self, request: HttpRequest, content: bytes, request_id: str) -> None:
        self._meta = dict(request.META)
        self._taken = (
            request.method or "",
            request.path,
            _query(request),
            content,
            request.scheme or "",
            _user_id(request),
            request_id,
        )
        self._made: RequestSnapshot | None = None

    def get(self) -> RequestSnapshot:
        """The snapshot, made on the first call (in whichever thread makes it)."""
        made = self._made
        if made is None:
            with _MAKING:  # two pool threads may ask at once: one makes it
                made = self._made
                if made is None:
                    made = self._made = self._make()
        return made

    def _make(self) -> RequestSnapshot:
        method, path, query, content, scheme, user_id, request_id = self._taken
        meta = self._meta
        return RequestSnapshot(
            method=method,
            path=path,
            full_path=_full_path(path, meta.get("QUERY_STRING", "")),
            query=query,
            headers=Headers._of(_headers(meta)),
            content=content,
            remote_addr=meta.get("REMOTE_ADDR"),
            scheme=scheme,
            user_id=user_id,
            request_id=request_id,
        )


#: Held while a :class:`PendingSnapshot` is made (a few microseconds, rarely contended).
_MAKING = threading.Lock()


#: ``META`` key -> header name (``""``: not a header), filled as keys are met; a site
#: sees few distinct ones.
_NAMES: dict[str, str] = {}
#: Past this many names (a client inventing header names), names are not remembered.
_NAMES_LIMIT = 1000


def _headers(meta: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """The request's headers from ``META``, named as ``request.headers`` names them
    (``HttpHeaders.parse_header_name``), without building ``request.headers`` first."""
    found = []
    for key, value in meta.items():
        name = _NAMES.get(key)
        if name is None:
            name = _header_name(key)
            if len(_NAMES) < _NAMES_LIMIT:
                _NAMES[key] = name
        if name:
            found.append((name, str(value)))
    return tuple(found)


def _header_name(key: str) -> str:
    """The header name of a ``META`` key; ``""`` for a key that is no header."""
    if key.startswith("HTTP_"):
        return key[5:].replace("_", "-").title()
    if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        return key.replace("_", "-").title()
    return ""


def _full_path(path: str, query_string: str) -> str:
    """What ``request.get_full_path()`` gives, from the parts the snapshot copied.

    Django's own formula (``HttpRequest._get_full_path`` with no slash appended), with
    Django's own escaping, so that it can run after the request has gone: quoting the
    path was half of what remained of the snapshot in the request's thread.
    ``tests/test_snapshot.py`` holds it equal to Django's on awkward paths."""
    # RFC 3986 wants the query string in ASCII: Django encodes it, so does this.
    return escape_uri_path(path) + ("?" + iri_to_uri(query_string) if query_string else "")


def _query(request: HttpRequest) -> tuple[tuple[str, str], ...]:
    # Without a query string, request.GET would still build an empty QueryDict, for
    # nothing.
    if not request.META.get("QUERY_STRING"):
        return ()
    return tuple((k, v) for k, values in request.GET.lists() for v in values)


def _user_id(request: HttpRequest) -> Any:
    """The primary key of the user the request has already loaded, else ``None``.

    ``AuthenticationMiddleware`` sets ``request.user`` to a lazy object that loads the
    session and the user row on first use. Loading it here would cost a logged-in
    client two queries and make every response ``Vary: Cookie`` (the session was
    accessed), for a view that never looked at either: so a user not loaded yet is
    left unknown. A tween or middleware above the handlers that reads ``request.user``
    (authentication, say) loads it, and the snapshot then has its id."""
    user = getattr(request, "user", None)  # None without the middleware
    if isinstance(user, LazyObject):
        user = user._wrapped
        if user is empty:
            return None
    try:
        if user is None or not user.is_authenticated:
            return None
        return user.pk
    except Exception:  # a broken auth backend's user must not stop the handlers
        return None


# The wire form.
# A :class:`~hookpipe.RequestSnapshot` as JSON, to cross into a task worker.
#
# The form is versioned (``"v": 1``) so that a worker can tell a snapshot it cannot read
# from one it can, during a rolling deploy: an unknown version fails that one task with a
# clear message (:class:`WireError`), it does not crash the worker. Bytes travel as base64
# (the body, which may be binary); the query and the headers as lists of pairs, order and
# repeats kept. A user id that JSON cannot hold (a UUID primary key, say) travels as its
# ``str()``.
#
# The task runner (:mod:`hookpipe.tasks.runner`) bounds the size of the JSON text.

WIRE_VERSION: Final = 1


class WireError(ValueError):
    """A task's snapshot cannot be read by this worker."""


def _to_wire(snapshot: RequestSnapshot) -> dict[str, Any]:
    """The snapshot as a JSON-ready dict."""
    user_id = snapshot.user_id
    if user_id is not None and not isinstance(user_id, str | int | float | bool):
        user_id = str(user_id)
    return {
        "v": WIRE_VERSION,
        "method": snapshot.method,
        "path": snapshot.path,
        "full_path": snapshot.full_path,
        "query": [list(pair) for pair in snapshot.query],
        "headers": [list(pair) for pair in snapshot.headers.items()],
        "content_b64": base64.b64encode(snapshot.content).decode("ascii"),
        "remote_addr": snapshot.remote_addr,
        "scheme": snapshot.scheme,
        "user_id": user_id,
        "request_id": snapshot.request_id,
    }


def _from_wire(wire: Any) -> RequestSnapshot:
    """The snapshot again; :class:`WireError` if ``wire`` is not a form this code reads."""
    if not isinstance(wire, dict):
        raise WireError(f"a request snapshot must be a JSON object, not {type(wire).__name__}")
    version = wire.get("v")
    if version != WIRE_VERSION:
        raise WireError(
            f"request snapshot version {version!r} is not one this worker reads ({WIRE_VERSION}); "
            "was the task enqueued by a newer or older hookpipe?"
        )
    try:
        return RequestSnapshot(
            method=str(wire["method"]),
            path=str(wire["path"]),
            full_path=str(wire["full_path"]),
            query=tuple((str(k), str(v)) for k, v in wire["query"]),
            headers=Headers([(str(k), str(v)) for k, v in wire["headers"]]),
            content=base64.b64decode(wire["content_b64"], validate=True),
            remote_addr=wire["remote_addr"],
            scheme=str(wire["scheme"]),
            user_id=wire["user_id"],
            request_id=str(wire["request_id"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise WireError(f"a malformed request snapshot: {type(exc).__name__}: {exc}") from exc
