"""The task runner's promise under real servers: gunicorn and two ``db_worker``
processes, on SQLite and on PostgreSQL; one web worker and one task worker SIGKILLed
mid-run; every delivery answered 2xx is then stored at least once (tests/kill_runs.py).

CI runs 150 deliveries per database; ``python -m tests.kill_runs --deliveries 500``
is the measured run of bench/RESULTS.md.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests import kill_runs

DELIVERIES = 150


def postgres_or_skip() -> None:
    import psycopg

    try:
        psycopg.connect(f"{kill_runs.POSTGRES_URL}/postgres", connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"PostgreSQL is not reachable at {kill_runs.POSTGRES_URL}: {exc}")


@pytest.mark.live
@pytest.mark.parametrize("db", ["sqlite", "postgres"])
def test_no_answered_delivery_is_lost_when_workers_are_killed(tmp_path: Path, db: str) -> None:
    if db == "postgres":
        postgres_or_skip()
    outcome = kill_runs.run(tmp_path, runner="task", db=db, deliveries=DELIVERIES)
    print(outcome.line())  # shown with -s / -rA: the counts, duplicates included
    assert outcome.answered >= DELIVERIES * 0.9, outcome
    assert outcome.lost == 0, outcome
    assert outcome.executed == outcome.answered, outcome
