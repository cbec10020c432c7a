"""What a handler that runs off the request gets: a frozen copy of the request."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..context import new_request_id

if TYPE_CHECKING:
    from django.http import HttpRequest


class Headers(Mapping[str, str]):
    """Request headers, read-only, looked up without regard to case. Picklable."""

    __slots__ = ("_items", "_lower")

    def __init__(self, items: Sequence[tuple[str, str]] = ()) -> None:
        self._items = tuple((str(k), str(v)) for k, v in items)
        self._lower = {k.lower(): v for k, v in self._items}

    def __getitem__(self, key: str) -> str:
        return self._lower[key.lower()]

    def __iter__(self) -> Iterator[str]:
        return (k for k, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._lower

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
    #: The authenticated user's primary key, ``None`` if anonymous or without auth.
    user_id: Any
    #: The id hookpipe gave this request (also ``request.hookpipe.request_id``).
    request_id: str = field(default_factory=new_request_id)

    @classmethod
    def from_request(cls, request: HttpRequest, content: bytes, request_id: str) -> RequestSnapshot:
        return cls(
            method=request.method or "",
            path=request.path,
            full_path=request.get_full_path(),
            query=tuple((k, v) for k, values in request.GET.lists() for v in values),
            headers=Headers(_headers(request.META)),
            content=content,
            remote_addr=request.META.get("REMOTE_ADDR"),
            scheme=request.scheme or "",
            user_id=_user_id(request),
            request_id=request_id,
        )

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


def _headers(meta: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The request's headers from ``META``, named as ``request.headers`` names them
    (``HttpHeaders.parse_header_name``), without building ``request.headers`` first."""
    found = []
    for key, value in meta.items():
        if key.startswith("HTTP_"):
            key = key[5:]
        elif key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            continue
        found.append((key.replace("_", "-").title(), value))
    return found


def _user_id(request: HttpRequest) -> Any:
    user = getattr(request, "user", None)
    try:
        if user is None or not user.is_authenticated:
            return None
        return user.pk
    except Exception:  # a broken session or auth backend must not stop the handlers
        return None
