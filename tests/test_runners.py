"""The handler pool: bounds, ON_FULL, counters (and their invariant under load), draining,
database connections, and fork safety."""

from __future__ import annotations

import ast
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.db.backends.signals import connection_created

from hookpipe.jobs import process_pool
from hookpipe.jobs import run as jobs
from hookpipe.jobs.counters import Counters
from hookpipe.jobs.pool import BLOCK_TIMEOUT, HandlerPool


@pytest.fixture(autouse=True)
def _fresh_process_pool() -> Iterator[None]:
    process_pool.reset_for_tests()
    yield
    process_pool.reset_for_tests()


@pytest.fixture
def pools() -> Iterator[list[HandlerPool]]:
    """Pools a test builds; drained at the end whatever happened."""
    made: list[HandlerPool] = []
    yield made
    for pool in made:
        pool.drain(5)


def make(
    pools: list[HandlerPool], workers: int, queue: int, on_full: str, **kw: Any
) -> HandlerPool:
    pool = HandlerPool(workers, queue, on_full, Counters(), **kw)
    pools.append(pool)
    return pool


def balanced(snapshot: dict[str, Any]) -> bool:
    s = snapshot
    return bool(
        s["submitted"] == s["succeeded"] + s["failed"] + s["rejected"] + s["queued"] + s["running"]
    )


class Gate:
    """Jobs that wait until the test opens the gate."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.started = threading.Semaphore(0)

    def job(self) -> None:
        self.started.release()
        if not self.open.wait(10):
            raise TimeoutError("the gate never opened")


def test_jobs_run_and_are_counted(pools: list[HandlerPool]) -> None:
    pool = make(pools, 2, 10, "block")
    done = threading.Event()
    assert pool.submit("h", done.set) == "queued"
    assert done.wait(5)
    assert pool.drain(5)
    snap = pool.counters.snapshot("h")
    assert snap["submitted"] == snap["succeeded"] == 1
    assert snap["failed"] == snap["rejected"] == snap["running"] == snap["queued"] == 0
    assert snap["duration_ms"]["window"] == 1


def test_a_failing_job_is_logged_with_the_handler_name(
    pools: list[HandlerPool], caplog: pytest.LogCaptureFixture
) -> None:
    pool = make(pools, 1, 1, "block")

    def boom() -> None:
        raise ValueError("nope")

    pool.submit("noisy", boom, request_id="abc123")
    assert pool.drain(5)
    assert pool.counters.snapshot("noisy")["failed"] == 1
    [record] = [r for r in caplog.records if "raised" in r.getMessage()]
    assert (
        record.getMessage() == "hookpipe: handler 'noisy' raised ValueError: nope (request abc123)"
    )
    assert record.request_id == "abc123"  # type: ignore[attr-defined]
    assert record.exc_info is not None


def test_reject_when_full(pools: list[HandlerPool], caplog: pytest.LogCaptureFixture) -> None:
    pool = make(pools, 1, 1, "reject")
    gate = Gate()
    assert pool.submit("h", gate.job) == "queued"  # runs
    assert gate.started.acquire(timeout=5)
    assert pool.submit("h", gate.job) == "queued"  # waits
    assert pool.submit("h", gate.job) == "rejected"
    assert "job rejected: the pool is full (ON_FULL='reject'" in caplog.text
    snap = pool.counters.snapshot("h")
    assert (snap["running"], snap["queued"], snap["rejected"]) == (1, 1, 1)
    assert pool.state()["queue_depth"] == 1
    gate.open.set()
    assert pool.drain(5)
    snap = pool.counters.snapshot("h")
    assert (snap["submitted"], snap["succeeded"], snap["rejected"]) == (3, 2, 1)


def test_inline_when_full_runs_in_the_callers_thread(pools: list[HandlerPool]) -> None:
    pool = make(pools, 1, 0, "inline")
    gate = Gate()
    pool.submit("h", gate.job)
    assert gate.started.acquire(timeout=5)
    ran_in: list[str] = []
    assert pool.submit("h", lambda: ran_in.append(threading.current_thread().name)) == "inline"
    assert ran_in == [threading.current_thread().name]
    gate.open.set()
    assert pool.drain(5)
    snap = pool.counters.snapshot("h")
    assert (snap["submitted"], snap["succeeded"], snap["inline"]) == (2, 2, 1)


def test_block_waits_for_room(pools: list[HandlerPool]) -> None:
    pool = make(pools, 1, 0, "block")
    gate = Gate()
    pool.submit("h", gate.job)
    assert gate.started.acquire(timeout=5)
    threading.Timer(0.2, gate.open.set).start()
    start = time.monotonic()
    assert pool.submit("h", lambda: None) == "queued"
    assert 0.1 < time.monotonic() - start < 3
    assert pool.drain(5)
    assert pool.counters.snapshot("h")["succeeded"] == 2


def test_block_gives_up_after_its_timeout(
    pools: list[HandlerPool], caplog: pytest.LogCaptureFixture
) -> None:
    pool = make(pools, 1, 0, "block", block_timeout=0.2)
    gate = Gate()
    pool.submit("h", gate.job)
    assert gate.started.acquire(timeout=5)
    start = time.monotonic()
    assert pool.submit("h", lambda: None) == "rejected"
    assert 0.15 < time.monotonic() - start < 2
    assert "ON_FULL='block'" in caplog.text
    gate.open.set()


def test_block_timeout_is_documented() -> None:
    assert BLOCK_TIMEOUT == 5.0
    assert process_pool.DRAIN_TIMEOUT == 10.0


def test_counters_balance_under_concurrent_submits(pools: list[HandlerPool]) -> None:
    """Threads hammer a tiny pool; a watcher checks the invariant all along."""
    pool = make(pools, 2, 3, "reject")
    names = ["a", "b", "c"]
    rng = random.Random(7)
    stop = threading.Event()
    violations: list[dict[str, Any]] = []
    samples = [0]

    def job() -> None:
        time.sleep(rng.random() / 1000)
        if rng.random() < 0.2:
            raise RuntimeError("planned failure")

    def hammer(seed: int) -> None:
        for i in range(300):
            pool.submit(names[(seed + i) % 3], job)

    def watch() -> None:
        while not stop.is_set():
            for name in names:
                snap = pool.counters.snapshot(name)
                samples[0] += 1
                if not balanced(snap):
                    violations.append(snap)

    watcher = threading.Thread(target=watch)
    watcher.start()
    hammers = [threading.Thread(target=hammer, args=(n,)) for n in range(6)]
    for t in hammers:
        t.start()
    for t in hammers:
        t.join(30)
    assert pool.drain(10)
    stop.set()
    watcher.join(5)
    assert not violations
    assert samples[0] > 100
    totals = pool.counters.totals()
    assert totals["submitted"] == 6 * 300
    assert totals["succeeded"] + totals["failed"] + totals["rejected"] == 6 * 300
    assert totals["rejected"] > 0  # the pool was too small on purpose
    assert totals["queued"] == totals["running"] == 0


def test_drain_drops_what_is_still_queued_and_counts_it(pools: list[HandlerPool]) -> None:
    pool = make(pools, 1, 5, "block")
    gate = Gate()
    pool.submit("h", gate.job)
    assert gate.started.acquire(timeout=5)
    for _ in range(3):
        pool.submit("h", gate.job)
    assert not pool.drain(0.1)
    snap = pool.counters.snapshot("h")
    assert (snap["running"], snap["queued"], snap["rejected"]) == (1, 0, 3)
    assert balanced(snap)
    gate.open.set()
    assert pool.drain(5)
    assert pool.counters.snapshot("h")["succeeded"] == 1
    # Closed: later jobs are rejected, not lost.
    assert pool.submit("h", lambda: None) == "rejected"
    assert balanced(pool.counters.snapshot("h"))


def test_percentiles_over_the_window() -> None:
    counters = Counters()
    for ms in range(1, 101):
        counters.started_inline("h")
        counters.finished("h", True, ms / 1000)
    assert counters.snapshot("h")["duration_ms"] == {
        "p50": 50.0,
        "p95": 95.0,
        "max": 100.0,
        "window": 100,
    }


def test_process_pool_is_lazy_and_follows_the_settings() -> None:
    assert process_pool.current_pool() is None
    one = process_pool.get_pool({"MAX_WORKERS": 1, "MAX_QUEUE": 2, "ON_FULL": "reject"})
    assert process_pool.get_pool({"MAX_WORKERS": 1, "MAX_QUEUE": 2, "ON_FULL": "reject"}) is one
    two = process_pool.get_pool({"MAX_WORKERS": 2, "MAX_QUEUE": 2, "ON_FULL": "reject"})
    assert two is not one
    assert process_pool.current_pool() is two
    assert one.submit("h", lambda: None) == "rejected"  # the old pool takes no more
    state = two.state()
    assert state["max_workers"] == 2
    assert state["workers"] == 0  # no thread before the first job
    assert two.submit("h", lambda: None) == "queued"
    final = process_pool.shutdown(5)
    assert final["h"]["succeeded"] == 1
    assert final["h"]["rejected"] == 1
    assert two.state()["workers"] == 1
    # After shutdown every job is rejected, counted.
    assert (
        process_pool.get_pool({"MAX_WORKERS": 1, "MAX_QUEUE": 0, "ON_FULL": "block"}).submit(
            "h", lambda: None
        )
        == "rejected"
    )


def open_connection() -> None:
    """In a pool job: what Django does when a handler's first query opens this thread's
    connection (the signal tells hookpipe that the thread has one to check from now on;
    no real connection, which SQLite in memory would keep open past the test)."""
    connection_created.send(sender=type(connection), connection=connection)


def test_pool_jobs_close_old_connections_before_and_after(
    pools: list[HandlerPool], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Django closes a request's connection when the request ends (CONN_MAX_AGE); a pool
    # thread outlives requests, so each job does the same once the thread has opened one.
    # (The test database is SQLite in memory, whose close() Django ignores, so the calls
    # are what can be observed.)
    calls: list[str] = []
    monkeypatch.setattr(
        jobs, "close_old_connections", lambda: calls.append(threading.current_thread().name)
    )
    pool = make(pools, 1, 0, "inline")
    gate = Gate()
    pool.submit("db", lambda: open_connection() or calls.append("job") or gate.job())
    assert gate.started.acquire(timeout=5)
    assert pool.submit("db", lambda: calls.append("inline")) == "inline"
    gate.open.set()
    deadline = time.monotonic() + 5
    while len(calls) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    pool.submit("db", lambda: calls.append("later"))
    assert pool.drain(5)
    pool_thread = calls[2]
    assert pool_thread.startswith("hookpipe-handler")
    # No check before the first job (no connection yet); the inline job left the request
    # thread's connection alone; the later job was checked before and after.
    assert calls == ["job", "inline", pool_thread, pool_thread, "later", pool_thread]


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What ran, in order: jobs append their names, Django's connection check "check"."""
    calls: list[str] = []
    monkeypatch.setattr(jobs, "close_old_connections", lambda: calls.append("check"))
    return calls


def test_a_pool_thread_without_a_database_connection_checks_none(
    pools: list[HandlerPool], checks: list[str]
) -> None:
    # Issue 12: Django's check cost 2 to 6 µs per call, most of a job that does not use
    # the database; a thread that never opened a connection has none to check.
    pool = make(pools, 2, 10, "block")
    for number in range(5):
        pool.submit("http", lambda number=number: checks.append(f"job {number}"))
    assert pool.drain(5)
    assert sorted(checks) == [f"job {number}" for number in range(5)]


def test_a_job_that_follows_another_at_once_skips_the_check_before_it(
    pools: list[HandlerPool], checks: list[str]
) -> None:
    # Issue 12: the check after one job is the check before the next, when nothing
    # came between them; it cost 2.6 to 5.6 µs per job.
    pool = make(pools, 1, 5, "block")
    gate = Gate()
    pool.submit("db", lambda: open_connection() or checks.append("job 1") or gate.job())
    assert gate.started.acquire(timeout=5)
    pool.submit("db", lambda: checks.append("job 2"))
    pool.submit("db", lambda: checks.append("job 3"))
    gate.open.set()
    assert pool.drain(5)
    assert checks == ["job 1", "check", "job 2", "check", "job 3", "check"]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_a_forked_child_does_not_use_the_parents_pool() -> None:
    settings = {"MAX_WORKERS": 1, "MAX_QUEUE": 1, "ON_FULL": "block"}
    parent_pool = process_pool.get_pool(settings)
    parent_pool.submit("h", lambda: None)
    assert parent_pool.drain(5) is True
    process_pool.reset_for_tests()
    parent_pool = process_pool.get_pool(settings)
    assert parent_pool.submit("h", lambda: None) == "queued"
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, then leave without running pytest's exit code
        code = 1
        try:
            fresh = process_pool.current_pool() is None and process_pool.counters().names() == []
            done = threading.Event()
            pool = process_pool.get_pool(settings)
            ok = pool is not parent_pool and pool.submit("h", done.set) == "queued"
            code = 0 if fresh and ok and done.wait(5) else 2
        finally:
            os.write(write, bytes([code]))
            os._exit(code)
    os.close(write)
    try:
        result = os.read(read, 1)
    finally:
        os.close(read)
        os.waitpid(pid, 0)
    assert result == b"\x00"


EXIT_SCRIPT = """
import logging, sys, time
import django
from django.conf import settings
settings.configure(DATABASES={})
django.setup()
logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(message)s")
from hookpipe.jobs import process_pool
process_pool.DRAIN_TIMEOUT = 0.5
pool = process_pool.get_pool({"MAX_WORKERS": 1, "MAX_QUEUE": 10, "ON_FULL": "block"})
for _ in range(6):
    pool.submit("slow", lambda: time.sleep(0.3))
print("leaving", flush=True)
"""


def test_the_pool_drains_at_exit_with_a_bound() -> None:
    """A process that exits with jobs queued waits DRAIN_TIMEOUT, not for every job,
    and counts the jobs it dropped."""
    start = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", EXIT_SCRIPT], capture_output=True, text=True, timeout=30
    )
    took = time.monotonic() - start
    assert result.returncode == 0, result.stderr
    assert "leaving" in result.stdout
    line = next(x for x in result.stdout.splitlines() if "drained at exit" in x)
    final = ast.literal_eval(line.split(": ", 2)[2])  # the logged counters
    slow = final["slow"]
    assert slow["submitted"] == 6
    # One job may still be running when the time is up: Python's exit waits for it.
    assert slow["running"] <= 1
    assert slow["succeeded"] + slow["rejected"] + slow["running"] == 6
    assert slow["rejected"] >= 3  # 6 x 0.3 s would take 1.8 s; the bound is 0.5 s
    assert "job dropped: the pool was shut down" in result.stdout
    assert took < 6 * 0.3 + 2  # interpreter start-up included
