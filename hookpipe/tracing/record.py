"""What the probes of one request learn (see :mod:`hookpipe.tracing.probes`)."""

from __future__ import annotations

from contextvars import ContextVar


class Record:
    """What the probes of one request learn: who answered, what each piece took."""

    __slots__ = ("answered", "last", "timings")

    def __init__(self) -> None:
        #: ``"<kind> <name>"`` of the piece that made the response, ``"error <kind>
        #: <name>"`` when the response is the error handling's for that piece's error.
        self.answered: str | None = None
        #: The innermost tween (or MAIN) entered so far.
        self.last = ""
        #: ``(kind, name, seconds)`` per piece that ran, for ``Server-Timing``.
        self.timings: list[tuple[str, str, float]] = []


#: This request's record, set by the chain's probe. A context variable, since asgiref
#: carries context variables into the threads and loops a request crosses.
current_record: ContextVar[Record | None] = ContextVar("hookpipe.tracing.record", default=None)
