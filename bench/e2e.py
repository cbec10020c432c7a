"""End to end: the demo under gunicorn (gthread) and uvicorn on 127.0.0.1, loaded by
``wrk``.

Run from the repository root with ``make bench-e2e`` (or ``.venv/bin/python
bench/e2e.py [--duration 5] [--rounds 5]``). It needs ``wrk`` on the PATH and installs
nothing; on Debian or Ubuntu: ``apt-get install wrk``. Without it, it says so and stops.

For each variant of ``bench/e2e_settings.py`` (plain Django; the reference pipeline of
``bench/run.py``; the same plus a handler that sleeps 50 ms in the pool on every
request) it starts gunicorn with the demo's ``gunicorn.conf.py`` on a free port (access
log off, so that writing it is not measured), all variants at once, warms each up for
2 s, then runs ``wrk -t2 -c16 -d5s --latency`` against ``/bench/`` (a page that does
no work of its own) of each in turn, for 5 rounds (every other one in the reverse
order): on a shared machine, a busy moment then falls on every variant. Each variant's
row shows its median round; its ratios to plain Django are the medians of the ratios
within each round (the smallest and largest beside them). Then it stops
gunicorn with SIGTERM: each worker drains its handler pool and writes its final
counters to a file (``hookpipe.worker_exit``), which shows that every job was
counted: ``submitted == succeeded + failed + rejected``, none still queued or running.

Then plain and reference again under uvicorn (2 workers, access log off; the same
``wrk`` runs), where hookpipe runs in the mode its pieces ask for (sync, for the
reference pipeline). ``--servers gunicorn`` or ``--servers uvicorn`` runs one of them.

The ``native`` variant is plain Django doing the reference pipeline's work as 10
middleware (``bench/run.py``'s variant D): the reference pipeline against it is what
hookpipe itself costs, against ``plain`` what hookpipe and the pieces' own work cost.

Everything is bounded: each wrk run by its duration, each server start and stop by
``tests/live.py``'s timeouts, the whole run to about four minutes. Only 127.0.0.1.

``--instructions`` measures without wrk: for plain, native and reference it runs one
gunicorn worker under valgrind's callgrind twice, for 100 and for 1300 requests sent one
after another, and gives the difference per request. Over 300 requests a count moved
by some 24,000 instructions a request from one run to the next, as a full garbage
collection fell inside the counted requests or not; over 1200 that weighs a quarter as
much. Counts do not move with the load of a shared VM (wrk's per-round ratios there ran
from 0.35 to 2.8), but they leave out the kernel's part (the sockets), the same for
every variant, so that the ratios they give are a bound for a server limited by its
CPU. About 9 minutes.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import live  # noqa: E402

VARIANTS = {
    "plain": "plain Django (the demo's middleware, no hookpipe)",
    "native": "plain Django doing the reference pipeline's work as 10 middleware",
    "reference": "hookpipe, reference pipeline",
    "sleepy": "reference + a handler sleeping 50 ms per request",
}
CONNECTIONS = 16
THREADS = 2
WARM_UP = 2
#: Seconds gunicorn gets to stop: graceful_timeout (20) covers requests in flight and
#: the pool's drain (DRAIN_TIMEOUT, 10 s) happens within it.
STOP_TIMEOUT = 30.0
HANDLER = "sleep-50ms"
#: The variants each server runs (the sleepy one needs gunicorn's worker_exit hook).
SERVERS = {"gunicorn": tuple(VARIANTS), "uvicorn": ("plain", "native", "reference")}
#: What ``--instructions`` counts, and the requests of its two counts per variant.
COUNTED = ("plain", "native", "reference")
COUNTS = (100, 1300)


@dataclass
class WrkResult:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int  # socket errors and non-2xx/3xx responses
    output: str


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not match:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(output: str) -> WrkResult:
    """The numbers of a ``wrk --latency`` report."""
    done = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", output)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.M)
    if not (done and rps and p50 and p99):
        raise ValueError(f"cannot read wrk's report:\n{output}")
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return WrkResult(
        requests=int(done.group(1)),
        seconds=_ms(done.group(2) + done.group(3)) / 1000,
        rps=float(rps.group(1)),
        p50_ms=_ms(p50.group(1)),
        p99_ms=_ms(p99.group(1)),
        errors=errors + (int(non_2xx.group(1)) if non_2xx else 0),
        output=output,
    )


def wrk(url: str, seconds: int) -> WrkResult:
    cmd = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", url]
    done = subprocess.run(
        cmd, capture_output=True, text=True, timeout=seconds + 30, check=True, cwd=ROOT
    )
    return parse_wrk(done.stdout)


def final_counters(path: Path) -> dict[str, int] | None:
    """The handler's final counters, summed over the workers; ``None`` if no worker
    started a pool (no handler job ran)."""
    if not path.exists():
        return None
    total: dict[str, int] = {}
    for line in path.read_text().splitlines():
        counts = json.loads(line)["counters"].get(HANDLER)
        if counts is None:
            continue
        for key in ("submitted", "succeeded", "failed", "rejected", "queued", "running"):
            total[key] = total.get(key, 0) + int(counts[key])
    return total or None


def _start(name: str, server_kind: str, tmp: Path) -> Any:
    env = live.project_env(
        tmp,
        settings="bench.e2e_settings",
        BENCH_E2E_VARIANT=name,
        HOOKPIPE_EXIT_COUNTERS_FILE=str(_counters_file(name, server_kind, tmp)),
        HOOKPIPE_LOG_LEVEL="WARNING",
    )
    # The tables the demo's settings use: hookpipe's switches and the database cache the
    # processes publish their counters to. Without them every worker logs an error each
    # few seconds, and that is not what is being measured.
    live.manage("migrate", "--noinput", env=env)
    live.manage("createcachetable", env=env)
    if server_kind == "gunicorn":
        args = ["--access-logfile", "/dev/null"]
        return live.gunicorn(env, tmp, args=args, ready_path="/bench/")
    args = ["--workers", "2", "--no-access-log", "--log-level", "warning"]
    return live.uvicorn(env, tmp, args=args, ready_path="/bench/")


def _counters_file(name: str, server_kind: str, tmp: Path) -> Path:
    return tmp / f"counters-{server_kind}-{name}.jsonl"


def run_server_kind(
    server_kind: str, names: list[str], tmp: Path, duration: int, rounds: int
) -> list[dict[str, Any]]:
    """Every variant of one server kind, each in its own server, all running at once;
    ``wrk`` asks them in turn, round after round, so that a busier moment of the shared
    machine falls on all of them. Each row keeps the median round (by requests/s)."""
    with contextlib.ExitStack() as stack:
        servers = {name: stack.enter_context(_start(name, server_kind, tmp)) for name in names}
        urls = {name: f"{server.base_url}/bench/" for name, server in servers.items()}
        warm = {name: wrk(url, WARM_UP) for name, url in urls.items()}  # pipelines, caches
        runs: dict[str, list[WrkResult]] = {name: [] for name in names}
        for turn in range(rounds):
            # Every other round in the reverse order, so that no variant always follows
            # the same one (the machine takes a moment to settle after a busy run).
            for name in names if turn % 2 == 0 else names[::-1]:
                runs[name].append(wrk(urls[name], duration))
        logs = {}
        for name, server in servers.items():
            # Stop each gracefully, so that its workers drain and write their counters.
            server.process.terminate()
            server.process.wait(STOP_TIMEOUT)
            logs[name] = server.log()
    rows = []
    for name in names:
        ordered = sorted(runs[name], key=lambda r: r.rps)
        median = ordered[len(ordered) // 2]
        rows.append(
            {
                "server": server_kind,
                "variant": name,
                "what": VARIANTS[name],
                "wrk": {k: v for k, v in asdict(median).items() if k != "output"},
                "rounds_rps": [r.rps for r in runs[name]],
                "rounds_p99_ms": [r.p99_ms for r in runs[name]],
                "requests_all_rounds": sum(r.requests for r in runs[name]),
                "warm_up_requests": warm[name].requests,
                "counters": final_counters(_counters_file(name, server_kind, tmp)),
                "server_errors": [ln for ln in logs[name].splitlines() if "Traceback" in ln],
                "errors_all_rounds": sum(r.errors for r in runs[name]),
            }
        )
    return rows


def versions() -> dict[str, str]:
    import django
    import gunicorn
    import uvicorn

    found = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    wrk_version = next(iter((found.stdout + found.stderr).splitlines()), "?")
    return {
        "python": platform.python_version(),
        "django": django.get_version(),
        "gunicorn": gunicorn.__version__,
        "uvicorn": uvicorn.__version__,
        "wrk": wrk_version.strip(),
    }


def paired(row: dict[str, Any], plain: dict[str, Any], key: str) -> list[float]:
    """``row``'s rounds over plain Django's, round by round (``key``: ``"rps"`` or
    ``"p99_ms"``): a moment when the shared machine was busy falls on both runs of a
    round, and cancels out of their ratio."""
    mine, base = row[f"rounds_{key}"], plain[f"rounds_{key}"]
    return [m / b for m, b in zip(mine, base, strict=True)]


def report(rows: list[dict[str, Any]]) -> str:
    plain = {r["server"]: r for r in rows if r["variant"] == "plain"}
    native = {r["server"]: r for r in rows if r["variant"] == "native"}
    lines = [
        "| server | variant | what | requests/s | vs plain (min-max) | p50 ms | p99 ms "
        "| p99 vs plain (min-max) | requests/s vs native | requests | errors |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        w, base = row["wrk"], plain.get(row["server"], row)
        rps, p99 = paired(row, base, "rps"), paired(row, base, "p99_ms")
        same_work = native.get(row["server"])
        against_native = ""
        if same_work is not None and row["variant"] in ("reference", "sleepy"):
            mine = paired(row, same_work, "rps")
            against_native = f"{statistics.median(mine):.3f} ({min(mine):.3f}-{max(mine):.3f})"
        lines.append(
            f"| {row['server']} | {row['variant']} | {row['what']} | {w['rps']:.0f} | "
            f"{statistics.median(rps):.3f} ({min(rps):.3f}-{max(rps):.3f}) | "
            f"{w['p50_ms']:.2f} | {w['p99_ms']:.2f} | "
            f"{statistics.median(p99):.3f} ({min(p99):.3f}-{max(p99):.3f}) | "
            f"{against_native} | {w['requests']} | {w['errors']} |"
        )
    for row in rows:
        counters = row["counters"]
        if counters is None:
            continue
        accounted = counters["succeeded"] + counters["failed"] + counters["rejected"]
        in_flight = counters["queued"] + counters["running"]
        verdict = "nothing lost" if counters["submitted"] == accounted + in_flight else "MISMATCH"
        served = row["warm_up_requests"] + row["requests_all_rounds"]
        lines += [
            "",
            f"Pool counters of {HANDLER!r} after the {row['variant']} run, summed over the "
            "workers (written by worker_exit after the drain):",
            "",
            "| submitted | succeeded | failed | rejected | queued | running | |",
            "|---:|---:|---:|---:|---:|---:|---|",
            f"| {counters['submitted']} | {counters['succeeded']} | {counters['failed']} | "
            f"{counters['rejected']} | {counters['queued']} | {counters['running']} | "
            f"{verdict} |",
            "",
            f"wrk counted {served} completed requests (warm-up and run); the server also "
            "answered the readiness probe and the requests still open when wrk stopped, "
            f"so submitted - {served} = {counters['submitted'] - served} is what it saw "
            "beyond those.",
        ]
    return "\n".join(lines)


def count_instructions(variant: str, requests: int, tmp: Path) -> int:
    """Instructions (callgrind's total) that one gunicorn worker (gthread, 4 threads)
    executes for ``variant`` from its start to its exit, with 50 warm-up requests and
    then ``requests`` more, sent one after another on one kept-alive connection."""
    env = live.project_env(
        tmp,
        settings="bench.e2e_settings",
        BENCH_E2E_VARIANT=variant,
        BENCH_E2E_QUIET_TIMERS="1",
        HOOKPIPE_LOG_LEVEL="WARNING",
        DEMO_WORKERS="1",
        PYTHONHASHSEED="0",  # the same dict layouts in every count
    )
    out = tmp / f"callgrind-{variant}-{requests}"
    out.mkdir()
    port = live.free_port()
    cmd = [
        "valgrind", "--tool=callgrind", f"--callgrind-out-file={out}/callgrind.%p",
        "--trace-children=yes", sys.executable, "-m", "gunicorn",
        "--bind", f"127.0.0.1:{port}", "--config", str(live.DEMO_GUNICORN_CONF),
        "--access-logfile", "/dev/null", "--timeout", "900",
    ]  # fmt: skip
    with open(tmp / f"callgrind-{variant}-{requests}.log", "wb") as log:
        server = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        connection = _connect_when_ready(port, server, deadline=time.monotonic() + 600)
        for _ in range(50 + requests):
            connection.request("GET", "/bench/")
            reply = connection.getresponse()
            body = reply.read()
            if reply.status != 200:
                raise SystemExit(f"bench/e2e.py: {variant} answered {reply.status}: {body[:200]!r}")
        connection.close()
        server.terminate()
        server.wait(900)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(60)
    # One file per process: the master's bears its pid, the worker's is the other one.
    workers = [f for f in out.iterdir() if f.name != f"callgrind.{server.pid}"]
    if len(workers) != 1:
        raise SystemExit(f"bench/e2e.py: expected one worker's count, found {workers}")
    for line in workers[0].read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise SystemExit(f"bench/e2e.py: no total in {workers[0]}")


def _connect_when_ready(
    port: int, server: subprocess.Popen[bytes], deadline: float
) -> http.client.HTTPConnection:
    """A connection that has had one answer from the server (slow under valgrind)."""
    while True:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            connection.request("GET", "/bench/")
            connection.getresponse().read()
            return connection
        except OSError as error:
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(
                    f"bench/e2e.py: gunicorn under valgrind did not answer on port {port}"
                ) from error
            time.sleep(1)


def instructions(tmp: Path) -> str:
    """The ``--instructions`` table: per request in a gunicorn worker, each variant's
    count over :data:`COUNTS` (the difference of two runs, so that start-up and exit
    cancel), and what the ratios would mean for a server bound by its CPU."""
    few, many = COUNTS
    per = {
        variant: (count_instructions(variant, many, tmp) - count_instructions(variant, few, tmp))
        / (many - few)
        for variant in COUNTED
    }
    lines = [
        "| variant | what | instructions per request | vs plain | requests/s vs plain, "
        "if bound by these |",
        "|---|---|---:|---:|---:|",
    ]
    for variant in COUNTED:
        ratio = per[variant] / per["plain"]
        lines.append(
            f"| {variant} | {VARIANTS[variant]} | {per[variant]:.0f} | {ratio:.3f} | "
            f"{1 / ratio:.3f} |"
        )
    lines.append(
        f"\nreference against native: {per['reference'] / per['native']:.3f} times the "
        f"instructions ({per['reference'] - per['native']:+.0f} per request); the pieces' "
        f"own work (native against plain): {per['native'] - per['plain']:+.0f}."
    )
    return "\n".join(lines)


def count_and_print() -> None:
    """``--instructions``: the counts, in a database of their own."""
    import django
    import gunicorn

    with tempfile.TemporaryDirectory(prefix="hookpipe-e2e-") as name:
        tmp = Path(name)
        env = live.project_env(tmp, settings="bench.e2e_settings")
        live.manage("migrate", "--noinput", env=env)
        live.manage("createcachetable", env=env)
        print(
            "Instructions per request in one gunicorn worker (gthread), GET /bench/ on one "
            f"kept-alive connection, callgrind; python {platform.python_version()}, "
            f"django {django.get_version()}, gunicorn {gunicorn.__version__}\n"
        )
        print(instructions(tmp))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--duration", type=int, default=5, help="seconds of wrk per variant and round"
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", help="comma-separated variants (default: all)")
    parser.add_argument(
        "--servers", default="gunicorn,uvicorn", help="comma-separated: gunicorn, uvicorn"
    )
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count instructions per request in a gunicorn worker (valgrind), not wrk",
    )
    args = parser.parse_args(argv)
    if args.instructions:
        count_and_print()
        return 0
    if shutil.which("wrk") is None:
        print(
            "bench/e2e.py: skipped, wrk is not installed. It is the load generator; on "
            "Debian or Ubuntu install it with `apt-get install wrk`, elsewhere see "
            "https://github.com/wg/wrk."
        )
        return 0
    only = set(args.only.split(",")) if args.only else set(VARIANTS)
    chosen = {
        server: [name for name in SERVERS[server] if name in only]
        for server in args.servers.split(",")
    }
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="hookpipe-e2e-") as name:
        tmp = Path(name)
        env = live.project_env(tmp, settings="bench.e2e_settings")
        live.manage("migrate", "--noinput", env=env)
        rows = [
            row
            for server, names in chosen.items()
            for row in run_server_kind(server, names, tmp, args.duration, args.rounds)
        ]
    info = versions()
    print(
        f"wrk -t{THREADS} -c{CONNECTIONS} -d{args.duration}s --latency, {args.rounds} rounds "
        "(median round; ratios: median of the rounds' ratios), GET /bench/, gunicorn "
        f"gthread ({os.environ.get('DEMO_WORKERS', '2')} workers x "
        f"{os.environ.get('DEMO_THREADS', '4')} threads), uvicorn (2 workers); "
        + ", ".join(f"{k} {v}" for k, v in info.items())
        + f"; {time.monotonic() - started:.0f} s in all\n"
    )
    print(report(rows))
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "e2e.json").write_text(json.dumps({"versions": info, "rows": rows}, indent=2))
    bad = [
        f"{r['server']} {r['variant']}"
        for r in rows
        if r["errors_all_rounds"] or r["server_errors"]
    ]
    if bad:
        print(f"\nerrors in: {', '.join(bad)} (see bench/out/e2e.json)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
