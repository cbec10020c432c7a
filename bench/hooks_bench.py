"""Per-request cost of hooks, measured in process through Django's WSGI handler.

Run from the repository root::

    .venv/bin/python bench/hooks_bench.py [--rounds 9] [--requests 3000]

No server and no network: each request is a WSGI environ handed to a
``django.core.handlers.wsgi.WSGIHandler``, and the response is read and closed, as a
WSGI server would. The view is trivial, so the numbers are the cost of the machinery.

Variants, each with its own handler (Django loads ``MIDDLEWARE`` when the handler is
made):

* ``django``: no middleware at all: the baseline.
* ``hookpipe-empty``: ``HookpipeMiddleware`` with an empty ``HOOKPIPE``: the fast path.
* ``5-global-hooks``: five global hooks, each with a trivial ``before`` and ``after``.
* ``5-view-hooks``: the same five hooks given to the view with ``with_hooks``.

The variants take turns within each round, so that a slower or busier moment of the
machine is shared between them. The report gives, per variant, the median, minimum and
maximum over the rounds of the mean time per request, and the ratio of medians to the
baseline.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Iterable
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
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=["hookpipe"],
    MIDDLEWARE=[],
    DATABASES={},
    USE_TZ=True,
    LOGGING_CONFIG=None,
    HOOKPIPE={},
)
django.setup()

from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.http import HttpRequest, HttpResponse  # noqa: E402
from django.test import override_settings  # noqa: E402
from django.urls import path  # noqa: E402

from hookpipe import Hook, State, with_hooks  # noqa: E402
from hookpipe.hooks import view_hooks  # noqa: E402


class Counting(Hook):
    """Trivial work on each side: read a header, count, stash and read back a value."""

    def __init__(self, n: int = 0) -> None:
        self.n = n
        self.seen = 0

    def before(self, state: State) -> None:
        self.seen += 1
        state.request.META.get("HTTP_X_TRACE")

    def after(self, state: State) -> None:
        if state.response is not None and state.response.status_code != 200:
            self.seen -= 1


def view(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"ok", content_type="text/plain")


@with_hooks(*(Counting(i) for i in range(5)))
def view_with_hooks(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"ok", content_type="text/plain")


urlpatterns = [path("", view), path("hooked/", view_with_hooks)]

MIDDLEWARE = ["hookpipe.middleware.HookpipeMiddleware"]
GLOBAL_HOOKS = [{"class": f"{__name__}.Counting", "options": {"n": i}} for i in range(5)]
VARIANTS: dict[str, tuple[dict[str, Any], str]] = {
    "django": ({"MIDDLEWARE": []}, "/"),
    "hookpipe-empty": ({"MIDDLEWARE": MIDDLEWARE, "HOOKPIPE": {}}, "/"),
    "5-global-hooks": ({"MIDDLEWARE": MIDDLEWARE, "HOOKPIPE": {"HOOKS": GLOBAL_HOOKS}}, "/"),
    "5-view-hooks": ({"MIDDLEWARE": MIDDLEWARE, "HOOKPIPE": {}}, "/hooked/"),
}


def environ(path_info: str) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path_info,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "bench",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }


def start_response(status: str, headers: Iterable[Any], exc_info: Any = None) -> Any:
    if not status.startswith("200"):
        raise SystemExit(f"unexpected status {status}")
    return None


def run(handler: WSGIHandler, path_info: str, count: int) -> float:
    """Mean seconds per request over ``count`` requests."""
    base = environ(path_info)
    started = time.perf_counter()
    for _ in range(count):
        env = dict(base)
        env["wsgi.input"] = BytesIO(b"")
        result = handler(env, start_response)
        for _chunk in result:
            pass
        result.close()
    return (time.perf_counter() - started) / count


def timed(overridden: dict[str, Any], path_info: str) -> Callable[[int], float]:
    """A runner for one variant: its own handler, its settings active while it runs."""
    override = override_settings(**overridden)
    with override:
        handler = WSGIHandler()  # loads MIDDLEWARE now

    def runner(count: int) -> float:
        with override:
            return run(handler, path_info, count)

    return runner


def measure(rounds: int, requests: int) -> dict[str, list[float]]:
    runners = {name: timed(*variant) for name, variant in VARIANTS.items()}
    for runner in runners.values():  # warm up: build the pipelines, fill the caches
        runner(max(requests // 10, 50))
    timings: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for _ in range(rounds):
        for name, runner in runners.items():  # the variants take turns
            timings[name].append(runner(requests))
    return timings


def report(timings: dict[str, list[float]], requests: int) -> str:
    base = statistics.median(timings["django"])
    lines = [
        f"{len(timings['django'])} rounds x {requests} requests per variant, "
        f"Python {sys.version.split()[0]}, Django {django.get_version()}",
        f"{'variant':<16}{'median us':>11}{'min us':>9}{'max us':>9}{'ratio':>8}{'+us':>8}",
    ]
    for name, values in timings.items():
        median = statistics.median(values)
        lines.append(
            f"{name:<16}{median * 1e6:>11.1f}{min(values) * 1e6:>9.1f}"
            f"{max(values) * 1e6:>9.1f}{median / base:>8.2f}{(median - base) * 1e6:>8.1f}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--requests", type=int, default=3000)
    args = parser.parse_args()
    timings = measure(args.rounds, args.requests)
    # Guard against measuring the wrong thing: the baseline view has no hooks, and the
    # hooked variants' hooks did run.
    if view_hooks(view) or not all(h.seen for h in view_hooks(view_with_hooks)):
        raise SystemExit("bench misconfigured: hooks are not where they should be")
    print(report(timings, args.requests))


if __name__ == "__main__":
    main()
