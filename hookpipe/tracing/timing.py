"""The ``Server-Timing`` header's value (W3C Server Timing): one entry per piece that
ran, ``name;dur=<milliseconds>;desc="<plugin>"``, in the order the pieces finished,
the whole of hookpipe's part first."""

from __future__ import annotations

from collections.abc import Iterable


def quoted(text: str) -> str:
    """``text`` as an HTTP quoted-string: printable ASCII, ``"`` and ``\\`` escaped."""
    safe = "".join(c if " " <= c <= "~" else "?" for c in text)
    return '"' + safe.replace("\\", "\\\\").replace('"', '\\"') + '"'


def entry(kind: str, name: str, seconds: float) -> str:
    return f"{kind};dur={seconds * 1000:.3f};desc={quoted(name)}"


def header_value(timings: Iterable[tuple[str, str, float]]) -> str:
    """``timings`` (kind, name, seconds) as the header's value."""
    return ", ".join(entry(kind, name, seconds) for kind, name, seconds in timings)
