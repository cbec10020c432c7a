"""What the settings' check messages suggest for a misspelt key (no Django import)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(key: object, choices: Iterable[str]) -> str:
    """A hint naming the closest known key, if one is close, and every known key."""
    known_keys = list(choices)
    close = difflib.get_close_matches(str(key), known_keys, n=1)
    known = ", ".join(known_keys)
    if close:
        return f"Did you mean {close[0]!r}? Known keys: {known}."
    return f"Known keys: {known}."


def type_name(value: object) -> str:
    """How a message names the type of a wrong value: ``list``, ``str``..."""
    return type(value).__name__
