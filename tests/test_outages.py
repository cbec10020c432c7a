"""The task engine's store goes away for a few seconds in the middle of a burst of
webhook deliveries (tests/outage.py cuts every connection and refuses new ones), under
real servers: the demo under gunicorn, its task worker run the way ``make demo`` runs
it (demo_project/keep_running.py starts it again when it exits). Two stores: PostgreSQL
under the database engine (``db_worker``), and Redis under RQ (``rqworker``; the events
themselves in SQLite).

Every delivery answered 2xx is stored and run; every refusal is a 503 with
``Retry-After`` (the sender delivers it again), never a 500; the task worker runs again
after the outage.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests import kill_runs, live, outage
from tests.services import postgres_or_skip, redis_or_skip

DELIVERIES = 150
#: Six senders, each pausing this long between deliveries: a burst of about 5 s.
PACE_S = 0.2
OUTAGE_S = 2.0


def through(url: str, port: int) -> str:
    """``url`` with its port replaced by ``port``."""
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    host = f"{parts.hostname}:{port}"
    return urlunsplit(parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) > 1 else host))


@contextlib.contextmanager
def postgres_through_a_proxy(tmp_path: Path) -> Iterator[tuple[dict[str, str], outage.Proxy]]:
    """The demo on a fresh PostgreSQL database reached through a proxy, and its worker."""
    postgres_or_skip(kill_runs.POSTGRES_URL)
    server_port = urlsplit(kill_runs.POSTGRES_URL).port or 5432
    with kill_runs.database("postgres") as url, outage.proxy(server_port) as proxy:
        assert url is not None
        env = live.project_env(tmp_path, DATABASE_URL=through(url, proxy.port), **COMMON)
        yield env, proxy


@contextlib.contextmanager
def redis_through_a_proxy(tmp_path: Path) -> Iterator[tuple[dict[str, str], outage.Proxy]]:
    """The demo on RQ, its Redis reached through a proxy (a queue of the test's own)."""
    redis_or_skip(kill_runs.REDIS_URL)
    server_port = urlsplit(kill_runs.REDIS_URL).port or 6379
    with kill_runs.rq_queue() as queue, outage.proxy(server_port) as proxy:
        env = live.project_env(
            tmp_path,
            DEMO_TASK_ENGINE="rq",
            RQ_REDIS_URL=through(kill_runs.REDIS_URL, proxy.port),
            DEMO_RQ_QUEUE=queue,
            DEMO_RQ_TIMEOUT=str(kill_runs.RQ_TIMEOUT),
            **COMMON,
        )
        yield env, proxy


#: The settings both runs share: two web workers, heartbeats as in the kill runs.
COMMON = {
    "DEMO_WORKERS": "2",
    "DEMO_HEARTBEAT_EVERY": "0.5",
    "DEMO_HEARTBEAT_TIMEOUT": "2",
    "HOOKPIPE_LOG_LEVEL": "WARNING",
}
STORES = {"postgres": postgres_through_a_proxy, "redis": redis_through_a_proxy}


def worker_command(env: dict[str, str]) -> tuple[str, ...]:
    if env.get("DEMO_TASK_ENGINE") == "rq":
        return ("rqworker", "--serializer", live.RQ_SERIALIZER, env["DEMO_RQ_QUEUE"])
    return ("db_worker", "--queue-name", "*", "--no-reload", "--interval", "0.1")


@pytest.mark.live
@pytest.mark.parametrize("store", sorted(STORES))
def test_the_store_away_mid_burst_loses_no_answered_delivery(tmp_path: Path, store: str) -> None:
    with STORES[store](tmp_path) as (env, proxy):
        live.manage("migrate", "--noinput", env=env)
        live.manage("createcachetable", env=env)
        with (
            live.kept_running(*worker_command(env), env=env, tmp_path=tmp_path) as keeper,
            live.gunicorn(env, tmp_path) as server,
        ):
            replies = burst(server, proxy)
            answered = {r.request_id for r in replies if 200 <= r.status < 300}
            if env.get("DEMO_TASK_ENGINE") == "rq":
                # A job the worker held when Redis went away is RQ's to run again, once
                # its execution expires (about RQ_TIMEOUT + 60 s) and a cleanup runs.
                stored = kill_runs._wait_for(
                    server,
                    answered,
                    timeout=60 + kill_runs.RQ_TIMEOUT + 90,
                    recover_env=env,
                    settled_queue=env["DEMO_RQ_QUEUE"],
                )
            else:
                stored = kill_runs._wait_for(server, answered, timeout=60)
            web_log, worker_log = server.log(), keeper.log()
    statuses = Counter((r.phase, r.status) for r in replies)
    executed, _, lost, _ = kill_runs.tally(answered, stored)
    print(store, dict(statuses), "stored", executed, "of", len(answered))
    report = f"{statuses}; web log:\n{web_log[-3000:]}\nworker:\n{worker_log[-3000:]}"
    assert lost == 0, report
    assert executed == len(answered), report
    assert all(r.status == 503 and r.retry_after for r in replies if r.status >= 300), report
    assert statuses["during", 503] > 0, report  # the outage was felt
    # Before and after it, every delivery was stored; after it, by a worker started again.
    assert {status for (phase, status) in statuses if phase != "during"} == {202}, report
    assert "starting it again" in worker_log, report


@dataclass(frozen=True)
class Sent:
    #: "before", "during" or "after" the outage: when the delivery was sent.
    phase: str
    status: int
    retry_after: str
    request_id: str


def burst(server: live.LiveServer, proxy: outage.Proxy) -> list[Sent]:
    """Send the deliveries from six threads; take the store away for ``OUTAGE_S`` once
    a quarter of them are answered."""
    replies: list[Sent] = []
    phase = ["before"]
    lock = threading.Lock()

    def one(i: int) -> None:
        sent_in = phase[0]
        reply = kill_runs.deliver(server, {"kind": "outage", "n": i})
        rid = reply.json()["request_id"] if 200 <= reply.status < 300 else ""
        # A delivery sent before the store went away and answered during the outage
        # counts as sent during it.
        seen = "during" if "during" in (sent_in, phase[0]) else sent_in
        with lock:
            replies.append(Sent(seen, reply.status, reply.header("Retry-After") or "", rid))
        time.sleep(PACE_S)

    with ThreadPoolExecutor(6) as pool:
        futures = [pool.submit(one, i) for i in range(DELIVERIES)]
        while len(replies) < DELIVERIES // 4:
            time.sleep(0.01)
        phase[0] = "during"
        proxy.down()
        time.sleep(OUTAGE_S)
        proxy.up()
        time.sleep(0.5)  # deliveries under way when it came back count as "during"
        phase[0] = "after"
        for future in futures:
            future.result()
    return replies
