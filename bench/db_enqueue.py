"""What hookpipe's enqueue on the database engine costs against a bare committed INSERT,
in process, paired, on PostgreSQL.

Four ways to store the same job (hookpipe's task, a webhook's snapshot as the task
runner stores it) in a fresh PostgreSQL database, ``--jobs`` each, in interleaved rounds
(the order shuffled every round, so that drift on a shared machine hits all alike):

* ``insert``: one committed ``INSERT`` of a row holding the same JSON, in a plain table
  of two columns: the floor, what storing the bytes costs;
* ``engine``: the engine's own enqueue, ``Task.enqueue`` on django-tasks-db's backend
  with the job's arguments ready (committed: its row of about twenty columns);
* ``hookpipe``: what the task runner does per request: the snapshot's stored form
  (JSON, the body in base64), then the same enqueue;
* ``keyed``: the same with an idempotency key, as a handler with
  ``TASK_IDEMPOTENCY_KEY`` stores it: the key's row and the job's in one transaction.

Prints µs per enqueue (median over rounds) and, per round, each / insert and
hookpipe / engine; the ratios' median and range. The database is created for the run
and dropped after.

    python bench/db_enqueue.py [--jobs 300] [--rounds 15]

``HOOKPIPE_TEST_POSTGRES`` (default ``postgres://postgres@127.0.0.1:5432``) names the
server. Results: bench/RESULTS.md.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
SERVER = os.environ.get("HOOKPIPE_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432")
DATABASE = f"hp_bench_{uuid.uuid4().hex[:10]}"
os.environ.update(
    DJANGO_SETTINGS_MODULE="demo_project.settings",
    DEMO_ENV_FILE="/nonexistent.env",
    DATABASE_URL=f"{SERVER}/{DATABASE}",
)


def main() -> None:
    from bench import paired

    args = paired.arguments()
    import psycopg

    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{DATABASE}"')
    try:
        run(args.jobs, args.rounds)
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')


def run(jobs: int, rounds: int) -> None:
    import django

    from bench import paired

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    from hookpipe.tasks import keys, worker
    from hookpipe.tasks.runner import dumps

    call_command("migrate", verbosity=0)
    snapshot, job_args = paired.webhook_job()
    row = json.dumps(list(job_args))
    task = worker.base_task().using(backend="default")
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE bench_rows (id bigserial PRIMARY KEY, args jsonb)")
    counter = iter(range(10**9))

    def insert() -> None:
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO bench_rows (args) VALUES (%s)", [row])

    def engine() -> None:
        task.enqueue(*job_args)

    def hookpipe() -> None:
        stored, _ = dumps(snapshot, 1 << 20)
        task.enqueue(job_args[0], job_args[1], stored)

    def keyed() -> None:
        stored, _ = dumps(snapshot, 1 << 20)
        with transaction.atomic():
            keys.claimed("webhook-store", f"msg_{next(counter)}", "0" * 32, 3600)
            task.enqueue(job_args[0], job_args[1], stored)

    ways = {"insert": insert, "engine": engine, "hookpipe": hookpipe, "keyed": keyed}
    per_call = paired.rounds(ways, jobs, rounds)
    paired.report(
        per_call,
        [
            ("engine", "insert"),
            ("hookpipe", "insert"),
            ("keyed", "insert"),
            ("hookpipe", "engine"),
            ("keyed", "hookpipe"),
        ],
    )


if __name__ == "__main__":
    main()
