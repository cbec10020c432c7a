"""What a span of hookpipe's costs, in instructions (callgrind), against a bare SDK span
made by hand (issue 21; results in bench/RESULTS.md, "Issue 21: tracing").

Every process here has the OpenTelemetry SDK's ``TracerProvider`` with one
``SimpleSpanProcessor`` whose exporter drops what it gets: every span, hookpipe's or
hand-made, pays the same SDK, and nothing else (no I/O, no background thread). Counted
with valgrind's callgrind as ``bench/run.py --instructions`` counts (the difference
between a process that runs 400 and one that runs 100, over 300), so that the shared
machine's load does not enter the numbers:

* ``C``: the reference pipeline (bench/run.py), tracing off;
* ``C-t``: the same with ``HOOKPIPE["TRACING"]["ENABLED"]`` and every kind of span: the
  request's span, 5 tweens, 10 hook methods (its 15 plugins want no request);
* ``span``: ``with tracer.start_as_current_span(name): pass``, by hand;
* ``span-attrs``: the same with the two attributes hookpipe gives a piece's span.

Per span of hookpipe's: (C-t - C) / spans per request, which includes the probes'
own work (the record of who answered, the wrapper's call).

Off, machine instructions move with the heap's layout (object ids are hash keys) by a
few hundred per request between two trees whose request runs the same code, so
``--opcodes`` counts what the interpreter runs instead: bytecode instructions per
request of C, by function, as ``sys.settrace`` sees them (run it in two trees and
compare; the pipeline's build, which the first counted request triggers, shows up
too, once).

    python bench/tracing.py            # the table
    python bench/tracing.py --opcodes  # C's bytecode instructions per request
"""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from opentelemetry import trace  # noqa: E402
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import (  # noqa: E402
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)


class Discard(SpanExporter):
    """Drops every span; counts them."""

    count = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        Discard.count += len(spans)
        return SpanExportResult.SUCCESS


PROVIDER = TracerProvider()
PROVIDER.add_span_processor(SimpleSpanProcessor(Discard()))
trace.set_tracer_provider(PROVIDER)

from bench import reference  # noqa: E402
from bench import run as bench_run  # noqa: E402  (sets up Django)

KEYS = ("C", "C-t", "span", "span-attrs")


def variant(key: str) -> bench_run.Variant:
    c = next(v for v in bench_run.variants() if v.key == "C")
    if key == "C":
        return c
    settings = bench_run.with_hookpipe(**reference.pipeline(), TRACING={"ENABLED": True})
    return dataclasses.replace(c, key="C-t", settings=settings)


def by_hand(count: int, attributes: bool) -> None:
    tracer = trace.get_tracer("bench")
    given = {"hookpipe.kind": "tween", "hookpipe.plugin": "bench"} if attributes else None
    for _ in range(count):
        with tracer.start_as_current_span("hookpipe.tween bench", attributes=given):
            pass


def count_one(key: str, count: int) -> None:
    import gc

    if key.startswith("span"):
        by_hand(50, key == "span-attrs")
        gc.collect()
        gc.freeze()
        by_hand(count, key == "span-attrs")
        return
    runner = bench_run.runner_for(bench_run.without_timers(variant(key)))
    runner.run(50)
    gc.collect()
    gc.freeze()
    runner.run(count)


def callgrind(key: str, count: int) -> int:
    with tempfile.TemporaryDirectory(prefix="hookpipe-callgrind-") as tmp:
        out = Path(tmp) / "callgrind.out"
        subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable,
             str(Path(__file__).resolve()), "--count-one", key, "--count", str(count)],
            check=True, capture_output=True, timeout=1200,
            env={"PYTHONHASHSEED": "0", **dict(__import__("os").environ)},
        )  # fmt: skip
        for line in out.read_text().splitlines():
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    raise SystemExit(f"bench: no total in callgrind's output for {key}")


def spans_per_request() -> int:
    runner = bench_run.runner_for(variant("C-t"))
    runner.run(1)  # the build
    before = Discard.count
    runner.run(1)  # two requests: run() sends one before those it is asked for
    return (Discard.count - before) // 2


def opcodes(requests: int = 100) -> None:
    import collections

    runner = bench_run.runner_for(bench_run.without_timers(variant("C")))
    runner.run(50)
    counts: collections.Counter[str] = collections.Counter()

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        frame.f_trace_opcodes = True
        if event == "opcode":
            code = frame.f_code
            counts[f"{code.co_filename}:{code.co_name}"] += 1
        return tracer

    sys.settrace(tracer)
    runner.run(requests)  # requests + 1
    sys.settrace(None)
    print(f"C: {sum(counts.values()) / (requests + 1):.2f} bytecode instructions per request")
    for where, n in counts.most_common():
        print(f"{n:8d} {where}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--count-one", choices=KEYS, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--opcodes", action="store_true", help="C's bytecode per request")
    args = parser.parse_args(argv)
    if args.opcodes:
        opcodes()
        return
    if args.count_one:
        count_one(args.count_one, args.count)
        return
    per = {key: (callgrind(key, 400) - callgrind(key, 100)) / 300 for key in KEYS}
    spans = spans_per_request()
    span = (per["C-t"] - per["C"]) / spans
    print("| what | instructions | |\n|---|---:|---|")
    print(f"| C, a request, tracing off | {per['C']:,.0f} | |")
    print(f"| C-t, a request, tracing on ({spans} spans) | {per['C-t']:,.0f} | "
          f"+{per['C-t'] - per['C']:,.0f} |")  # fmt: skip
    print(f"| one span of hookpipe's, (C-t - C) / {spans} | {span:,.0f} | |")
    for key in ("span", "span-attrs"):
        print(f"| a bare SDK span by hand ({key}) | {per[key]:,.0f} | "
              f"hookpipe's: {span / per[key]:.2f} x |")  # fmt: skip


if __name__ == "__main__":
    main()
