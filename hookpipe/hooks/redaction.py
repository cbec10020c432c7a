"""Making request data safe to show in a log line or a response header.

Values under secret-looking names (passwords, tokens, cookies, API keys...) are
replaced by :data:`REDACTED`, in parameters, headers and query strings alike; text is
made one line (control characters escaped) and capped. ``RequestViewerHook`` shows
nothing that has not been through here; :mod:`hookpipe.introspection` redacts settings
by the same :data:`SECRET_NAME` rule.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Final
from urllib.parse import unquote_plus

REDACTED: Final = "[redacted]"
#: Names whose values are never shown: passwords, tokens, secrets, API keys, CSRF,
#: cookies, sessions, credentials, signatures, authorization.
SECRET_NAME = re.compile(
    r"pass|pwd|secret|token|csrf|cookie|session|signature|credential|private|"
    r"authori[sz]|authent|api[-_]?key|(?:^|[^a-z])(?:auth|key)(?:$|[^a-z])",
    re.IGNORECASE,
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def single_line(text: str, max_length: int) -> str:
    """``text`` with control characters (CR, LF, ESC, NEL, U+2028...) escaped and its
    length capped: safe for one log line."""
    text = _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)
    if len(text) > max_length:
        text = text[: max_length - 3] + "..."
    return text


def header_value(text: str, max_length: int) -> str:
    """``single_line`` in ASCII: non-ASCII characters become ``\\x``/``\\u`` escapes."""
    return single_line(text.encode("ascii", "backslashreplace").decode("ascii"), max_length)


def redact_pairs(pairs: Iterable[tuple[Any, Any]]) -> list[tuple[str, Any]]:
    out = []
    for key, value in pairs:
        name = str(key)
        if SECRET_NAME.search(name):
            value = REDACTED
        elif name == "QUERY_STRING" and isinstance(value, str):
            value = redact_query(value)
        out.append((name, value))
    return out


def redact_query(query: str) -> str:
    """Replace the values of secret-looking parameters; the rest stays as sent."""
    parts = []
    for part in query.split("&"):
        key = part.partition("=")[0]
        parts.append(f"{key}={REDACTED}" if SECRET_NAME.search(unquote_plus(key)) else part)
    return "&".join(parts)


def redact_url(url: str) -> str:
    base, sep, query = url.partition("?")
    return f"{base}{sep}{redact_query(query)}" if sep else url
