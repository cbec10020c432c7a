"""``TransactionHook``: one database transaction around each unsafe request.

A built-in hook, and the only part of :mod:`hookpipe.hooks` that touches the database;
it shows how ``before`` and ``after`` pair up around a view through ``state``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from django.db import transaction

from .api import Hook, State


class TransactionHook(Hook):
    """Runs requests with an unsafe method in ``transaction.atomic(using)``; rolls back
    when an error was raised (even if an ``on_error`` hook answered) or the response is
    a 5xx. Safe methods run without a transaction.

    The transaction is opened in ``before`` and closed in ``after``, both sync, so both
    run in the request's thread (the thread-sensitive worker under ASGI), on the same
    database connection as a sync view.
    """

    # The public path, named in settings, logs and listings: hookpipe.TransactionHook.
    __module__ = "hookpipe"
    UNSAFE_METHODS: Final = ("POST", "PUT", "PATCH", "DELETE")

    def __init__(self, using: str | None = None, methods: Iterable[str] = UNSAFE_METHODS):
        self.using = using
        self.methods = frozenset(m.upper() for m in methods)
        self._key = f"_hookpipe_atomic_{id(self)}"

    def before(self, state: State) -> None:
        if state.request.method in self.methods:
            atomic = transaction.atomic(using=self.using)
            atomic.__enter__()
            setattr(state, self._key, atomic)

    def after(self, state: State) -> None:
        atomic = vars(state).pop(self._key, None)
        if atomic is None:
            return
        response = state.response
        if state.exception is not None or response is None or response.status_code >= 500:
            transaction.set_rollback(True, using=self.using)
        atomic.__exit__(None, None, None)
