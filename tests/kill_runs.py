"""Kill runs: deliver webhooks to the demo under gunicorn, SIGKILL one web worker and
one task worker mid-run, then count what every delivery answered 2xx became.

Used by ``tests/test_kill_runs.py`` (a small run in CI) and for the measured runs in
``bench/RESULTS.md``::

    python -m tests.kill_runs --runner task --database sqlite --deliveries 500
    python -m tests.kill_runs --runner pool --database sqlite --deliveries 500
    python -m tests.kill_runs --engine rq --deliveries 500       # RQ on Redis
    python -m tests.kill_runs --engine celery --deliveries 500   # Celery on RabbitMQ
    python -m tests.kill_runs --server uvicorn --deliveries 500  # uvicorn, SIGTERM
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests import live

POSTGRES_URL = os.environ.get("HOOKPIPE_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432")
#: RQ's Redis; database 1, so that the runs stay out of database 0.
REDIS_URL = os.environ.get("RQ_REDIS_URL", "redis://127.0.0.1:6379/1")
#: Celery's broker (RabbitMQ); each run declares a queue of its own there, deleted after.
AMQP_URL = os.environ.get("HOOKPIPE_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
#: RQ's job timeout in these runs: an abandoned job's execution expires about
#: min(timeout, 30) + 60 seconds after it started (rq 3.0), then RQ's cleanup retries it.
RQ_TIMEOUT = 10
#: Seconds of pretend work per RQ or Celery job: a work horse spends a few milliseconds
#: forking and doing RQ's bookkeeping; the kill must land inside the handler.
RQ_DELAY = 0.2
#: Heartbeats in these runs (seconds): a killed database worker's job is READY again
#: about HEARTBEAT_TIMEOUT after its last beat, made so by a surviving worker's sweep.
HEARTBEAT_EVERY = 0.5
HEARTBEAT_TIMEOUT = 2.0


#: One delivery in ten is sent again, this many deliveries after its first copy.
REDELIVER_AFTER = 5


def is_redelivery(i: int) -> bool:
    """Whether delivery ``i`` of a run repeats delivery ``i - REDELIVER_AFTER``."""
    return i % 10 == 9


@dataclass
class Outcome:
    runner: str
    database: str
    sent: int
    #: webhook-ids (distinct deliveries) answered 2xx; executed: those stored
    answered: int
    executed: int
    duplicates: int
    lost: int
    seconds: float
    engine: str = "db"
    server: str = "gunicorn"
    #: request id -> how many times it was executed, for those executed more than once
    duplicated: dict[str, int] = field(default_factory=dict)
    #: tasks found abandoned: made READY by a database worker's sweep, or retried by RQ
    recovered: int = 0
    #: RQ: whether the killed worker had a work horse (a job in hand) when killed
    rq_horse_killed: bool = False
    #: seconds from the task worker's kill until every answered delivery was stored
    after_kill: float = 0.0
    #: deliveries sent again with the webhook-id of an earlier one (one in ten)
    redeliveries: int = 0
    #: redeliveries answered as duplicates: neither stored nor run again
    absorbed: int = 0
    #: webhook-ids stored under two request ids or more: a redelivery run again
    ran_twice: int = 0

    def line(self) -> str:
        where = self.engine if self.runner == "task" else self.runner
        return (
            f"{where:4} {self.database:8} {self.server:8} sent {self.sent}, answered 2xx "
            f"{self.answered}, executed {self.executed}, duplicates {self.duplicates}, lost "
            f"{self.lost}, recovered {self.recovered} ({self.seconds:.1f} s; all stored "
            f"{self.after_kill:.1f} s after the task worker's kill)"
            + f"; redeliveries {self.redeliveries}, absorbed {self.absorbed}, "
            f"run twice {self.ran_twice}"
            + ("; killed an RQ work horse mid-job" if self.rq_horse_killed else "")
            + (f"; executed twice or more: {self.duplicated}" if self.duplicated else "")
        )


def sent_twice(events: list[dict[str, Any]]) -> int:
    """How many webhook-ids (the ``key`` each kill-run payload carries) were stored
    under two request ids or more: redeliveries that ran again."""
    by_key: dict[str, set[str]] = {}
    for event in events:
        key = (event.get("payload") or {}).get("key")
        if key:
            by_key.setdefault(key, set()).add(event["request_id"])
    return sum(1 for rids in by_key.values() if len(rids) > 1)


def tally(answered: set[str], stored: list[str]) -> tuple[int, int, int, dict[str, int]]:
    """(executed, duplicates, lost, duplicated) for the ``answered`` request ids, given
    the request id of every stored execution: a request id stored n > 1 times counts
    n - 1 duplicates (request_id is the key a handler dedupes on: docs/durable.rst)."""
    counts = Counter(stored)
    executed = sum(1 for rid in answered if counts[rid])
    duplicated = {rid: n for rid, n in counts.items() if n > 1}
    duplicates = sum(n - 1 for n in duplicated.values())
    return executed, duplicates, len(answered) - executed, duplicated


@contextmanager
def database(kind: str) -> Iterator[str | None]:
    """A ``DATABASE_URL`` for ``kind`` (``None``: the temporary SQLite file), created
    and dropped around the run (PostgreSQL: a database named ``hp_tasks_<hex>``)."""
    if kind == "sqlite":
        yield None
        return
    import psycopg

    name = f"hp_tasks_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"{POSTGRES_URL}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{POSTGRES_URL}/{name}"
    finally:
        with psycopg.connect(f"{POSTGRES_URL}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(
    tmp_path: Path,
    *,
    runner: str,
    db: str,
    deliveries: int,
    concurrency: int = 8,
    engine: str = "db",
    server: str = "gunicorn",
) -> Outcome:
    """Deliver, kill one web worker (gunicorn: SIGKILL; uvicorn: SIGTERM, then a new
    uvicorn to read the result) and one task worker (SIGKILL, with RQ's work horse)
    mid-run, recover, and count."""
    with ExitStack() as outer:
        url = outer.enter_context(database(db))
        fresh_queue = {"rq": rq_queue, "celery": celery_queue}.get(engine)
        queue = outer.enter_context(fresh_queue()) if fresh_queue else ""
        overrides = {
            "DEMO_WEBHOOK_RUNNER": runner,
            "DEMO_HEARTBEAT_EVERY": str(HEARTBEAT_EVERY),
            "DEMO_HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT),
            "DEMO_WORKERS": "2",
            # A little pretend work per delivery, so that kills land mid-job.
            "HOOKPIPE_WEBHOOK_STORE_DELAY": str(RQ_DELAY if engine != "db" else 0.02),
            "HOOKPIPE_LOG_LEVEL": "WARNING",
        }
        if url:
            overrides["DATABASE_URL"] = url
        if engine == "rq":
            overrides.update(
                DEMO_TASK_ENGINE="rq",
                RQ_REDIS_URL=REDIS_URL,
                DEMO_RQ_QUEUE=queue,
                DEMO_RQ_TIMEOUT=str(RQ_TIMEOUT),
            )
        if engine == "celery":
            overrides.update(
                DEMO_TASK_ENGINE="celery", CELERY_BROKER_URL=AMQP_URL, DEMO_CELERY_QUEUE=queue
            )
        env = live.project_env(tmp_path, **overrides)
        live.manage("migrate", "--noinput", env=env)
        recovered = [0]
        mid_job = [False]
        killed_at = [0.0]
        absorbed = [0]
        with ExitStack() as stack:
            web = stack.enter_context(_server(server, env, tmp_path))
            workers = [stack.enter_context(_worker(engine, env, tmp_path, queue)) for _ in range(2)]
            start = time.monotonic()
            answered = _deliver(
                web, workers, deliveries, concurrency, server, engine, mid_job, killed_at, absorbed
            )
            if server == "uvicorn":
                web = stack.enter_context(_server(server, env, tmp_path))
            # RQ: the surviving worker's heart hands the killed worker's job to RQ's
            # cleanup once the dead one's beat is HEARTBEAT_TIMEOUT old. A worker killed
            # before its first beat is left to RQ's expiry (about RQ_TIMEOUT + 60 s
            # after the job started), which the command's cleanup then acts on.
            recover = env if runner == "task" and engine == "rq" else None
            timeout = 60.0 + (RQ_TIMEOUT + 90.0 if recover else 0.0)
            _wait_for(
                web,
                answered,
                timeout=timeout,
                recover_env=recover,
                recovered=recovered,
                settled_queue=queue if recover else None,
                ids_of=stored_keys,
            )
            settled = time.monotonic()
            seconds = settled - start
            if engine in ("db", "rq"):
                # The surviving worker's heart handed the killed worker's job back.
                recovered[0] += sum(_swept(worker.log()) for worker in workers)
            events = stored_events(web)
    executed, _, lost, _ = tally(answered, [e["payload"]["key"] for e in events])
    _, duplicates, _, duplicated = tally(set(), [e["request_id"] for e in events])
    return Outcome(
        runner,
        db,
        deliveries,
        len(answered),
        executed,
        duplicates,
        lost,
        seconds,
        engine=engine,
        server=server,
        duplicated=duplicated,
        recovered=recovered[0],
        rq_horse_killed=mid_job[0],
        after_kill=settled - killed_at[0] if killed_at[0] else 0.0,
        redeliveries=sum(1 for i in range(deliveries) if is_redelivery(i)),
        absorbed=absorbed[0],
        ran_twice=sent_twice(events),
    )


@contextmanager
def rq_queue() -> Iterator[str]:
    """A fresh RQ queue name for one run, its keys deleted afterwards (the jobs' own
    keys expire by themselves)."""
    import redis

    name = f"hp_kill_{uuid.uuid4().hex[:12]}"
    try:
        yield name
    finally:
        client = redis.Redis.from_url(REDIS_URL)
        try:
            keys = list(client.scan_iter(match=f"rq:*{name}*"))
            if keys:
                client.delete(*keys)
        finally:
            client.close()


@contextmanager
def celery_queue() -> Iterator[str]:
    """A fresh queue name on the broker for one run, the queue deleted afterwards."""
    from kombu import Connection

    name = f"hp_kill_{uuid.uuid4().hex[:12]}"
    try:
        yield name
    finally:
        with Connection(AMQP_URL) as conn:
            conn.default_channel.queue_delete(name)


def _server(kind: str, env: dict[str, str], tmp_path: Path) -> Any:
    return live.uvicorn(env, tmp_path) if kind == "uvicorn" else live.gunicorn(env, tmp_path)


def _worker(engine: str, env: dict[str, str], tmp_path: Path, queue: str) -> Any:
    if engine == "rq":
        return live.rq_worker(env, tmp_path, queue)
    if engine == "celery":
        return live.celery_worker(env, tmp_path, queue)
    return live.db_worker(
        env, tmp_path, "--queue-name", "*", "--interval", "0.1", "--no-startup-delay"
    )


def _deliver(
    server: live.LiveServer,
    workers: list[live.LiveServer],
    n: int,
    concurrency: int,
    kind: str = "gunicorn",
    kind_engine: str = "db",
    mid_job: list[bool] | None = None,
    killed_at: list[float] | None = None,
    absorbed: list[int] | None = None,
) -> set[str]:
    """Send ``n`` deliveries, one in ten a redelivery (the webhook-id and body of the one
    sent five before), killing a web and a task worker on the way; the webhook-ids of
    those answered 2xx (a copy answered as a duplicate counts in ``absorbed`` too).

    Deliveries are told apart by webhook-id, not request id: of two copies in flight at
    once, both may be answered 202 while the first to be stored takes the key and the
    other is not stored (docs/durable.rst, "Idempotency keys")."""
    answered: set[str] = set()
    lock = threading.Lock()
    done = [0]
    absorbed = absorbed if absorbed is not None else [0]

    def one(i: int) -> None:
        first = i - REDELIVER_AFTER if is_redelivery(i) else i
        key = f"kill-{first}"
        try:
            reply: live.Reply | None = deliver(
                server, {"kind": "kill-run", "n": first, "key": key}, key
            )
        except OSError:  # the worker serving it was killed: not answered
            reply = None
        with lock:
            done[0] += 1
            if reply is not None and 200 <= reply.status < 300:
                answered.add(key)
                if reply.json().get("job") == "duplicate":
                    absorbed[0] += 1

    killed_web = killed_task = False
    mid_job = mid_job if mid_job is not None else [False]
    with ThreadPoolExecutor(concurrency) as pool:
        futures = [pool.submit(one, i) for i in range(n)]
        while not all(f.done() for f in futures):
            if not killed_web and done[0] >= (n * 2 // 3 if kind == "uvicorn" else n // 3):
                if kind == "uvicorn":
                    # uvicorn's graceful stop: in-flight requests finish, new ones are
                    # refused (not answered); a new uvicorn reads the results.
                    os.kill(server.pid, signal.SIGTERM)
                else:
                    web = live.children(server.pid)
                    if web:
                        os.kill(web[0], signal.SIGKILL)
                killed_web = True
            if not killed_task and done[0] >= n // 2:
                # RQ: the worker that just forked a work horse, once the horse is in
                # the handler, so that the kill lands mid-job. The worker first, then
                # what it forked (the horse, in a process group of its own):
                # the job dies with the machine, as in a crash.
                victim = workers[_busy_worker(workers, 5.0) if kind_engine == "rq" else 0]
                horses = _forked(victim.pid)
                os.killpg(victim.pid, signal.SIGKILL)
                for pid in horses:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                killed_task = True
                if killed_at is not None:
                    killed_at[0] = time.monotonic()
                # A Celery worker always has its pool's processes: only RQ forks per job.
                mid_job[0] = kind_engine == "rq" and bool(horses)
            time.sleep(0.005)
    return answered


def _forked(pid: int) -> list[int]:
    """The children of ``pid``, whichever of its threads forked them (``live.children``
    reads the main thread's only)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after its ")".
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def _busy_worker(workers: list[live.LiveServer], timeout: float) -> int:
    """The index of the first RQ worker seen forking a new work horse, once RQ_DELAY / 4
    has passed (the horse is then inside the handler); 0 if none did in ``timeout``."""
    before = [set(_forked(w.pid)) for w in workers]
    until = time.monotonic() + timeout
    while time.monotonic() < until:
        for i, worker in enumerate(workers):
            if set(_forked(worker.pid)) - before[i]:
                time.sleep(RQ_DELAY / 4)
                return i
        time.sleep(0.002)
    return 0


def _wait_for(
    server: live.LiveServer,
    answered: set[str],
    timeout: float,
    recover_env: dict[str, str] | None = None,
    times: int = 1,
    recovered: list[int] | None = None,
    settled_queue: str | None = None,
    ids_of: Callable[[live.LiveServer], list[str]] | None = None,
) -> list[str]:
    """The ids of the stored events (``ids_of``: request ids by default, or webhook-ids),
    once every answered one is there ``times`` times (or at the timeout, whatever is
    there then); with ``recover_env``, ``manage.py hookpipe --recover-tasks`` runs
    between looks; with ``settled_queue``,
    also until that RQ queue has nothing waiting or in flight (the killed worker's job
    may have stored its event before it died: then it runs again, a duplicate)."""
    deadline = time.monotonic() + timeout
    while True:
        if recover_env is not None:
            ran = live.manage("hookpipe", "--recover-tasks", env=recover_env)
            if recovered is not None:
                recovered[0] += _recovered(ran)
        stored = (ids_of or stored_ids)(server)
        counts = Counter(stored)
        settled = settled_queue is None or _rq_settled(settled_queue)
        if all(counts[rid] >= times for rid in answered) and settled:
            return stored
        if time.monotonic() > deadline:
            return stored
        time.sleep(0.5)


def _rq_settled(queue: str) -> bool:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        return client.llen(f"rq:queue:{queue}") == 0 and client.zcard(f"rq:wip:{queue}") == 0
    finally:
        client.close()


def _recovered(done: subprocess.CompletedProcess[str]) -> int:
    """How many tasks ``--recover-tasks`` made READY again or handed to RQ's cleanup."""
    return sum(int(line.split()[0]) for line in done.stdout.splitlines() if line[:1].isdigit())


def deliver(server: live.LiveServer, payload: dict[str, Any], key: str = "") -> live.Reply:
    """POST ``payload`` to the demo's shop webhook, with its token, and ``key`` as its
    Standard Webhooks ``webhook-id`` when given (the demo's idempotency key)."""
    headers = {"Content-Type": "application/json", "X-Webhook-Token": "demo-token"}
    if key:
        headers["webhook-id"] = key
    return server.get(
        "/webhooks/shop/", method="POST", body=json.dumps(payload).encode(), headers=headers
    )


def _swept(log: str) -> int:
    """How many tasks a worker's sweeps handed back (a database worker's made READY
    again, an RQ worker's handed to RQ's cleanup), from its log."""
    found = re.findall(r"hookpipe: (\d+) (?:task|RQ job)\(s\) abandoned", log)
    return sum(int(n) for n in found)


def stored_events(server: live.LiveServer) -> list[dict[str, Any]]:
    """Every stored event (one per execution), oldest first, as the feed shows it."""
    reply = server.get("/events/feed/", timeout=30)
    lines = [json.loads(x) for x in reply.body.splitlines() if x.strip()]
    return [line for line in lines if "request_id" in line]


def stored_ids(server: live.LiveServer) -> list[str]:
    """The request id of every stored event (one per execution), oldest first."""
    return [event["request_id"] for event in stored_events(server)]


def stored_keys(server: live.LiveServer) -> list[str]:
    """The webhook-id of every stored kill-run event (one per execution)."""
    return [str((event.get("payload") or {}).get("key")) for event in stored_events(server)]


def main(argv: Any = None) -> None:
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runner", choices=["task", "pool"], default="task")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--engine", choices=["db", "rq", "celery"], default="db")
    parser.add_argument("--server", choices=["gunicorn", "uvicorn"], default="gunicorn")
    parser.add_argument("--deliveries", type=int, default=500)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        outcome = run(
            Path(tmp),
            runner=args.runner,
            db=args.database,
            deliveries=args.deliveries,
            engine=args.engine,
            server=args.server,
        )
    print(outcome.line())


if __name__ == "__main__":
    main()
