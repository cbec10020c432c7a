"""Where a handler runs: ``inline``, ``pool`` or ``task``, decided once per build.

A handler class says it with ``RUNNER`` (and, for ``"task"``, ``TASK_BACKEND``,
``TASK_QUEUE_NAME``, ``TASK_PRIORITY``, ``TASK_STORE_ON``, ``TASK_IDEMPOTENCY_KEY``,
``TASK_KEEP_HEADERS``, ``TASK_MAX_ATTEMPTS``, ``TASK_RETRY_BACKOFF``); a
``HOOKPIPE["HANDLERS"]`` entry written as a dict overrides any of them for that project,
spelt as on the class (one spelling per option)::

    "HANDLERS": [
        "myapp.plugins.Audit",
        {"class": "myapp.plugins.WebhookStore", "RUNNER": "task", "TASK_QUEUE_NAME": "hooks"},
    ]

``RUNNER = None`` (the default) keeps the meaning ``THREAD_SAFE`` always had: ``True``
is ``"pool"``, ``False`` is ``"inline"``. The problems are check messages
found without calling plugin code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from django.core import checks

from ..check_ids import BAD_RUNNER

RunnerName = Literal["inline", "pool", "task"]
RUNNERS: Final[tuple[RunnerName, ...]] = ("inline", "pool", "task")

#: The keys of a ``HANDLERS`` entry written as a dict.
ENTRY_KEYS: Final = (
    "class",
    "RUNNER",
    "TASK_BACKEND",
    "TASK_QUEUE_NAME",
    "TASK_PRIORITY",
    "TASK_STORE_ON",
    "TASK_IDEMPOTENCY_KEY",
    "TASK_KEEP_HEADERS",
    "TASK_MAX_ATTEMPTS",
    "TASK_RETRY_BACKOFF",
)
#: How an entry spelt them before it spelt them as the class does.
OLD_ENTRY_KEYS: Final = {
    "runner": "RUNNER",
    "backend": "TASK_BACKEND",
    "queue_name": "TASK_QUEUE_NAME",
    "priority": "TASK_PRIORITY",
    "store_on": "TASK_STORE_ON",
}

#: When a task handler's job is stored: ``"success"`` (the request's final status is
#: below 400 and nothing raised) or ``"any"`` outcome.
STORE_ON: Final = ("success", "any")


#: Django's task framework accepts priorities in this range (TASK_MIN/MAX_PRIORITY).
PRIORITY_RANGE: Final = (-100, 100)


@dataclass(frozen=True)
class RunnerChoice:
    """Where one handler runs; the task options matter only for ``"task"``."""

    runner: RunnerName
    backend: str = "default"
    queue_name: str = "default"
    priority: int = 0
    store_on: str = "success"
    #: The header whose value identifies a delivery (``webhook-id``...), or ``None``.
    idempotency_key: str | None = None
    #: Secret-looking header and parameter names a stored job keeps (lower case).
    keep_headers: frozenset[str] = frozenset()
    #: Runs of a failing job before it is dead, and the wait before the first retry
    #: (seconds, doubled for each one after).
    max_attempts: int = 3
    retry_backoff: float = 30.0


def entry_class_path(raw: Any) -> Any:
    """The dotted class path of a ``HANDLERS`` entry: the string, or a dict's ``class``."""
    if isinstance(raw, Mapping):
        return raw.get("class")
    return raw


def choose(
    where: str, cls: type, raw: Any, problems: list[checks.CheckMessage]
) -> RunnerChoice | None:
    """The runner of handler class ``cls`` listed as ``raw``; ``None`` (and problems)
    when the class attributes or the entry are wrong."""
    overrides: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    before = len(problems)
    for key in overrides:
        if key not in ENTRY_KEYS:
            renamed = OLD_ENTRY_KEYS.get(key)
            problems.append(
                checks.Error(
                    f"{where} has an unknown key {key!r}.",
                    hint=(
                        f'It was renamed: write "{renamed}", as on the class (see '
                        '"Upgrading" in the CHANGELOG).'
                        if renamed
                        else "A handler entry's keys: " + ", ".join(ENTRY_KEYS) + "."
                    ),
                    id=BAD_RUNNER,
                )
            )

    def option(name: str, default: Any) -> Any:
        return overrides.get(name, getattr(cls, name, default))

    runner = option("RUNNER", None)
    if runner is None:
        runner = "pool" if getattr(cls, "THREAD_SAFE", True) else "inline"
    if runner not in RUNNERS:
        problems.append(
            checks.Error(
                f"{where}: the runner {runner!r} is not one of "
                + ", ".join(map(repr, RUNNERS))
                + ".",
                hint='"inline": in the request\'s thread; "pool": the process\'s thread pool; '
                '"task": a Django Tasks backend.',
                id=BAD_RUNNER,
            )
        )
    values = {
        "backend": option("TASK_BACKEND", "default"),
        "queue_name": option("TASK_QUEUE_NAME", "default"),
    }
    for key, value in values.items():
        if not isinstance(value, str) or not value:
            problems.append(
                checks.Error(
                    f"{where}: the task {key} must be a non-empty string, not {value!r}.",
                    id=BAD_RUNNER,
                )
            )
    priority = option("TASK_PRIORITY", 0)
    low, high = PRIORITY_RANGE
    if isinstance(priority, bool) or not isinstance(priority, int) or not low <= priority <= high:
        problems.append(
            checks.Error(
                f"{where}: the task priority must be an integer from {low} to {high}, "
                f"not {priority!r}.",
                id=BAD_RUNNER,
            )
        )
    store_on = option("TASK_STORE_ON", "success")
    if store_on not in STORE_ON:
        problems.append(
            checks.Error(
                f"{where}: store_on must be one of "
                + ", ".join(map(repr, STORE_ON))
                + f", not {store_on!r}.",
                hint='"success": stored only when the request succeeds (status below 400); '
                '"any": stored whatever the response.',
                id=BAD_RUNNER,
            )
        )
    key_header = option("TASK_IDEMPOTENCY_KEY", None)
    if key_header is not None and (not isinstance(key_header, str) or not key_header):
        problems.append(
            checks.Error(
                f"{where}: TASK_IDEMPOTENCY_KEY must be a header name or None, not {key_header!r}.",
                hint='The header that identifies a delivery, e.g. "webhook-id" (Standard '
                'Webhooks) or "X-GitHub-Delivery"; or override idempotency_key().',
                id=BAD_RUNNER,
            )
        )
    keep = option("TASK_KEEP_HEADERS", ())
    if (
        isinstance(keep, str)
        or not isinstance(keep, list | tuple | set | frozenset)
        or not all(isinstance(name, str) and name for name in keep)
    ):
        problems.append(
            checks.Error(
                f"{where}: TASK_KEEP_HEADERS must be a list of header names, not {keep!r}.",
                hint="The secret-looking headers handle() needs in the worker, e.g. "
                '["X-Webhook-Token"]; every other such header is left out of the job.',
                id=BAD_RUNNER,
            )
        )
    attempts = option("TASK_MAX_ATTEMPTS", 3)
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
        problems.append(
            checks.Error(
                f"{where}: TASK_MAX_ATTEMPTS must be an integer >= 1, not {attempts!r}.",
                hint="How many times a failing job runs before it is dead (1: no retry).",
                id=BAD_RUNNER,
            )
        )
    backoff = option("TASK_RETRY_BACKOFF", 30.0)
    if isinstance(backoff, bool) or not isinstance(backoff, int | float) or backoff <= 0:
        problems.append(
            checks.Error(
                f"{where}: TASK_RETRY_BACKOFF must be a number of seconds > 0, not {backoff!r}.",
                hint="The wait before the first retry; each retry after waits twice as long.",
                id=BAD_RUNNER,
            )
        )
    if len(problems) > before:
        return None
    return RunnerChoice(
        runner,
        values["backend"],
        values["queue_name"],
        priority,
        store_on,
        key_header,
        frozenset(name.lower() for name in keep),
        attempts,
        float(backoff),
    )
