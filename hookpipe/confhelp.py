"""What the settings' check messages suggest for a misspelt key (no Django import)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

#: Keys that were renamed, by ``(section, old key)``: the new spelling, which the
#: "unknown key" check message then names (CHANGELOG.md, "Upgrading").
RENAMED = {
    # One meaning per word: the fleet's STALE_AFTER greys out a silent process.
    ("TASK_RUNNER", "STALE_AFTER"): "ABANDONED_AFTER",
}


def unknown_key_hint(section: str, key: object, choices: Iterable[str]) -> str:
    """The hint for an unknown key of ``HOOKPIPE[section]``: its new spelling when it
    was renamed, else :func:`did_you_mean`."""
    new = RENAMED.get((section, str(key)))
    if new is not None:
        return f'It was renamed: write "{new}" (see "Upgrading" in the CHANGELOG).'
    return did_you_mean(key, choices)


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
