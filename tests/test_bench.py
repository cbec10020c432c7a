"""The benchmarks still run: a short ``bench/run.py`` (which also checks, with a traced
request, that each variant runs the pieces it claims to), and ``bench/e2e.py``'s
reading of wrk's report. The timings themselves are not tested: timed tests flake."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

from bench.e2e import paired, parse_wrk, report

ROOT = Path(__file__).resolve().parent.parent


def test_the_in_process_benchmark_runs_and_prints_its_table(tmp_path: Path) -> None:
    only = "B,C,D,C/D,E-10,E-10f,F-B,G-Cs,G-Ca,M-100,O"
    out = tmp_path / "results.json"
    args = ["--rounds", "1", "--requests", "20", "--only", only, "--out", str(out)]
    result = subprocess.run(
        [sys.executable, "bench/run.py", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    keys = ("A", "B", "C", "D", "C/D", "E-10", "E-10f", "F-A", "F-B", "G-Ds", "G-Cs", "G-Da")
    for key in (*keys, "G-Ca", "M-15", "M-100"):
        assert f"\n| {key} |" in result.stdout
    assert "| 10 |" in result.stdout  # the scaling table
    # O and O0 are measured interleaved with A, not as rows of the table.
    assert "\n| O |" not in result.stdout
    assert "Offloading one job costs the request thread" in result.stdout
    saved = json.loads(out.read_text())
    assert any(row["key"] == "C/D" for row in saved["rows"])
    assert set(saved["offload"]) >= {"offload_us", "offload_share_of_a"}


WRK_REPORT = """\
Running 10s test @ http://127.0.0.1:8000/bench/
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.91ms    2.13ms  40.12ms   80.00%
    Req/Sec     2.05k   150.00     2.40k    70.00%
  Latency Distribution
     50%    3.60ms
     75%    4.80ms
     90%    6.10ms
     99%  850.00us
  40960 requests in 10.00s, 9.10MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:   4095.50
Transfer/sec:      0.91MB
"""


def test_wrk_reports_are_read_with_their_units() -> None:
    result = parse_wrk(WRK_REPORT)
    assert (result.requests, result.seconds, result.rps) == (40960, 10.0, 4095.5)
    assert (result.p50_ms, result.p99_ms) == (3.6, 0.85)
    assert result.errors == 2 + 1 + 4


def _row(server: str, variant: str, rps: list[float], p99: list[float]) -> dict[str, object]:
    median = sorted(rps)[len(rps) // 2]
    return {
        "server": server,
        "variant": variant,
        "what": variant,
        "wrk": {"rps": median, "p50_ms": 1.0, "p99_ms": p99[0], "requests": 10, "errors": 0},
        "rounds_rps": rps,
        "rounds_p99_ms": p99,
        "counters": None,
    }


def test_e2e_ratios_are_taken_round_by_round() -> None:
    # Round 2 was slow for every variant: paired, it cancels (0.96 in that round); the
    # ratio of the two medians would be 900 / 1000.
    rows = [
        _row("gunicorn", "plain", [1000.0, 500.0, 1000.0], [10.0, 20.0, 10.0]),
        _row("gunicorn", "native", [950.0, 475.0, 950.0], [10.0, 20.0, 10.0]),
        _row("gunicorn", "reference", [900.0, 480.0, 1800.0], [11.0, 22.0, 11.0]),
    ]
    assert paired(rows[2], rows[0], "rps") == [0.9, 0.96, 1.8]
    lines = {line.split(" | ")[1]: line for line in report(rows).splitlines()[2:]}
    assert "| 0.960 (0.900-1.800) |" in lines["reference"]
    assert "| 1.100 (1.100-1.100) |" in lines["reference"]  # p99
    against_native = statistics.median([900 / 950, 480 / 475, 1800 / 950])
    assert f"| {against_native:.3f} (0.947-1.895) |" in lines["reference"]
    assert lines["plain"].count("|  |") == 1  # no ratio to native for the baselines
