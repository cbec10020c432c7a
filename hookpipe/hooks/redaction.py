"""Making request data safe to show in a log line or a response header.

Values under secret-looking names (passwords, tokens, cookies, API keys, signatures,
sessions...) are replaced by :data:`REDACTED`, wherever they are: parameters, headers,
``META``/``environ`` entries, an ASGI ``scope`` (its header tuples and nested dicts),
and ``name=value`` pairs inside any text (a query string, ``RAW_URI``, a URL inside a
parameter, percent-encoded or not). Text is then made one line (control characters
escaped) and capped. ``RequestViewerHook`` shows nothing that has not been through
:func:`redact` and :func:`single_line`; :mod:`hookpipe.introspection` redacts settings
by the same :data:`SECRET_NAME` rule.

Two passes, because neither suffices alone: the structural one knows which value
belongs to which name even where the text would not say (``(b'authorization', b'Bearer
x')``), the textual one finds secrets in strings no structure describes (``RAW_URI``,
the ``repr`` of an object).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Final
from urllib.parse import unquote_plus

REDACTED: Final = "[redacted]"
#: Names whose values are never shown: passwords, tokens (JWTs, access and refresh
#: tokens), secrets, API keys, CSRF, cookies, sessions, credentials, signatures
#: (``sig`` as a word), authorization.
SECRET_NAME = re.compile(
    r"pass|pwd|secret|token|jwt|csrf|cookie|session|signature|credential|private|"
    r"authori[sz]|authent|api[-_]?key|(?:^|[^a-z])(?:auth|key|sig)(?:$|[^a-z])",
    re.IGNORECASE,
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
#: ``name=value`` in text, ``=`` also percent-encoded (a URL inside a parameter). The
#: value stops at a separator, a quote or a closing bracket, also percent-encoded ones.
_ASSIGNED = re.compile(
    # The lookbehind makes a name start only where a run of name characters starts:
    # without it, a long run not followed by "=" is retried from each of its characters
    # (quadratic: 20 000 characters took 2.5 s).
    r"(?<![A-Za-z0-9_.\-\[\]+])(?P<name>[A-Za-z0-9_.\-\[\]+]+)(?P<sep>=|%3[Dd])"
    r"(?P<value>\[redacted\]|(?:(?!%2[63]|%3[Bb]|%20)[^&;#\s'\"<>,(){}\[\]])*)"
)
#: ``'name': value`` and ``('name', value)`` as ``repr`` writes dicts and pairs.
_QUOTED = re.compile(
    r"""(?P<q>b?['"])(?P<name>[^'"\\\n]{1,200})['"](?P<sep>\s*[:,]\s*)"""
    r"""(?P<value>b?'(?:\\.|[^'\\])*'|b?"(?:\\.|[^"\\])*"|[^,)}\]\s]+)"""
)
#: How deep :func:`redact` follows nested containers (a scope holds dicts of dicts).
MAX_DEPTH: Final = 8


def is_secret(name: Any) -> bool:
    """Whether a value under ``name`` (str or bytes) must not be shown."""
    if isinstance(name, bytes | bytearray):
        name = bytes(name).decode("latin-1")
    return isinstance(name, str) and SECRET_NAME.search(name) is not None


def redact(value: Any, depth: int = 0) -> Any:
    """``value`` with the values under secret names replaced, at any depth.

    Mappings become dicts, sequences of ``(name, value)`` pairs (WSGI-style header
    lists, ASGI ``scope["headers"]``) keep their pairs; strings and bytes are scrubbed
    of ``name=value`` secrets; other objects are left for :func:`scrub_text` to check
    once rendered.
    """
    if depth > MAX_DEPTH:
        return "..."
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, bytes | bytearray):
        text = bytes(value).decode("latin-1")
        scrubbed = scrub_text(text)
        return value if scrubbed == text else scrubbed.encode("latin-1")
    if isinstance(value, Mapping):
        return {k: REDACTED if is_secret(k) else redact(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        if value and all(_is_pair(p) for p in value):
            pairs = [(k, REDACTED if is_secret(k) else redact(v, depth + 1)) for k, v in value]
            return pairs if isinstance(value, list) else tuple(pairs)
        items = [redact(v, depth + 1) for v in value]
        return items if isinstance(value, list) else tuple(items)
    return value


def _is_pair(value: Any) -> bool:
    return isinstance(value, list | tuple) and len(value) == 2 and isinstance(value[0], str | bytes)


def redact_pairs(pairs: Iterable[tuple[Any, Any]]) -> list[tuple[str, Any]]:
    """``(name, value)`` pairs with names as text and every value :func:`redact`-ed."""
    return [(str(k), REDACTED if is_secret(k) else redact(v, 1)) for k, v in pairs]


def scrub_text(text: str) -> str:
    """``text`` with the values of secret-looking ``name=value`` pairs (in a query
    string, a cookie header, a URL inside a parameter, percent-encoded or not) and of
    ``'name': value`` pairs (a ``repr`` of a dict or a pair) replaced by :data:`REDACTED`."""
    if "=" in text or "%3" in text:
        text = _ASSIGNED.sub(_assigned, text)
    if "'" in text or '"' in text:
        text = _QUOTED.sub(_quoted, text)
    return text


def _assigned(match: re.Match[str]) -> str:
    name, value = match["name"], match["value"]
    if value == REDACTED or not SECRET_NAME.search(unquote_plus(name)):
        return match[0]
    return f"{name}{match['sep']}{REDACTED}"


def _quoted(match: re.Match[str]) -> str:
    if not SECRET_NAME.search(match["name"]) or match["value"][-11:-1] == REDACTED:
        return match[0]
    head = match[0][: match.start("sep") - match.start()]  # the quoted name
    return f"{head}{match['sep']}'{REDACTED}'"


def redact_query(query: str) -> str:
    """Replace the values of secret-looking parameters, and secrets inside the values
    of the others (a ``next`` URL with its own token); the rest stays as sent."""
    parts = []
    for part in query.split("&"):
        key, sep, value = part.partition("=")
        if SECRET_NAME.search(unquote_plus(key)):
            parts.append(f"{key}={REDACTED}")
            continue
        # The value as sent: scrub_text reads percent-encoded pairs too.
        parts.append(f"{key}{sep}{scrub_text(value)}")
    return "&".join(parts)


def redact_url(url: str) -> str:
    base, sep, query = url.partition("?")
    return f"{base}{sep}{redact_query(query)}" if sep else url


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
