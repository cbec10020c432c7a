"""The core does no I/O of its own (DESIGN.md, "Layout"): with ``hookpipe`` alone in
``INSTALLED_APPS``, 1000 requests through every kind of piece, under WSGI and ASGI,
make no database query, no cache operation and start no thread but the handler pool a
pool handler asks for. With the fleet app the same requests read the switches, publish
to the cache and start the publisher: the count can tell the two apart."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from tests.conftest import ROOT


def count(mode: str, n: int) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "tests.io_count", mode, str(n)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def hookpipe_threads(counted: dict[str, Any]) -> set[str]:
    return {name for name in counted["threads"] if name.startswith("hookpipe")}


def test_hookpipe_alone_makes_no_query_no_cache_operation_and_no_thread_of_its_own() -> None:
    counted = count("core", 500)
    assert counted["requests"] == 1000
    assert counted["statuses"] == [200, 404]  # the responder's and the view's (none)
    assert (counted["queries"], counted["cache"]) == (0, 0)
    assert hookpipe_threads(counted) <= {f"hookpipe-handler_{i}" for i in range(16)}


def test_the_fleet_app_does_its_io_where_the_core_does_none() -> None:
    counted = count("fleet", 50)
    assert counted["queries"] > 0  # the switch table
    assert counted["cache"] > 0  # the published record
    assert "hookpipe-cluster" in hookpipe_threads(counted)
