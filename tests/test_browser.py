"""The admin "Pipeline" page in a real browser.

Headless Chromium (Debian's ``chromium``, installed by ``.ci/install-system-deps``) is
driven by Playwright's sync API against pytest-django's ``live_server``: log in through
the admin's login form, follow the "Pipeline" link from the admin index, read what a
person sees, click what a person clicks (Pause, Resume; the dead task jobs' replay),
and save screenshots to ``test-output/``: the whole page (``admin-pipeline.png``) and
sections close up. The docs' images (``docs/_static/``) are copied from there by hand
when what they show changes: ``admin-counters.png`` from ``admin-pipeline-handlers.png``,
``admin-fleet-problems.png`` from ``admin-pipeline-cluster.png``, the others under their
own names (``admin-fleet.png`` from the live test at the end).

Without ``/usr/bin/chromium`` (or Playwright) the test is skipped, except under CI
(``CI`` set), where a missing browser is a failure: CI must run this test.

Django and Playwright's event loop: Playwright's sync API runs an asyncio loop in this
thread, and while it is open Django refuses ORM calls from the thread
(``SynchronousOnlyOperation``). So the tests do their database work (the superuser,
the traffic) before the browser starts, or while it is open in another thread
(:func:`in_another_thread`), and the browser is closed before pytest-django flushes
the database; the live server answers from its own thread. No
``DJANGO_ALLOW_ASYNC_UNSAFE`` is needed.
"""

from __future__ import annotations

import datetime
import os
import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
from django.apps import apps
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.db import connections
from django.test import Client
from django.utils import timezone

from hookpipe import conf
from hookpipe.fleet import operations
from hookpipe.models import DeadJob

from .test_cluster import put
from .test_retries import deliver, run_worker_until_idle
from .testapp import plugins as tp

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
OUTPUT = Path(__file__).resolve().parent.parent / "test-output"
SCREENSHOT = OUTPUT / "admin-pipeline.png"
PASSWORD = "correct horse battery staple"
CRUMB = "\N{SINGLE RIGHT-POINTING ANGLE QUOTATION MARK}"  # the admin's breadcrumb separator

SECRET = "s3cret-token-never-shown"
PIPELINE = {
    "TWEENS": [
        "tests.testapp.tweens.first",
        {
            "factory": "tests.testapp.tweens.labelled",
            "name": "auth",
            "over": "hookpipe.MAIN",
            "options": {"label": "auth"},
        },
        "tests.testapp.tweens.omitted",
        {"factory": "tests.testapp.tweens.async_labelled", "name": "timing"},
        {"handler": "tests.testapp.tweens.chain_marker"},
    ],
    "HOOKS": ["tests.testapp.pipeline_fixtures.AuditHook"],
    "HANDLERS": [
        "tests.testapp.plugins.Recorder",
        "tests.testapp.plugins.Configured",
        "tests.testapp.plugins.InlineRecorder",
        # Stored whatever the answer (the fixtures' URLconf has no /webhooks/ view).
        {
            "class": "tests.testapp.plugins.TaskRecorder",
            "TASK_BACKEND": "db",
            "TASK_STORE_ON": "any",
        },
    ],
    "RESPONDERS": ["tests.testapp.plugins.Chunks"],
    "PLUGINS": {"webhook-store": {"TOKEN": SECRET}},
    "THREAD_POOL": {"MAX_WORKERS": 4, "ON_FULL": "reject"},
}
#: Subconfig values from the environment: their sources ("env HOOKPIPE_...") are long
#: words that cannot wrap at a space, the case that once pushed the page past 1280 px.
ENVIRONMENT = {
    "HOOKPIPE_WEBHOOK_STORE_BATCH": "250",
    "HOOKPIPE_WEBHOOK_STORE_RATIO": "0.125",
    "HOOKPIPE_WEBHOOK_STORE_ENABLED": "false",
    "HOOKPIPE_WEBHOOK_STORE_TAGS": "orders,refunds,subscriptions,invoices,customers",
}
#: Window widths at which the page must fit without a horizontal scroll bar.
WIDTHS = (1280, 800)
#: The chain as drawn, top to bottom (omitted tweens are drawn, struck through).
DRAWN = [
    "hookpipe.INGRESS",
    "tests.testapp.tweens.first",
    "tests.testapp.tweens.omitted",
    "timing",
    "tests.testapp.tweens.chain_marker",
    "auth",
    "hookpipe.MAIN",
]


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
        pytest.fail(f"{reason}; CI must run the browser test (see .ci/install-system-deps).")
    pytest.skip(f"{reason}; run .ci/install-system-deps to install it.")


@pytest.fixture
def sync_playwright() -> Any:
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing (Debian package 'chromium')")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright for Python is not installed (pip install playwright)")
    return sync_playwright


@pytest.fixture
def static_root(settings: Any, tmp_path: Path) -> Path:
    """What ``collectstatic`` would gather, for the live server to serve the admin CSS.

    The test settings leave out ``django.contrib.staticfiles``, so the live server
    serves ``STATIC_URL`` from ``STATIC_ROOT``; this fills one from the apps.
    """
    root = tmp_path / "static"
    for app in apps.get_app_configs():
        source = Path(app.path) / "static"
        if source.is_dir():
            shutil.copytree(source, root, dirs_exist_ok=True)
    settings.STATIC_ROOT = str(root)
    return root


@pytest.fixture
def admin_user(static_root: Path, transactional_db: None) -> None:
    """A superuser "admin" (password ``PASSWORD``), and the admin's CSS for the live
    server to serve. ``transactional_db``: the live server's thread sees the rows."""
    get_user_model().objects.create_superuser("admin", "admin@example.com", PASSWORD)


T = TypeVar("T")


@contextmanager
def chromium(sync_playwright: Any) -> Iterator[Any]:
    """Headless Chromium, closed on the way out: before pytest-django flushes the
    database (see the module's docstring)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def failures_of(page: Any) -> list[str]:
    """The answers of 400 and over that the page gets from now on (the admin has no
    favicon, and that one is not the page's failure)."""
    failed: list[str] = []
    page.on(
        "response",
        lambda r: (
            failed.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico")
            else None
        ),
    )
    return failed


def log_in(page: Any, url: str, username: str) -> None:
    """Open ``url`` as a person who is not logged in: sent to the admin's login form,
    log in there, and be sent back to ``url``."""
    page.goto(url)
    assert "/admin/login/" in page.url
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(url)


def in_another_thread(work: Callable[[], T]) -> T:
    """Run ``work`` (database work) while the browser is open: Playwright's loop in this
    thread makes Django refuse the ORM here, and another thread has no loop. Its
    connection is closed before it ends, so none is left open at the flush."""

    def run() -> T:
        try:
            return work()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


def shoot(page: Any, name: str, first: Any, last: Any | None = None) -> Path:
    """Save what the page shows from the top of ``first`` to the bottom of ``last``
    (locators; ``first`` alone by default) as ``test-output/<name>``: a section close
    up, small enough for the docs."""
    path = OUTPUT / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if last is None:
        first.screenshot(path=str(path))
        return path
    # Page coordinates (a full-page screenshot's clip is in them, not the window's).
    box = (
        "e => { const r = e.getBoundingClientRect();"
        " return [r.left + scrollX, r.top + scrollY, r.right + scrollX, r.bottom + scrollY]; }"
    )
    boxes = [first.evaluate(box), last.evaluate(box)]
    left, top = min(b[0] for b in boxes), min(b[1] for b in boxes)
    right, bottom = max(b[2] for b in boxes), max(b[3] for b in boxes)
    clip = {"x": left, "y": top, "width": right - left, "height": bottom - top}
    page.screenshot(path=str(path), full_page=True, clip=clip)
    return path


def a_worker_beats() -> None:
    """A task worker of the "db" backend that has just beaten."""
    from hookpipe.models import TaskWorker

    now = timezone.now()
    TaskWorker.objects.create(
        worker_id="w1", backend="db", host="worker-1", pid=4321, started_at=now, beat_at=now
    )


def click_pause_button(page: Any, base_url: str, button: str) -> Any:
    """Click ``button`` (Pause or Resume) in the task recorder's row of "Pause and
    resume", and return that row on the page the admin sends back."""
    row = page.locator('tr[data-pause="task-recorder"]')
    row.get_by_role("button", name=button, exact=True).click()
    page.wait_for_url(f"{base_url}/admin/hookpipe/pipeline/#hp-pauses")
    return row


def rows_of(table: Any) -> list[str]:
    """The plugins a counter table has a row for (a process's rows under them left out)."""
    rows = table.locator("tbody tr:not([data-process])")
    return [rows.nth(n).get_attribute("data-row") for n in range(rows.count())]


def columns_of(table: Any) -> list[str]:
    """The counters a table has a column for (its first column names the plugin); as
    written, not as shown (the admin's CSS shows column headings in capitals)."""
    return [h.strip() for h in table.locator("thead th").all_text_contents()[1:]]


def other_processes(now: float) -> None:
    """Records of two more server processes, as their publishers would have written
    them into the fleet's cache: one live with a failing handler, one stale (it stopped
    publishing 40 s ago) whose responder had errors."""
    jobs = {"submitted": 120, "succeeded": 117, "failed": 3, "rejected": 0, "queued": 0}
    jobs |= {"running": 0, "inline": 0, "handles_errors": 0}
    jobs["duration_ms"] = {"p50": 2.1, "p95": 8.4, "max": 31.0, "window": 120}
    answered = {"answered": 310, "errors": 0, "stream_errors": 0, "handles_errors": 0}
    pool = {"workers": 4, "running": 1, "queue_depth": 0}
    put(4242, now, {"recorder": jobs, "chunks": answered}, host="web-2", pool=pool)
    put(
        4243,
        now - 40,
        {"chunks": {**answered, "answered": 95, "errors": 2}},
        host="web-3",
        pool=pool,
    )


@pytest.mark.urls("tests.testapp.pipeline_fixtures")
def test_pipeline_page_in_a_browser(
    sync_playwright: Any,
    live_server: Any,
    admin_user: None,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    clean_fleet_cache: None,
) -> None:
    for variable, value in ENVIRONMENT.items():
        monkeypatch.setenv(variable, value)
    settings.HOOKPIPE = PIPELINE
    # A cache the processes of this machine share (a local memory one is private to a
    # process, and the page would say so instead of showing a fleet).
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path / "cache"),
        }
    }
    # Traffic first (before the browser: the database is not to be used while it runs),
    # so that the page has counters to show: a delivery the recorder handles in the
    # pool, the inline recorder in the request, and the task recorder stores as a task,
    # which no worker takes: it has waited ten minutes (a backlog).
    Client().post("/webhooks/", b"{}", content_type="application/json")
    streamed = Client().get("/stream/sync")  # and a streamed answer from the responder
    assert b"".join(streamed.streaming_content) == b"chunk 0\nchunk 1\nchunk 2\n"
    from django_tasks_db.models import DBTaskResult

    waited = timezone.now() - datetime.timedelta(minutes=10)
    assert DBTaskResult.objects.update(enqueued_at=waited) == 1
    other_processes(time.time())
    operations.current().publisher.publish(conf.get_config().cluster)  # this process too

    with chromium(sync_playwright) as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        failed = failures_of(page)
        log_in(page, f"{live_server.url}/admin/", "admin")
        section = page.locator("#content-main .app-hookpipe")
        # text_content(): the admin's CSS shows captions in capitals.
        assert section.locator("caption").text_content().strip() == "Hookpipe"
        section.get_by_role("link", name="Pipeline", exact=True).click()
        page.wait_for_url(f"{live_server.url}/admin/hookpipe/pipeline/")

        assert page.title().startswith("Pipeline")
        assert page.locator("#content h1").inner_text() == "Pipeline"
        crumbs = page.locator(".breadcrumbs").inner_text()
        # Django 5.2 writes the separators as text, Django 6 draws them with CSS.
        assert [w for w in crumbs.split() if w != CRUMB] == ["Home", "Hookpipe", "Pipeline"]
        assert page.locator("#hookpipe-pid").inner_text() == str(os.getpid())

        chain = page.locator(".hp-onion")
        drawn = chain.locator("[data-tween] .hp-name").all_inner_texts()
        assert [name.strip() for name in drawn] == DRAWN
        omitted = chain.locator(".hp-omitted .hp-name")
        assert omitted.inner_text() == "tests.testapp.tweens.omitted"
        decoration = omitted.evaluate("e => getComputedStyle(e).textDecorationLine")
        assert "line-through" in decoration
        timing = chain.locator('[data-tween="timing"] > .hp-layer-head')
        assert timing.locator(".hp-badge-async").is_visible()
        # The onion: each running tween's layer holds the ones below it, down to MAIN.
        main_depth = chain.locator(".hp-main").evaluate(
            "e => { let n = 0; for (; e; e = e.parentElement.closest('.hp-layer')) n++;"
            " return n - 1; }"
        )
        assert main_depth == 4
        # The stylesheet was served and applied: MAIN is drawn as a dark band.
        background = chain.locator(".hp-main").evaluate("e => getComputedStyle(e).backgroundColor")
        assert background not in ("rgba(0, 0, 0, 0)", "transparent")

        assert "Order: implicit" in page.locator(".hp-order").inner_text()
        hooks = page.locator("#hp-hooks").inner_text()
        assert "AuditHook" in hooks
        assert "/api/reports/" in hooks
        assert "ApiKeyHook" in hooks
        assert "reject" in page.locator("#hp-pool").inner_text()
        handlers = page.locator("#hp-handlers").inner_text()
        assert "recorder" in handlers
        assert "webhook-store" in handlers
        assert "chunks" in page.locator("#hp-responders").inner_text()
        assert SECRET not in page.content()
        # The environment's values reached the page, with where they came from.
        assert "env HOOKPIPE_WEBHOOK_STORE_TAGS" in handlers
        assert "subscriptions" in handlers

        # Counters at a glance: a table per kind of plugin, a row per plugin, a
        # column per counter that kind has; zeros greyed, problems marked.
        handlers = page.locator("#hp-handlers")
        pool = handlers.locator('table[data-counters="handler:pool"]')
        assert rows_of(pool) == ["recorder", "webhook-store"]
        assert "failed" in columns_of(pool)
        assert "enqueued" not in columns_of(pool)
        inline = handlers.locator('table[data-counters="handler:inline"]')
        assert rows_of(inline) == ["inline-recorder"]
        assert "rejected" not in columns_of(inline)  # never turned away
        tasks = handlers.locator('table[data-counters="handler:task"]')
        assert rows_of(tasks) == ["task-recorder"]
        assert columns_of(tasks)[:3] == ["enqueued", "not_stored", "enqueue_failed"]
        assert "submitted" not in columns_of(tasks)  # a task handler's jobs are tasks
        responders = page.locator('#hp-responders table[data-counters="responder"]')
        assert columns_of(responders) == [
            "answered",
            "errors",
            "stream_errors",
            "handles_errors",
        ]
        recorder = pool.locator('tr[data-row="recorder"]')
        assert recorder.locator('td[data-counter="succeeded"]').inner_text() == "1"
        zero = recorder.locator('td[data-counter="failed"]')
        assert zero.inner_text() == "0"
        assert float(zero.evaluate("e => getComputedStyle(e).opacity")) < 1  # greyed
        # A task that waited ten minutes for a worker is a backlog: marked; and no
        # worker beats, so that is marked too.
        backends = handlers.locator('table[data-counters="task-backends"]')
        backlog = backends.locator('tr[data-row="db/default"]')
        waiting = backlog.locator('td[data-counter="oldest_ready_s"]')
        assert float(waiting.locator("strong").inner_text()) >= 600
        assert "hp-problem" in (waiting.get_attribute("class") or "")
        assert backlog.locator('td[data-counter="READY"]').inner_text() == "1"
        plain = backlog.locator('td[data-counter="RUNNING"]')
        colour = "e => getComputedStyle(e).color"
        assert waiting.evaluate(colour) != plain.evaluate(colour)
        workers = backlog.locator('td[data-counter="live_workers"]')
        assert workers.locator("strong").inner_text() == "0"
        assert "hp-problem" in (workers.get_attribute("class") or "")

        # The fleet: a row per process, the stale one marked; the totals a table
        # per kind with each process's row under its plugin's.
        fleet = page.locator("#hp-cluster")
        procs = fleet.locator("#hp-cluster-processes tbody tr")
        assert procs.count() == 3
        stale = fleet.locator('#hp-cluster-processes tr[data-row="web-3:4243"]')
        assert "hp-row-problem" in (stale.get_attribute("class") or "")
        assert stale.locator("td.hp-problem").inner_text() == "stale"
        chunks = fleet.locator('table[data-counters="responder"] tr[data-row="chunks"]')
        assert chunks.count() == 4  # the total, then this process, web-2 and web-3
        webhook_store = fleet.locator(
            'table[data-counters="handler:pool"] tr[data-row="webhook-store"]'
        )
        assert webhook_store.count() == 1  # one process has it: no row would add to it
        total = chunks.first
        assert total.get_attribute("data-process") is None
        assert total.locator('td[data-counter="answered"]').inner_text() == str(310 + 95 + 1)
        assert "hp-problem" in (
            total.locator('td[data-counter="errors"]').get_attribute("class") or ""
        )
        attention = page.locator("#hp-attention").inner_text()
        for said in (
            "chunks errors 2 (fleet)",
            "recorder failed 3 (fleet)",
            "web-3:4243: stale (fleet)",
            "db/default: a task has waited 6",  # 600 s and more
            "db/default: tasks wait and no task worker is alive",
        ):
            assert said in attention, said

        # The admin's dark theme: the same marks, in the dark theme's colours.
        light = waiting.evaluate("e => getComputedStyle(e).backgroundColor")
        page.emulate_media(color_scheme="dark")
        dark = waiting.evaluate("e => getComputedStyle(e).backgroundColor")
        assert light != dark
        assert "rgba(0, 0, 0, 0)" not in (light, dark)
        page.set_viewport_size({"width": 1280, "height": 900})
        page.screenshot(path=str(SCREENSHOT.with_name("admin-pipeline-dark.png")), full_page=True)
        page.emulate_media(color_scheme="light")

        # Long tables wrap or scroll inside their section: the page itself never
        # scrolls sideways, so the counters column stays in view.
        overflow = {}
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            overflow[width] = page.evaluate(
                "() => [document.documentElement.scrollWidth, window.innerWidth]"
            )
            # (Reported by `pytest -s`, as the numbers behind the assertion.)
            print(f"at {width} px: scrollWidth, innerWidth = {overflow[width]}")
        assert all(scroll <= inner for scroll, inner in overflow.values()), overflow
        # At 1280 px the plugin tables fit their section without scrolling: the
        # long words in their details and subconfig wrap instead.
        page.set_viewport_size({"width": 1280, "height": 900})
        for section in ("#hp-handlers", "#hp-responders", "#hp-cluster", "#hp-pool"):
            boxes = page.locator(f"{section} .hp-scroll")
            for n in range(boxes.count()):
                # Rectangles, not scrollWidth: that is rounded up, clientWidth down.
                fits = boxes.nth(n).evaluate(
                    "e => e.firstElementChild.getBoundingClientRect().width"
                    " <= e.getBoundingClientRect().width"
                )
                assert fits, f"table {n} of {section} scrolls at 1280 px"
        page.set_viewport_size({"width": 1280, "height": 900})

        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT), full_page=True)
        # The counters close up, as the docs show them (docs/pipeline.rst).
        for section in ("handlers", "cluster", "pool"):
            shot = SCREENSHOT.with_name(f"admin-pipeline-{section}.png")
            page.locator(f"#hp-{section}").screenshot(path=str(shot))
        # The backlog close up (docs/durable.rst, "Is a worker running?").
        shoot(page, "admin-backlog.png", backends)

        # A worker that beats: live_workers is no problem any more, though the task
        # still waits (the worker serves other queues, or is too busy).
        in_another_thread(a_worker_beats)
        page.reload()
        assert workers.inner_text() == "1"
        assert "hp-problem" not in (workers.get_attribute("class") or "")
        attention = page.locator("#hp-attention").inner_text()
        assert "no task worker is alive" not in attention
        assert "db/default: a task has waited" in attention

        # Switching a task handler off drops its deliveries: the switch says so
        # beside its Disable button, and points to the pause.
        switch = page.locator('#hp-switches tr[data-switch="task-recorder"]')
        assert switch.get_by_role("button", name="Disable").is_visible()
        warning = switch.locator(".hp-drop-warning")
        assert warning.is_visible()
        assert warning.inner_text().startswith("drops its deliveries: nothing is stored")
        assert warning.get_by_role("link", name="pause").get_attribute("href") == "#hp-pauses"
        other = page.locator('#hp-switches tr[data-switch="recorder"]')
        assert other.locator(".hp-drop-warning").count() == 0  # not a task handler

        # Pause the task handler, then resume it, by its buttons.
        paused = click_pause_button(page, live_server.url, "Pause")
        # text_content(): the badge is shown in capitals.
        assert paused.locator(".hp-pause-state").text_content() == "paused"
        assert "by admin (admin) at" in paused.inner_text()
        said = page.locator(".messagelist").inner_text()
        assert "Paused the task handler 'task-recorder'" in said
        shoot(page, "admin-pause.png", page.locator("#hp-pauses"), paused.locator(".."))
        running = click_pause_button(page, live_server.url, "Resume")
        assert running.locator(".hp-pause-state").text_content() == "running"
        said = page.locator(".messagelist").inner_text()
        assert "Resumed the task handler 'task-recorder': 0 parked jobs enqueued again." in said
        assert running.get_by_role("button", name="Pause").is_visible()

    assert failed == []
    assert SCREENSHOT.stat().st_size > 10_000
    changes = LogEntry.objects.order_by("pk").values_list("change_message", flat=True)
    assert [message for message in changes] == [
        "Paused the task handler 'task-recorder'.",
        "Resumed the task handler 'task-recorder': 0 parked jobs enqueued again.",
    ]


# ------------------------------------------------------------ the fleet, switched


FLEET_SCREENSHOT = OUTPUT / "admin-fleet.png"


@pytest.mark.live
def test_switch_a_responder_off_and_on_from_the_admin_across_three_workers(
    sync_playwright: Any, tmp_path: Path
) -> None:
    """The demo under gunicorn with 3 workers and the database cache: an operator logs
    in, disables the clock responder on the Pipeline page, and every worker stops
    answering with it within CHECK_EVERY seconds; the page says who did it and when,
    and shows the fleet's totals; then the operator enables it again."""
    from . import live
    from .test_fleet_live import CHECK_EVERY, PUBLISH_EVERY, _pid, _spread
    from .test_fleet_live import _time_to_reach_every_worker as reach

    env = live.project_env(
        tmp_path,
        DEMO_WORKERS="3",
        DEMO_CHECK_EVERY=str(CHECK_EVERY),
        DEMO_PUBLISH_EVERY=str(PUBLISH_EVERY),
        DJANGO_SUPERUSER_PASSWORD=PASSWORD,
        DEMO_STATIC_ROOT=str(tmp_path / "static_root"),
    )
    live.manage("migrate", "--noinput", env=env)
    live.manage("createcachetable", env=env)
    live.manage("collectstatic", "--noinput", "--verbosity", "0", env=env)
    live.manage("createsuperuser", "--noinput", "--username", "ops", "--email", "", env=env)
    with live.gunicorn(env, tmp_path) as server:
        replies = _spread(server)
        pids = {_pid(r) for r in replies}
        assert len(pids) == 3, pids
        with chromium(sync_playwright) as browser:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            log_in(page, f"{server.base_url}/admin/hookpipe/pipeline/", "ops")

            # The fleet: every worker published its counters; reload until the totals
            # hold every request sent (the page may come from any worker).
            sent = len(replies)
            deadline = time.monotonic() + PUBLISH_EVERY * 3
            while True:
                page.reload()
                processes = page.locator("#hp-cluster-processes tr.hp-proc-live").count()
                cell = page.locator(
                    '#hp-cluster-totals tr[data-row="clock"]:not([data-process])'
                    ' td[data-counter="answered"]'
                )
                # No row yet (no record read on this load): reload, do not wait on it.
                totals = cell.inner_text() if cell.count() else ""
                if processes == 3 and totals == str(sent):
                    break
                assert time.monotonic() < deadline, (processes, totals)
                time.sleep(1)
            row = page.locator('#hp-switches tr[data-switch="clock"]')
            row.get_by_role("button", name="Disable").click()
            page.wait_for_url(f"{server.base_url}/admin/hookpipe/pipeline/#hp-switches")
            off = reach(server, 404, pids)
            assert off <= CHECK_EVERY + 1.0
            assert "Disabled the responder 'clock'." in page.locator(".messagelist").inner_text()
            row = page.locator('#hp-switches tr[data-switch="clock"]')
            assert "disabled by ops at" in row.locator(".hp-switch-who").inner_text()

            page.reload()  # from any worker now: each has applied the switch
            assert "catching up" not in page.locator("#hp-switches").inner_text()
            FLEET_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.set_viewport_size({"width": 1280, "height": 1300})
            page.evaluate("document.getElementById('hp-switches').scrollIntoView()")
            page.screenshot(path=str(FLEET_SCREENSHOT))

            page.locator('#hp-switches tr[data-switch="clock"]').get_by_role(
                "button", name="Enable"
            ).click()
            page.wait_for_url(f"{server.base_url}/admin/hookpipe/pipeline/#hp-switches")
            on = reach(server, 200, pids)
            assert on <= CHECK_EVERY + 1.0
            print(f"browser switch: off in {off:.2f} s, on in {on:.2f} s, {sent} requests")


# ------------------------------------------------------------ dead task jobs


def test_a_dead_task_job_is_replayed_from_the_admin_in_a_browser(
    sync_playwright: Any,
    live_server: Any,
    admin_user: None,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A task handler's job fails on its only attempt under a real ``db_worker``: it is
    dead. The operator finds it under "Dead task jobs", selects it, picks the replay
    action and clicks Go; the admin says it is replayed, and it runs again."""
    settings.HOOKPIPE = {
        "HANDLERS": [{"class": "tests.testapp.plugins.FlakyTask", "TASK_MAX_ATTEMPTS": 1}]
    }
    tp.reset()
    monkeypatch.setattr(tp, "FLAKY_FAILURES", [1])  # the first call fails, the next not
    deliver()
    run_worker_until_idle()

    with chromium(sync_playwright) as browser:
        page = browser.new_page(viewport={"width": 1500, "height": 700})
        failed = failures_of(page)
        log_in(page, f"{live_server.url}/admin/", "admin")
        section = page.locator("#content-main .app-hookpipe")
        section.get_by_role("link", name="Dead task jobs", exact=True).click()
        page.wait_for_url(f"{live_server.url}/admin/hookpipe/deadjob/")

        rows = page.locator("#result_list tbody tr")
        assert rows.count() == 1
        assert "RuntimeError: flaky failure 1" in rows.first.inner_text()
        rows.first.locator("input.action-select").check()
        page.locator("select[name=action]").select_option("replay_selected")
        # Down to the filters' bottom: the changelist box runs on, empty, below them.
        heading, filters = page.locator("#content h1"), page.locator("#changelist-filter")
        shoot(page, "admin-dead-jobs.png", heading, filters)
        page.locator("#changelist-form button[name=index]").click()
        page.wait_for_url(f"{live_server.url}/admin/hookpipe/deadjob/")
        assert page.locator(".messagelist").inner_text() == "1 dead job replayed."
        # The changelist now says when it was replayed.
        replayed_at = page.locator("#result_list tbody tr td.field-replayed_at")
        assert replayed_at.inner_text() not in ("", "-")

    assert failed == []
    job = DeadJob.objects.get()
    assert job.replayed_by == "admin (admin)"
    [entry] = LogEntry.objects.filter(object_id=str(job.pk))
    assert entry.get_change_message() == "Replayed as a new task job."
    run_worker_until_idle()
    assert tp.SEEN["flaky-task"] == [job.request_id] * 2  # failed, then ran again
