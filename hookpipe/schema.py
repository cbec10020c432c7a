"""Whether the database has the tables hookpipe's features read: what a missing one
looks like, and the words that say what to do about it.

A project that forgot ``migrate`` gets a database error from the first query of a
feature (the fleet's switches, a stored task, the task backend's counts), whose text
is the database's own (``no such table``, ``relation ... does not exist``). Every
message hookpipe prints about such an error goes through :func:`db_error_text`, which
adds the fix. ``manage.py check --database default`` says it before any request does
(:func:`hookpipe.checks.check_migrations`).
"""

from __future__ import annotations

import re
from typing import Final

from django.db import DatabaseError

#: What the databases Django supports say of a missing table or column: SQLite ("no
#: such table", "no such column"), PostgreSQL ('relation "x" does not exist', 'column
#: "y" does not exist'), MySQL and MariaDB ("Table 'x' doesn't exist", "Unknown
#: column"), Oracle ("table or view does not exist", "invalid identifier").
_MISSING: Final = re.compile(
    r"no such (table|column)|does not exist|doesn't exist|unknown column|invalid identifier",
    re.IGNORECASE,
)

#: Appended to a missing table's error wherever hookpipe reports one.
RUN_MIGRATE: Final = "the database lacks a table: run `manage.py migrate`"


def is_missing_table(exc: BaseException) -> bool:
    """Whether ``exc`` is the database saying that a table (or a column) is missing."""
    return isinstance(exc, DatabaseError) and _MISSING.search(str(exc)) is not None


def db_error_text(exc: BaseException) -> str:
    """``exc`` as a log line or a page shows it: its type and text, and for a missing
    table, what to do."""
    text = f"{type(exc).__name__}: {exc}"
    if is_missing_table(exc):
        return f"{text} ({RUN_MIGRATE})"
    return text
