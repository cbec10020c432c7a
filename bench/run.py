"""hookpipe's per-request cost against plain Django, in process, no network.

Run from the repository root with ``make bench`` (or ``.venv/bin/python bench/run.py
[--rounds 9] [--requests 2000] [--only A,B]``).

Each variant gets its own Django handler (WSGI or ASGI, built under the variant's
settings), and every request is a WSGI environ or an ASGI scope handed straight to it;
the response is read to the end and closed, as a server would. The view is trivial, so
what is measured is the machinery around it. Within a round the variants take turns,
so a busier moment of the machine is shared between them; the report gives the median,
minimum and maximum over the rounds of the mean time per request, and the ratio of
medians against the floor of the same interface, measured in the same run.

Variants (the letters are those of bench/RESULTS.md):

* A   floor: no middleware at all.
* B   HookpipeMiddleware with an empty HOOKPIPE.
* H   5 global hooks (before and after) and nothing else.
* C   the reference pipeline: 5 pass-through tweens, 5 global hooks, and, when the
      plugin classes exist, 10 handlers and 5 responders that do not match.
* D   the same work as C's tweens and hooks, written as 10 plain Django middleware.
* F-* the floor, B and C through Django's ASGI handler.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import django  # noqa: E402
from django.conf import settings  # noqa: E402

settings.configure(
    DEBUG=False,
    SECRET_KEY="bench-only",
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF="bench.parts",
    INSTALLED_APPS=["hookpipe"],
    MIDDLEWARE=[],
    DATABASES={},
    USE_TZ=True,
    LOGGING_CONFIG=None,
    HOOKPIPE={},
)
django.setup()

from django.core.handlers.asgi import ASGIHandler  # noqa: E402
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.test import override_settings  # noqa: E402

from bench import plugins  # noqa: E402

HOOKPIPE_MW = ["hookpipe.middleware.HookpipeMiddleware"]
TWEENS = [
    {"factory": "bench.parts.passthrough", "name": f"t{i}", "options": {"n": i}} for i in range(5)
]
HOOKS = [{"class": "bench.parts.Touching", "options": {"n": i}} for i in range(5)]
NATIVE = [f"bench.parts.Passthrough{i}" for i in range(5)] + [
    f"bench.parts.View{i}" for i in range(5)
]
REFERENCE = {"TWEENS": TWEENS, "HOOKS": HOOKS, **plugins.reference()}


@dataclass(frozen=True)
class Variant:
    key: str
    label: str
    interface: str  # "wsgi" or "asgi"
    settings: dict[str, Any]
    floor: str  # the key of the variant this one is compared with
    target: float | None = None  # the ratio it must not exceed


def with_hookpipe(config: dict[str, Any]) -> dict[str, Any]:
    return {"MIDDLEWARE": HOOKPIPE_MW, "HOOKPIPE": config}


def variants() -> list[Variant]:
    plain, empty = {"MIDDLEWARE": []}, {"MIDDLEWARE": HOOKPIPE_MW}
    hooks_only = with_hookpipe({"HOOKS": HOOKS})
    reference = with_hookpipe(REFERENCE)
    found = [
        Variant("A", "floor: no middleware", "wsgi", plain, "A"),
        Variant("B", "empty HOOKPIPE", "wsgi", empty, "A", 1.03),
        Variant("H", "5 global hooks", "wsgi", hooks_only, "A"),
        Variant("C", "reference pipeline", "wsgi", reference, "A", 1.10),
        Variant("D", "10 plain middleware", "wsgi", {"MIDDLEWARE": NATIVE}, "A"),
        Variant("C/D", "C against D", "wsgi", reference, "D", 1.00),
        Variant("F-A", "ASGI floor", "asgi", plain, "F-A"),
        Variant("F-B", "ASGI empty HOOKPIPE", "asgi", empty, "F-A", 1.03),
        Variant("F-C", "ASGI reference pipeline", "asgi", reference, "F-A", 1.10),
    ]
    for count in plugins.SCALES:
        config = with_hookpipe({"TWEENS": TWEENS, "HOOKS": HOOKS, **plugins.scaled(count)})
        target = 1.10 if count == max(plugins.SCALES) else None
        found.append(Variant(f"E-{count}", f"C with {count} handlers", "wsgi", config, "A", target))
    return found


# ------------------------------------------------------------------- drivers


def _environ() -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/",
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "bench",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }


def _start_response(status: str, headers: Iterable[Any], exc_info: Any = None) -> None:
    if not status.startswith("200"):
        raise SystemExit(f"bench misconfigured: status {status}")


def wsgi_runner(handler: WSGIHandler) -> Callable[[int], float]:
    base = _environ()

    def run(count: int) -> float:
        started = time.perf_counter()
        for _ in range(count):
            env = dict(base)
            env["wsgi.input"] = BytesIO(b"")
            result = handler(env, _start_response)
            for _chunk in result:
                pass
            result.close()  # type: ignore[attr-defined]
        return (time.perf_counter() - started) / count

    return run


def asgi_runner(handler: ASGIHandler) -> Callable[[int], float]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"bench")],
        "client": ("127.0.0.1", 40000),
        "server": ("bench", 80),
    }

    async def one() -> None:
        sent = False
        status = 0

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await asyncio.Event().wait()  # the client never disconnects
            raise AssertionError("unreachable")

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await handler(dict(scope), receive, send)
        if status != 200:
            raise SystemExit(f"bench misconfigured: status {status}")

    async def many(count: int) -> float:
        started = time.perf_counter()
        for _ in range(count):
            await one()
        return (time.perf_counter() - started) / count

    def run(count: int) -> float:
        return asyncio.run(many(count))

    return run


def runner_for(variant: Variant) -> Callable[[int], float]:
    override = override_settings(**variant.settings)
    with override:
        handler = WSGIHandler() if variant.interface == "wsgi" else ASGIHandler()
        inner = wsgi_runner(handler) if variant.interface == "wsgi" else asgi_runner(handler)  # type: ignore[arg-type]

    def run(count: int) -> float:
        with override:
            return inner(count)

    return run


# ------------------------------------------------------------------- report


def measure(chosen: list[Variant], rounds: int, requests: int) -> dict[str, list[float]]:
    runners = {v.key: runner_for(v) for v in chosen}
    for run in runners.values():  # warm up: build pipelines, fill caches
        run(max(requests // 10, 50))
    timings: dict[str, list[float]] = {key: [] for key in runners}
    for _ in range(rounds):
        for key, run in runners.items():
            timings[key].append(run(requests))
    return timings


Row = dict[str, Any]


def table(chosen: list[Variant], timings: dict[str, list[float]]) -> tuple[str, list[Row]]:
    rows = []
    for v in chosen:
        median = statistics.median(timings[v.key])
        base = statistics.median(timings[v.floor]) if v.floor in timings else None
        ratio = median / base if base else None
        verdict = ""
        if v.target is not None and ratio is not None:
            verdict = "met" if ratio <= v.target else f"MISSED by {ratio / v.target - 1:.1%}"
        rows.append(
            {
                "key": v.key,
                "label": v.label,
                "interface": v.interface,
                "median_us": median * 1e6,
                "min_us": min(timings[v.key]) * 1e6,
                "max_us": max(timings[v.key]) * 1e6,
                "against": v.floor,
                "ratio": ratio,
                "target": v.target,
                "verdict": verdict,
            }
        )
    head = "| variant | what | iface | median µs | min µs | max µs | ratio | vs | target | |"
    lines = [head, "|---|---|---|---:|---:|---:|---:|---|---:|---|"]
    for r in rows:
        ratio = f"{r['ratio']:.3f}" if r["ratio"] is not None else "-"
        target = f"≤ {r['target']:.2f}" if r["target"] else ""
        lines.append(
            f"| {r['key']} | {r['label']} | {r['interface']} | {r['median_us']:.1f} | "
            f"{r['min_us']:.1f} | {r['max_us']:.1f} | {ratio} | {r['against']} | {target} | "
            f"{r['verdict']} |"
        )
    return "\n".join(lines), rows


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--only", help="comma-separated variant keys (floors are added)")
    args = parser.parse_args()
    chosen = variants()
    if args.only:
        wanted = set(args.only.split(","))
        keys = wanted | {v.floor for v in chosen if v.key in wanted}
        chosen = [v for v in chosen if v.key in keys]
    timings = measure(chosen, args.rounds, args.requests)
    text, rows = table(chosen, timings)
    print(
        f"{args.rounds} rounds x {args.requests} requests per variant; Python "
        f"{platform.python_version()}, Django {django.get_version()}, {platform.machine()}, "
        f"{platform.processor() or 'cpu n/a'}\n"
    )
    print(text)
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "results.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
