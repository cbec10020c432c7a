"""The demo project, run for real: ``manage.py check``, gunicorn (gthread), uvicorn, and
``gunicorn --preload``. Servers are subprocesses on 127.0.0.1 (see ``tests/live.py``)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from . import live

API_KEY = "live-test-key"
WITH_KEY = {"X-Api-Key": API_KEY}

#: The chain the demo's settings build, outermost first, by tween name.
CHAIN = [
    "demo_project.tweens.timing",
    "request-id",
    "api-key",
    "layer-outer",
    "layer-inner",
    "interface",
]
#: The same chain as the tweens write it into X-Demo-Trace on the way out.
FULL_TRACE = "timing, request-id, api-key, layer:outer, layer:inner, interface"
#: api-key answers by itself: the tweens below it never run.
REJECTED_TRACE = "timing, request-id, api-key"

#: demo_project/settings.py's DEMO_WEBHOOK_SECRET (a fixture, not a secret).
WEBHOOK_SECRET = "whsec_ZGVtby1zaWduaW5nLWtleS1ub3QtYS1zZWNyZXQ="

SERVER_TIMING = re.compile(r'hookpipe;dur=\d+\.\d{2};desc="hookpipe chain"')
GENERATED_ID = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class Demo:
    env: dict[str, str]
    tmp_path: Path


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """One database and one STATIC_ROOT, prepared the way ``make demo`` does."""
    tmp_path = tmp_path_factory.mktemp("demo")
    env = live.project_env(tmp_path, DEMO_API_KEY=API_KEY)
    live.manage("migrate", "--noinput", env=env)
    live.manage("createcachetable", env=env)
    live.manage("collectstatic", "--noinput", env=env)
    return Demo(env, tmp_path)


def test_manage_check_is_clean(tmp_path: Path) -> None:
    env = live.project_env(tmp_path)
    result = live.manage("check", "--fail-level", "WARNING", env=env)
    assert "System check identified no issues" in result.stdout


def test_every_demo_plugin_has_prefilters(tmp_path: Path) -> None:
    # The docs ask every plugin to declare prefilters; the demo is what users copy.
    env = live.project_env(tmp_path)
    described = json.loads(live.manage("hookpipe", "--json", env=env).stdout)
    prefilters = {
        plugin["name"]: (plugin["methods"], plugin["path_prefixes"])
        for plugin in described["handlers"] + described["responders"]
    }
    assert prefilters == {
        "webhook-store": (["POST"], ["/webhooks/"]),
        "event-feed": (["GET"], ["/events/feed/"]),
        "clock": (["GET"], ["/events/clock/"]),
    }


# ------------------------------------------------------- gunicorn and uvicorn


@dataclass(frozen=True)
class Served:
    interface: str
    server: live.LiveServer


@pytest.fixture(scope="module", params=["wsgi", "asgi"], ids=["gunicorn-wsgi", "uvicorn-asgi"])
def served(request: pytest.FixtureRequest, demo: Demo) -> Iterator[Served]:
    start = live.gunicorn if request.param == "wsgi" else live.uvicorn
    with start(demo.env, demo.tmp_path) as server:
        yield Served(request.param, server)


@pytest.mark.live
def test_home_page_went_through_the_whole_chain(served: Served) -> None:
    reply = served.server.get("/")

    assert reply.status == 200
    assert reply.header("Content-Type") == "text/html; charset=utf-8"
    assert SERVER_TIMING.fullmatch(reply.header("Server-Timing") or "")
    assert reply.header("X-Demo-Trace") == FULL_TRACE
    assert reply.header("X-Demo-Interface") == served.interface
    assert GENERATED_ID.fullmatch(reply.header("X-Request-Id") or "")
    # The page lists the built chain, in chain order.
    html = reply.text
    positions = [html.find(f"<code>{name}</code>") for name in CHAIN]
    assert -1 not in positions, html
    assert positions == sorted(positions)
    assert f"server interface <code>{served.interface}</code>" in html
    assert "layers <code>outer &gt; inner</code>" in html


@pytest.mark.live
@pytest.mark.parametrize(
    "headers",
    [{}, {"X-Api-Key": ""}, {"X-Api-Key": "wrong"}, {"X-Api-Key": API_KEY + "x"}],
    ids=["no-key", "empty-key", "wrong-key", "longer-key"],
)
def test_api_without_a_valid_key_is_401_json(served: Served, headers: dict[str, str]) -> None:
    reply = served.server.get("/api/status/", headers=headers)

    assert reply.status == 401
    assert reply.header("Content-Type") == "application/json"
    assert reply.json()["error"] == "unauthorized"
    # The tweens over api-key ran, the ones under it did not.
    assert reply.header("X-Demo-Trace") == REJECTED_TRACE
    assert SERVER_TIMING.fullmatch(reply.header("Server-Timing") or "")
    assert GENERATED_ID.fullmatch(reply.header("X-Request-Id") or "")
    assert reply.header("X-Demo-Interface") is None


@pytest.mark.live
def test_api_with_the_key(served: Served) -> None:
    reply = served.server.get("/api/status/", headers=WITH_KEY)

    assert reply.status == 200
    assert reply.header("Content-Type") == "application/json"
    assert reply.header("X-Demo-Trace") == FULL_TRACE
    assert reply.header("X-Demo-Interface") == served.interface
    data = reply.json()
    assert data["status"] == "ok"
    assert data["interface"] == served.interface
    assert data["layers"] == ["outer", "inner"]
    assert data["request_id"] == reply.header("X-Request-Id")


@pytest.mark.live
def test_global_and_per_view_hooks_are_visible(served: Served) -> None:
    page = served.server.get("/")
    assert re.fullmatch(r"\d+\.\d{2}", page.header("X-Demo-View-Ms") or "")
    assert page.header("X-Demo-Audited") is None  # the home page has no view hooks
    # DEBUG is off: RequestViewerHook logs but sends no X-Hookpipe-* headers.
    assert page.header("X-Hookpipe-Path") is None

    api = served.server.get("/api/status/", headers=WITH_KEY)
    assert api.header("X-Demo-Audited") == "yes"
    assert api.header("X-Demo-View-Ms") is not None


@pytest.mark.live
def test_on_error_hook_answers_for_a_failing_view(served: Served) -> None:
    reply = served.server.get("/broken/")
    assert reply.status == 500
    assert reply.json() == {
        "error": "RuntimeError",
        "detail": "this page fails on purpose",
        "answered_by": "demo_project.hooks.FriendlyErrors.on_error",
    }
    # after hooks still ran on the hook's response, and the tweens unwound around it.
    assert reply.header("X-Demo-Audited") == "yes"
    assert reply.header("X-Demo-Trace") == FULL_TRACE


@pytest.mark.live
def test_api_pipeline_describes_the_chain(served: Served) -> None:
    reply = served.server.get("/api/pipeline/", headers=WITH_KEY)

    assert reply.status == 200
    tweens = reply.json()["tweens"]
    assert [t["name"] for t in tweens] == CHAIN
    assert [t["name"] for t in tweens if t["is_async"]] == ["interface"]
    assert {t["name"]: t["kind"] for t in tweens}["request-id"] == "handler"


@pytest.mark.live
@pytest.mark.parametrize(
    ("incoming", "kept"),
    [("abc-123.X_y", True), ("not an id!", False), ("x" * 65, False)],
    ids=["well-formed", "spaces", "too-long"],
)
def test_request_id_from_a_proxy(served: Served, incoming: str, kept: bool) -> None:
    reply = served.server.get("/api/status/", headers={**WITH_KEY, "X-Request-Id": incoming})

    assert reply.status == 200
    rid = reply.header("X-Request-Id") or ""
    if kept:
        assert rid == incoming
    else:
        assert GENERATED_ID.fullmatch(rid)
    assert reply.json()["request_id"] == rid


@pytest.mark.live
def test_admin_is_styled(served: Served) -> None:
    login = served.server.get("/admin/login/")
    assert login.status == 200
    assert "/static/admin/css/base.css" in login.text
    # The tweens run around the admin too.
    assert login.header("X-Demo-Trace") == FULL_TRACE

    css = served.server.get("/static/admin/css/base.css")
    assert css.status == 200
    assert css.header("Content-Type") == "text/css"
    assert b"body" in css.body


# ---------------------------------------------------------- gunicorn --preload


def _pid_log(path: Path) -> list[tuple[str, int, int]]:
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="ascii").splitlines():
        event, pid, ppid = line.split()
        records.append((event, int(pid), int(ppid)))
    return records


@pytest.mark.live
def test_preload_builds_the_pipeline_in_the_workers_only(demo: Demo, tmp_path: Path) -> None:
    pid_log = tmp_path / "pids.log"
    env = {
        **demo.env,
        "DJANGO_SETTINGS_MODULE": "tests.preload_settings",
        "HOOKPIPE_TEST_PID_LOG": str(pid_log),
    }
    # "tcp": wait for the socket only, so that no request reaches a worker yet.
    with live.gunicorn(env, tmp_path, args=["--preload"], ready="tcp") as server:
        master = server.pid
        # gunicorn opens its socket after preloading: the master (our child) has
        # imported the settings, and Django built its middleware, but no tween factory
        # has been called.
        assert _pid_log(pid_log) == [("settings", master, os.getpid())], server.log()

        def call(_: int) -> live.Reply:
            return server.get("/api/status/", headers=WITH_KEY)

        with ThreadPoolExecutor(max_workers=6) as pool:
            replies = list(pool.map(call, range(24)))
        log = server.log()

    assert [r.status for r in replies] == [200] * len(replies), log
    workers = {int(r.header("X-Worker-Pid") or 0) for r in replies}
    assert {int(r.header("X-Worker-Parent") or 0) for r in replies} == {master}
    assert master not in workers

    records = _pid_log(pid_log)
    assert [r for r in records if r[0] == "settings"] == [("settings", master, os.getpid())]
    factory_calls = [(pid, ppid) for event, pid, ppid in records if event == "factory"]
    # Each worker that served a request built its pipeline exactly once, and nothing
    # else did: no call in the master, none in a process that served nothing.
    assert Counter(pid for pid, _ in factory_calls) == dict.fromkeys(workers, 1), log
    assert {ppid for _, ppid in factory_calls} == {master}


@pytest.mark.live
def test_a_redelivery_is_answered_200_and_stored_once(served: Served, demo: Demo) -> None:
    # The demo's webhook-store is a task handler keyed on Standard Webhooks' webhook-id.
    msg_id = f"msg_{served.interface}_{os.getpid()}"
    headers = {
        "Content-Type": "application/json",
        "X-Webhook-Token": "demo-token",
        "webhook-id": msg_id,
    }
    body = b'{"kind": "redelivered"}'
    first = served.server.get("/webhooks/shop/", method="POST", body=body, headers=headers)
    again = served.server.get("/webhooks/shop/", method="POST", body=body, headers=headers)
    assert (first.status, json.loads(first.body)["job"]) == (202, "pending")
    assert (again.status, json.loads(again.body)["job"]) == (200, "duplicate")
    keys = live.manage(
        "shell",
        "-c",
        "from hookpipe.models import DeliveryKey; "
        f"print(DeliveryKey.objects.filter(key={msg_id!r}).count())",
        env=demo.env,
    )
    assert keys.stdout.split()[-1] == "1"


def standard_signature(msg_id: str, timestamp: str, body: bytes) -> str:
    """How a Standard Webhooks sender signs: HMAC-SHA256 of ``id.timestamp.body``."""
    key = base64.b64decode(WEBHOOK_SECRET.removeprefix("whsec_"))
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


@pytest.mark.live
def test_a_signed_delivery_is_verified_before_it_is_stored(served: Served) -> None:
    msg_id = f"msg_signed_{served.interface}_{os.getpid()}"
    stamp = str(int(time.time()))
    body = b'{"kind": "signed"}'
    headers = {
        "Content-Type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": stamp,
        "webhook-signature": standard_signature(msg_id, stamp, body),
    }
    signed = served.server.get("/webhooks/signed/", method="POST", body=body, headers=headers)
    assert (signed.status, json.loads(signed.body)["job"]) == (202, "pending")
    forged = served.server.get(
        "/webhooks/signed/", method="POST", body=b'{"kind": "forged"}', headers=headers
    )
    assert forged.status == 401
    assert b"webhook-signature does not match" in forged.body
    unsigned = served.server.get(
        "/webhooks/signed/",
        method="POST",
        body=body,
        headers={"Content-Type": "application/json", "X-Webhook-Token": "demo-token"},
    )
    assert unsigned.status == 401
