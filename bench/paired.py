"""Paired, interleaved rounds of in-process ways to do one thing, and their ratios.

The enqueue benchmarks (``db_enqueue.py``, ``rq_enqueue.py``, ``celery_enqueue.py``)
time a few ways to store the same job. On a shared machine the absolute numbers drift,
so every way runs in every round, in an order shuffled each round, and a ratio is
taken round by round against a floor measured in that same round.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable, Iterable
from typing import Any

Way = Callable[[], None]


def arguments(rounds: int = 15) -> argparse.Namespace:
    """``--jobs`` (calls per way and round) and ``--rounds``."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=rounds)
    return parser.parse_args()


def webhook_job() -> tuple[Any, tuple[str, str, Any]]:
    """The demo's shop delivery as a snapshot, and the arguments of hookpipe's task that
    stores it for ``webhook-store``, as the task runner makes them (after
    ``django.setup()``)."""
    from hookpipe import RequestSnapshot
    from hookpipe.plugins.snapshot import Headers
    from hookpipe.tasks.runner import dumps

    snapshot = RequestSnapshot(
        "POST", "/webhooks/shop/", "/webhooks/shop/", (),
        Headers([("Content-Type", "application/json"), ("webhook-id", "msg_1")]),
        b'{"kind": "order.paid", "order": 42}', "127.0.0.1", "http", None, "0" * 32,
    )  # fmt: skip
    payload, _ = dumps(snapshot, 1 << 20)
    return snapshot, ("webhook-store", "demo_project.events.plugins.WebhookStore", payload)


def rounds(
    ways: dict[str, Way],
    jobs: int,
    count: int,
    warm: int = 20,
    after_round: Callable[[], None] | None = None,
) -> dict[str, list[float]]:
    """µs per call of each way, one value per round (``count`` rounds of ``jobs`` calls
    per way), after ``warm`` calls of each (imports, connections, first pages)."""
    for way in ways.values():
        for _ in range(warm):
            way()
    per_call: dict[str, list[float]] = {name: [] for name in ways}
    order = list(ways)
    for _ in range(count):
        random.shuffle(order)
        for name in order:
            way = ways[name]
            start = time.perf_counter()
            for _ in range(jobs):
                way()
            per_call[name].append((time.perf_counter() - start) / jobs * 1e6)
        if after_round is not None:
            after_round()
    return per_call


def report(per_call: dict[str, list[float]], pairs: Iterable[tuple[str, str]]) -> None:
    """Print each way's median, then each pair's per-round ratio (median and range)."""
    for name, values in per_call.items():
        print(f"{name:9} {statistics.median(values):8.1f} µs per enqueue (median of {len(values)})")
    for name, base in pairs:
        ratios = [a / b for a, b in zip(per_call[name], per_call[base], strict=True)]
        print(
            f"{name} / {base}: {statistics.median(ratios):.2f} x "
            f"(per round {min(ratios):.2f}-{max(ratios):.2f})"
        )
