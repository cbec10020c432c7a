"""Streaming across modes, end to end: 128 MiB through gunicorn (gthread) and uvicorn
on 127.0.0.1, read by ``curl``, hookpipe's responders against plain Django.

Run from the repository root with ``make bench-streaming`` (or ``.venv/bin/python
bench/streaming.py [--rounds 5]``). The application is ``bench/streaming_app.py``.

Rows (issue 12):

* under gunicorn (WSGI), an ``async def`` responder against a sync
  ``StreamingHttpResponse``: hookpipe must pull the async generator from sync code;
* under uvicorn (ASGI), a sync responder against an async ``StreamingHttpResponse``:
  hookpipe must pull the sync generator off the event loop;
* the same responders in their own mode, for reference;
* the time to the first byte (``curl``'s ``time_starttransfer``: the status line and
  headers) of a responder whose first chunk takes 100 ms, against the same plain view.

Each round asks every row once, in turn (paired, as ``bench/run.py`` does); the report
gives medians over the rounds and the median of the per-round ratios. One server of each
kind, one worker, runs for the whole run; only 127.0.0.1, every request bounded by a
timeout.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import streaming_app  # noqa: E402
from tests import live  # noqa: E402

SIZE = streaming_app.CHUNK * streaming_app.CHUNKS


@dataclass(frozen=True)
class Row:
    key: str
    server: str  # "gunicorn" or "uvicorn"
    what: str
    path: str
    floor: str  # the key of the row it is compared with
    measure: str  # "MB/s" or "ttfb ms"
    target: str = ""


ROWS = [
    Row("g-plain", "gunicorn", "sync StreamingHttpResponse", "/plain/sync/", "g-plain", "MB/s"),
    Row("g-async", "gunicorn", "async responder (cross-mode)", "/hookpipe/async/", "g-plain",
        "MB/s", "≥ 0.80"),
    Row("g-sync", "gunicorn", "sync responder", "/hookpipe/sync/", "g-plain", "MB/s"),
    Row("u-plain", "uvicorn", "async StreamingHttpResponse", "/plain/async/", "u-plain", "MB/s"),
    Row("u-sync", "uvicorn", "sync responder (cross-mode)", "/hookpipe/sync/", "u-plain",
        "MB/s", "≥ 0.80"),
    Row("u-async", "uvicorn", "async responder", "/hookpipe/async/", "u-plain", "MB/s"),
    Row("g-slow-plain", "gunicorn", "slow sync StreamingHttpResponse", "/plain/slow-sync/",
        "g-slow-plain", "ttfb ms"),
    Row("g-slow", "gunicorn", "slow async responder", "/hookpipe/slow-async/", "g-slow-plain",
        "ttfb ms"),
    Row("u-slow-plain", "uvicorn", "slow async StreamingHttpResponse", "/plain/slow-async/",
        "u-slow-plain", "ttfb ms"),
    Row("u-slow", "uvicorn", "slow sync responder", "/hookpipe/slow-sync/", "u-slow-plain",
        "ttfb ms"),
]  # fmt: skip


def curl(url: str) -> tuple[float, float, int]:
    """``(bytes per second, seconds to the first byte, bytes)`` of one GET."""
    out = subprocess.run(
        ["curl", "-sS", "-o", "/dev/null", "--max-time", "60", "-w",
         "%{speed_download} %{time_starttransfer} %{size_download} %{http_code}", url],
        capture_output=True, text=True, timeout=90, check=True,
    ).stdout.split()  # fmt: skip
    if out[3] != "200":
        raise SystemExit(f"bench: {url} answered {out[3]}")
    return float(out[0]), float(out[1]), int(out[2])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "streaming.json")
    args = parser.parse_args(argv)
    values: dict[str, list[float]] = {r.key: [] for r in ROWS}
    with tempfile.TemporaryDirectory(prefix="hookpipe-streaming-") as name:
        tmp = Path(name)
        env = live.project_env(tmp, settings="")
        del env["DJANGO_SETTINGS_MODULE"]  # bench/streaming_app.py configures itself
        gunicorn = live.gunicorn(
            env, tmp, app="bench.streaming_app:wsgi", config=None, ready_path="/ready/",
            args=["--worker-class", "gthread", "--workers", "1", "--threads", "4"],
        )  # fmt: skip
        uvicorn = live.uvicorn(env, tmp, app="bench.streaming_app:asgi", ready_path="/ready/")
        with gunicorn as g, uvicorn as u:
            base = {"gunicorn": g.base_url, "uvicorn": u.base_url}
            for row in ROWS:  # warm up: every path once
                curl(base[row.server] + row.path)
            for _ in range(args.rounds):
                for row in ROWS:
                    rate, first, size = curl(base[row.server] + row.path)
                    if row.measure == "MB/s":
                        if size != SIZE:
                            raise SystemExit(f"bench: {row.key} sent {size} bytes, not {SIZE}")
                        values[row.key].append(rate / 1e6)
                    else:
                        values[row.key].append(first * 1000)
    import django
    import gunicorn as gunicorn_module
    import uvicorn as uvicorn_module

    print(
        f"{args.rounds} rounds; {SIZE >> 20} MiB in {streaming_app.CHUNKS} chunks of "
        f"{streaming_app.CHUNK >> 10} KiB; slow: first chunk after "
        f"{streaming_app.SLOW_FIRST_CHUNK * 1000:.0f} ms; gunicorn {gunicorn_module.__version__} "
        f"gthread 1 worker x 4 threads, uvicorn {uvicorn_module.__version__} 1 worker; Python "
        f"{platform.python_version()}, Django {django.get_version()}\n"
    )
    print("| row | server | what | median | min | max | unit | ratio | vs | target |")
    print("|---|---|---|---:|---:|---:|---|---:|---|---|")
    report = []
    for row in ROWS:
        mine, floor = values[row.key], values[row.floor]
        ratios = [m / f for m, f in zip(mine, floor, strict=True)]
        report.append({"key": row.key, "values": mine, "ratio": statistics.median(ratios)})
        print(
            f"| {row.key} | {row.server} | {row.what} | {statistics.median(mine):.1f} | "
            f"{min(mine):.1f} | {max(mine):.1f} | {row.measure} | "
            f"{statistics.median(ratios):.2f} | {row.floor} | {row.target} |"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
