"""The fleet, for real: the demo under gunicorn with 3 workers sharing a cache (the
database cache, and Redis db 2 when it is reachable). Requests spread over the workers;
``manage.py hookpipe --json``, another process, sees totals equal to the requests sent;
a switch made from the command line reaches every worker within CHECK_EVERY seconds.

The numbers (requests, totals, seconds for a switch to reach every worker) are printed
(``pytest -s``) and written to ``$HOOKPIPE_FLEET_REPORT`` when that is set.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from . import live
from .services import redis_or_skip

WORKERS = 3
CHECK_EVERY = 10.0
PUBLISH_EVERY = 5.0
CLOCK = "/events/clock/?n=1&interval=0"
REDIS_URL = os.environ.get("HOOKPIPE_TEST_REDIS_URL", "redis://127.0.0.1:6379/2")


@pytest.fixture(params=["database-cache", "redis"])
def fleet(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[str, Any, dict[str, str]]]:
    extra = {}
    if request.param == "redis":
        redis_or_skip(REDIS_URL)
        extra["REDIS_URL"] = REDIS_URL
    env = live.project_env(
        tmp_path,
        DEMO_WORKERS=str(WORKERS),
        DEMO_THREADS="4",
        DEMO_CHECK_EVERY=str(CHECK_EVERY),
        DEMO_PUBLISH_EVERY=str(PUBLISH_EVERY),
        **extra,
    )
    live.manage("migrate", "--noinput", env=env)
    live.manage("createcachetable", env=env)
    if request.param == "redis":
        # A clean db 2: no records of an earlier run.
        import redis

        redis.Redis.from_url(REDIS_URL).flushdb()
    with live.gunicorn(env, tmp_path) as server:
        yield request.param, server, env


def _pid(reply: live.Reply) -> int:
    return int(reply.header("X-Demo-Pid") or 0)


def _spread(server: Any, rounds: int = 40, batch: int = 12) -> list[live.Reply]:
    """Concurrent batches until every worker has answered (bounded: ``rounds``)."""
    replies: list[live.Reply] = []
    with ThreadPoolExecutor(max_workers=batch) as pool:
        for _ in range(rounds):
            replies += pool.map(lambda _: server.get(CLOCK), range(batch))
            if len({_pid(r) for r in replies}) >= WORKERS:
                break
    return replies


def _cluster(env: dict[str, str]) -> dict[str, Any]:
    return json.loads(live.manage("hookpipe", "--json", env=env).stdout)["cluster"]  # type: ignore[no-any-return]


def _time_to_reach_every_worker(server: Any, status: int, pids: set[int]) -> float:
    """Seconds until every worker in ``pids`` has answered the clock with ``status``."""
    start = time.monotonic()
    reached: set[int] = set()
    with ThreadPoolExecutor(max_workers=6) as pool:
        while reached != pids:
            elapsed = time.monotonic() - start
            assert elapsed < CHECK_EVERY * 3, f"only {sorted(reached)} of {sorted(pids)}"
            for reply in pool.map(lambda _: server.get(CLOCK), range(6)):
                if reply.status == status:
                    reached.add(_pid(reply))
            time.sleep(0.05)
    return time.monotonic() - start


@pytest.mark.live
def test_fleet_totals_and_a_switch_reach_every_worker(
    fleet: tuple[str, Any, dict[str, str]],
) -> None:
    cache, server, env = fleet
    replies = _spread(server)
    sent = len(replies)
    pids = {_pid(r) for r in replies}
    assert [r.status for r in replies] == [200] * sent, server.log()
    assert len(pids) == WORKERS, f"the requests went to {pids} only"

    # Another process reads the fleet: within one publication interval (and a margin
    # for the command itself), every worker is listed and the totals are what was sent.
    start = time.monotonic()
    while True:
        cluster = _cluster(env)
        live_pids = {p["pid"] for p in cluster["processes"] if p["state"] == "live"}
        answered = cluster["totals"].get("clock", {}).get("answered")
        # The demo times its plugins (METRICS DURATIONS): the fleet's histogram of the
        # clock responder, summed bucket by bucket, counts every request too.
        timed = cluster["durations"].get("responder clock respond", {}).get("count")
        if answered == sent and timed == sent and pids <= live_pids:
            break
        seen = (answered, timed, sorted(live_pids))
        assert time.monotonic() - start < PUBLISH_EVERY * 3, (seen, sent, pids, cluster)
        time.sleep(0.5)
    seen_after = time.monotonic() - start
    assert cluster["scope"] == "shared"
    per_worker = {
        p["pid"]: p["counters"]["clock"]["answered"]
        for p in cluster["processes"]
        if p["pid"] in pids
    }
    assert sum(per_worker.values()) == sent

    # A switch: every worker stops answering with the clock responder (Django's 404)
    # within CHECK_EVERY seconds, and takes it back as fast.
    live.manage("hookpipe", "--disable", "clock", env=env)
    off = _time_to_reach_every_worker(server, 404, pids)
    live.manage("hookpipe", "--enable", "clock", env=env)
    on = _time_to_reach_every_worker(server, 200, pids)
    # The bound is CHECK_EVERY from the switch for a worker that serves requests; the
    # margin covers the commands' start-up (a second on this shared machine).
    assert off <= CHECK_EVERY + 2.0
    assert on <= CHECK_EVERY + 2.0

    report = {
        "cache": cache,
        "workers": sorted(pids),
        "requests_sent": sent,
        "per_worker": per_worker,
        "totals_seen_by_another_process": answered,
        "responder_histogram_count": timed,
        "seconds_until_totals_seen": round(seen_after, 2),
        "seconds_for_disable_to_reach_every_worker": round(off, 2),
        "seconds_for_enable_to_reach_every_worker": round(on, 2),
        "check_every_s": CHECK_EVERY,
        "publish_every_s": PUBLISH_EVERY,
    }
    print(json.dumps(report))
    path = os.environ.get("HOOKPIPE_FLEET_REPORT")
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps(report) + "\n")
