"""The admin "Pipeline" page: who may see it, what it shows, on any ``AdminSite``."""

from __future__ import annotations

import datetime
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import django
import pytest
from django.contrib.auth.models import Permission
from django.test import Client, override_settings
from django.urls import NoReverseMatch, reverse

from hookpipe.core.build import Pipeline
from hookpipe.models import Pipeline as HookpipeModel

from .test_cluster import put

T = "tests.testapp.tweens."
URL = "/admin/hookpipe/pipeline/"
PASSWORD = "pw"
CHAIN = {
    "TWEENS": [
        T + "first",
        {"factory": T + "labelled", "name": "auth", "over": "hookpipe.MAIN"},
        T + "omitted",
        {"factory": T + "async_labelled", "name": "timing"},
        {"handler": T + "chain_marker"},
    ]
}
NO_HOOKPIPE_MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

pytestmark = pytest.mark.django_db


@pytest.fixture
def user(django_user_model: Any) -> Callable[..., Client]:
    """``user(staff=True, perm=False, superuser=False)`` -> a client logged in as them."""

    def make(staff: bool = True, perm: bool = False, superuser: bool = False) -> Client:
        name = f"u{django_user_model.objects.count()}"
        if superuser:
            account = django_user_model.objects.create_superuser(name, "", PASSWORD)
        else:
            account = django_user_model.objects.create_user(name, "", PASSWORD, is_staff=staff)
        if perm:
            account.user_permissions.add(
                Permission.objects.get(content_type__app_label="hookpipe", codename="view_pipeline")
            )
        client = Client()
        client.force_login(account)
        return client

    return make


@pytest.fixture
def describe_also(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Make ``Pipeline.describe()`` report more, as the plugin features will."""

    def patch(**extra: Any) -> None:
        original = Pipeline.describe
        monkeypatch.setattr(Pipeline, "describe", lambda self: {**original(self), **extra})

    return patch


def html_line_crumbs() -> bool:
    return django.VERSION < (6, 0)


def without_breaks(html: str) -> str:
    """The page without the ``<wbr>`` the ``breakable`` filter puts into long names."""
    return html.replace("<wbr>", "")


def drawn(html: str) -> list[str]:
    """Tween names in the drawn chain, top (INGRESS) to bottom (MAIN)."""
    chain = html[html.index('class="hp-onion"') : html.index('class="hp-flow hp-flow-out"')]
    return re.findall(r'data-tween="([^"]+)"', chain)


@dataclass
class CounterRow:
    plugin: str
    process: str | None
    #: counter -> (text, "problem" | "zero" | "")
    cells: dict[str, tuple[str, str]] = field(default_factory=dict)
    problem: bool = False
    note: str = ""


@dataclass
class CounterTable:
    key: str
    columns: list[str] = field(default_factory=list)
    rows: list[CounterRow] = field(default_factory=list)


class _CounterTables(HTMLParser):
    """The counter tables of a page, as a reader (or a screen reader) has them."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[CounterTable] = []
        self._text: list[str] | None = None
        self._cell: tuple[str, str] | None = None
        self._inside = False  # a counter table (not another table of the page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        classes = a.get("class", "").split()
        if tag == "table":
            self._inside = "data-counters" in a
            if self._inside:
                self.tables.append(CounterTable(a["data-counters"]))
        elif not self._inside:
            return
        elif tag == "tr" and "data-row" in a:
            row = CounterRow(
                a["data-row"], a.get("data-process"), problem="hp-row-problem" in classes
            )
            self.tables[-1].rows.append(row)
        elif tag in ("th", "td"):
            kind = "problem" if "hp-problem" in classes else "zero" if "hp-zero" in classes else ""
            self._cell = (a.get("data-counter", ""), kind) if tag == "td" else None
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._text, self._inside = None, False
            return
        if tag not in ("th", "td") or self._text is None or not self._inside:
            return
        text, self._text = " ".join("".join(self._text).split()), None
        table = self.tables[-1]
        if not table.rows and tag == "th":
            table.columns.append(text)
        elif self._cell is not None and self._cell[0]:
            table.rows[-1].cells[self._cell[0]] = (text.removesuffix(" (a problem)"), self._cell[1])
        elif self._cell is not None:
            table.rows[-1].note = text


def counter_tables(html: str) -> list[CounterTable]:
    parser = _CounterTables()
    parser.feed(html)
    for table in parser.tables:
        table.columns = table.columns[1:]  # the first names the plugin
    return parser.tables


# ---------------------------------------------------------------- permissions


def test_the_model_stores_nothing() -> None:
    assert HookpipeModel._meta.managed is False
    assert str(HookpipeModel()) == "hookpipe pipeline"


def test_the_view_and_change_permissions_exist_and_are_the_only_ones() -> None:
    codenames = set(
        Permission.objects.filter(content_type__app_label="hookpipe").values_list(
            "codename", flat=True
        )
    )
    # The Pipeline page's two, and seeing and replaying dead task jobs.
    assert codenames == {"view_pipeline", "change_pipeline", "view_deadjob", "replay_deadjob"}


def test_anonymous_users_are_sent_to_the_login_page() -> None:
    response = Client().get(URL)
    assert response.status_code == 302
    assert response["Location"] == f"/admin/login/?next={URL}"


def test_users_who_are_not_staff_are_sent_to_the_login_page(user: Callable[..., Client]) -> None:
    response = user(staff=False, perm=True).get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_staff_without_the_permission_get_403(user: Callable[..., Client]) -> None:
    assert user(perm=False).get(URL).status_code == 403


def test_staff_with_the_permission_see_the_page(user: Callable[..., Client]) -> None:
    response = user(perm=True).get(URL)
    assert response.status_code == 200
    assert response.templates[0].name == "admin/hookpipe/pipeline/pipeline.html"


def test_superusers_see_the_page(user: Callable[..., Client]) -> None:
    assert user(superuser=True).get(URL).status_code == 200


@pytest.mark.parametrize("suffix", ["add/", "1/change/", "1/delete/", "1/history/"])
def test_there_is_nothing_to_add_change_or_delete(user: Callable[..., Client], suffix: str) -> None:
    assert user(superuser=True).get(URL + suffix).status_code == 404


def test_only_the_changelist_url_exists() -> None:
    assert reverse("admin:hookpipe_pipeline_changelist") == URL
    with pytest.raises(NoReverseMatch):
        reverse("admin:hookpipe_pipeline_add")


# ---------------------------------------------------------------- admin index


def test_admin_index_shows_the_hookpipe_section(user: Callable[..., Client]) -> None:
    html = user(perm=True).get("/admin/").content.decode()
    section = html[html.index('class="app-hookpipe module') :]
    section = section[: section.index("</table>")]
    assert ">Hookpipe</a>" in section
    assert f'<a href="{URL}">Pipeline</a>' in section
    assert "addlink" not in section
    assert "changelink" not in section


def test_admin_index_hides_the_section_without_the_permission(
    user: Callable[..., Client],
) -> None:
    assert "app-hookpipe" not in user(perm=False).get("/admin/").content.decode()


def test_app_index_lists_the_pipeline(user: Callable[..., Client]) -> None:
    response = user(superuser=True).get("/admin/hookpipe/")
    assert response.status_code == 200
    assert f'<a href="{URL}">Pipeline</a>' in response.content.decode()


# ------------------------------------------------------------------- content


@override_settings(HOOKPIPE=CHAIN)
def test_page_draws_the_chain_from_ingress_to_main(user: Callable[..., Client]) -> None:
    html = user(superuser=True).get(URL).content.decode()
    assert drawn(html) == [
        "hookpipe.INGRESS",
        T + "first",
        T + "omitted",
        "timing",
        T + "chain_marker",
        "auth",
        "hookpipe.MAIN",
    ]
    assert "Order: <strong>implicit</strong>" in html
    # Omitted: struck through, not a layer; async and chain handlers are marked.
    assert re.search(
        rf'<div class="hp-omitted" data-tween="{T}omitted"[^>]*>\s*<s class="hp-name">', html
    )
    assert '<div class="hp-layer hp-layer-async" data-tween="timing">' in html
    chain = html[html.index(f'data-tween="{T}chain_marker"') :]
    assert chain.index("chain handler") < chain.index('data-tween="auth"')
    # The onion: four running tweens, four layers closed after MAIN.
    onion = html[html.index('class="hp-onion"') : html.index('class="hp-flow hp-flow-out"')]
    assert len(re.findall(r'class="hp-layer( hp-layer-async)?"', onion)) == 4
    assert "over hookpipe.MAIN" in onion


@override_settings(HOOKPIPE=CHAIN)
def test_page_looks_like_the_admin(user: Callable[..., Client]) -> None:
    html = user(superuser=True).get(URL).content.decode()
    assert "<title>Pipeline | Django site admin</title>" in html
    assert '<div id="site-name"><a href="/admin/">Django administration</a></div>' in html
    breadcrumbs = html[html.index('class="breadcrumbs">') :]
    breadcrumbs = breadcrumbs[: breadcrumbs.index("</div>" if html_line_crumbs() else "</ol>")]
    assert re.findall(r'<a href="([^"]+)">([^<]+)</a>', breadcrumbs) == [
        ("/admin/", "Home"),
        ("/admin/hookpipe/", "Hookpipe"),
    ]
    if html_line_crumbs():  # Django 5.2
        assert breadcrumbs.rstrip().endswith("&rsaquo; Pipeline")
    else:  # Django 6: the admin's own markup, a list
        assert breadcrumbs.rstrip().endswith('<li aria-current="page">Pipeline</li>')
    assert '<link rel="stylesheet" href="/static/hookpipe/css/pipeline.css">' in html
    assert '<body class=" app-hookpipe model-pipeline hookpipe-pipeline"' in html


def test_page_shows_the_process_and_the_per_process_note(user: Callable[..., Client]) -> None:
    html = user(superuser=True).get(URL).content.decode()
    assert f'<strong id="hookpipe-pid">{os.getpid()}</strong>' in html
    assert "keeps its own counters" in html
    assert 'the\n  <a href="#hp-cluster">fleet</a> section adds up every process' in html


@override_settings(
    HOOKPIPE={"TWEENS": [T + "first", T + "second"], "TWEEN_ORDER": [T + "second", T + "first"]}
)
def test_page_says_when_the_order_is_explicit(user: Callable[..., Client]) -> None:
    html = user(superuser=True).get(URL).content.decode()
    assert "Order: <strong>explicit</strong>" in html
    assert drawn(html)[1:3] == [T + "second", T + "first"]


def test_page_with_no_tweens_says_so(user: Callable[..., Client]) -> None:
    html = user(superuser=True).get(URL).content.decode()
    assert drawn(html) == ["hookpipe.INGRESS", "hookpipe.MAIN"]
    assert 'No tweens: <code>HOOKPIPE["TWEENS"]</code> is empty' in html
    assert 'None configured (<code>HOOKPIPE["HANDLERS"]</code> is empty)' in html
    assert 'None configured (<code>HOOKPIPE["RESPONDERS"]</code> is empty)' in html
    assert "No pool state reported" in html


@override_settings(
    ROOT_URLCONF="tests.testapp.pipeline_fixtures",
    HOOKPIPE={"HOOKS": ["tests.testapp.pipeline_fixtures.AuditHook"]},
)
def test_page_shows_global_and_per_view_hooks(user: Callable[..., Client]) -> None:
    html = without_breaks(user(superuser=True).get(URL).content.decode())
    hooks = html[html.index('id="hp-hooks"') : html.index('id="hp-handlers"')]
    global_part, per_view = hooks.split("Per-view hooks")
    assert "<strong>AuditHook</strong>" in global_part
    assert "<td>10</td>" in global_part
    assert "TimingHook" not in global_part
    row = per_view[per_view.index("/api/reports/") :]
    row = row[: row.index("</tr>")]
    assert "tests.testapp.pipeline_fixtures.report" in row
    assert row.index("ApiKeyHook") < row.index("TimingHook")  # in the order they run
    assert "/api/plain/" not in per_view


def test_page_shows_handlers_responders_counters_and_pool_state(
    user: Callable[..., Client], describe_also: Callable[..., None]
) -> None:
    describe_also(
        handlers=[
            {
                "name": "webhook",
                "class": "myapp.plugins.WebhookHandler",
                "THREAD_SAFE": False,
                "runner": "inline",
                "subconfig": {"URL": "https://example.com/", "TOKEN": "s3cr3t"},
                "counters": {"calls": 7, "failed": 1, "queued": 0, "duration_ms": {"max": 1.5}},
            }
        ],
        responders=[{"name": "csv", "class": "myapp.plugins.CsvResponder"}],
        pool={"workers": 3, "queue_depth": 11},
    )
    html = without_breaks(user(superuser=True).get(URL).content.decode())
    handlers = html[html.index('id="hp-handlers"') : html.index('id="hp-responders"')]
    assert '<th scope="row"><strong>webhook</strong></th>' in handlers
    assert "<dt>THREAD_SAFE</dt><dd>no</dd>" in handlers
    assert "<dt>URL</dt><dd>https://example.com/</dd>" in handlers
    assert "<dt>TOKEN</dt><dd>********</dd>" in handlers
    assert "s3cr3t" not in html
    [inline] = counter_tables(handlers)
    assert inline.key == "handler:inline"
    assert inline.columns == ["calls", "failed", "queued", "p50 ms", "p95 ms", "max ms"]
    [row] = inline.rows
    assert (row.plugin, row.process) == ("webhook", None)
    assert row.cells["calls"] == ("7", "")
    assert row.cells["failed"] == ("1", "problem")
    assert row.cells["queued"] == ("0", "zero")
    assert row.cells["max ms"] == ("1.5", "")
    assert row.problem
    responders = html[html.index('id="hp-responders"') : html.index('id="hp-pool"')]
    assert '<th scope="row"><strong>csv</strong></th>' in responders
    [table] = counter_tables(responders)
    assert table.rows[0].note == "no counters yet"
    pool = html[html.index('id="hp-pool"') :]
    assert "<dt>MAX_WORKERS</dt><dd>8</dd>" in pool
    [state] = counter_tables(pool)
    assert (state.key, state.columns) == ("pool", ["workers", "queue_depth"])
    assert state.rows[0].cells == {"workers": ("3", ""), "queue_depth": ("11", "")}
    # A problem is listed at the top of the page, linked to its section.
    attention = html[html.index('id="hp-attention"') : html.index('id="hp-tweens"')]
    assert '<a href="#hp-handlers">webhook failed 1 (this process)</a>' in attention


@override_settings(
    HOOKPIPE={
        "HANDLERS": [
            "tests.testapp.plugins.Recorder",
            "tests.testapp.plugins.InlineRecorder",
            "tests.testapp.plugins.TaskRecorder",
        ],
        "RESPONDERS": ["tests.testapp.plugins.Chunks"],
    }
)
def test_counters_are_a_table_per_kind_with_the_counters_of_that_kind(
    user: Callable[..., Client],
) -> None:
    html = user(superuser=True).get(URL).content.decode()
    tables = {t.key: t for t in counter_tables(html[: html.index('id="hp-switches"')])}
    assert list(tables) == ["handler:pool", "handler:inline", "handler:task", "responder"]
    assert [r.plugin for r in tables["handler:pool"].rows] == ["recorder"]
    assert tables["handler:pool"].columns[:4] == ["submitted", "succeeded", "failed", "rejected"]
    assert "rejected" not in tables["handler:inline"].columns  # an inline job is never refused
    assert "queued" not in tables["handler:inline"].columns
    assert tables["handler:task"].columns == [
        "enqueued",
        "not_stored",
        "enqueue_failed",
        "fell_back",
        "too_large",
        "duplicates",
        "paused",  # the pause, from the database (every process's)
        "parked",
        "handles_errors",
    ]
    assert tables["responder"].columns == [
        "answered",
        "errors",
        "stream_errors",
        "handles_errors",
    ]
    # Nothing happened: every cell is a quiet zero (or none, for a duration), no problem.
    for table in tables.values():
        for row in table.rows:
            assert not row.problem
            assert {kind for _, kind in row.cells.values()} == {"zero"}
    assert 'id="hp-attention"' not in html
    # The task counters are not repeated in the handler's details.
    config = html[html.index("<h3>Configuration</h3>") :]
    assert "enqueued" not in config[: config.index('id="hp-responders"')]


@override_settings(
    HOOKPIPE={
        "HANDLERS": ["tests.testapp.plugins.Configured"],
        "PLUGINS": {"webhook-store": {"TOKEN": "t"}},
    }
)
def test_long_names_may_wrap_only_between_their_parts(
    user: Callable[..., Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A subconfig value from the environment shows its source, one long word; the page
    # offers line breaks after its underscores (and a dotted path's dots), so a table
    # can fit the window without cutting a name anywhere else (tests/test_browser.py
    # measures the page in a browser).
    monkeypatch.setenv("HOOKPIPE_WEBHOOK_STORE_BATCH", "25")
    html = user(superuser=True).get(URL).content.decode()
    handlers = html[html.index('id="hp-handlers"') : html.index('id="hp-responders"')]
    assert "<dd>env HOOKPIPE_<wbr>WEBHOOK_<wbr>STORE_<wbr>BATCH</dd>" in handlers
    assert "<dd>tests.<wbr>testapp.<wbr>plugins.<wbr>Configured</dd>" in handlers
    assert "<dd>HOOKPIPE[&quot;HANDLERS&quot;]<wbr>[0] (&#x27;webhook-store&#x27;)</dd>" in handlers
    assert "<dd>25</dd>" in handlers
    # Numbers keep their dots: "0.5" is not a name.
    assert "<dd>0.5</dd>" in handlers
    assert '<table class="hp-table hp-counters" data-counters="handler:pool">' in handlers


@override_settings(HOOKPIPE={"TWEENS": [{"factory": T + "first", "name": "<b>bold</b>"}]})
def test_names_are_escaped(user: Callable[..., Client]) -> None:
    html = user(superuser=True).get(URL).content.decode()
    assert "<b>bold</b>" not in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html


# ------------------------------------------------------------- broken config
# With HookpipeMiddleware installed a pipeline that cannot be built fails every
# request before any view runs; these tests take it out to reach the page.


@override_settings(
    MIDDLEWARE=NO_HOOKPIPE_MIDDLEWARE,
    HOOKPIPE={"TWEENS": [{"factory": T + "first", "over": "nothere"}]},
)
def test_broken_configuration_shows_the_check_errors(user: Callable[..., Client]) -> None:
    response = user(superuser=True).get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert "The pipeline cannot be built." in html
    assert '<code class="hp-check-id">hookpipe.E014</code>' in html
    assert "Hint: Configured tween names:" in html
    assert "hp-onion" not in html


@override_settings(MIDDLEWARE=NO_HOOKPIPE_MIDDLEWARE, HOOKPIPE={"TWEENS": [T + "factory_raises"]})
def test_a_factory_that_raises_is_shown_not_a_500(user: Callable[..., Client]) -> None:
    response = user(superuser=True).get(URL)
    assert response.status_code == 200
    assert "raised ValueError: factory cannot start" in response.content.decode()


# ---------------------------------------------------------- custom AdminSite


@pytest.mark.urls("tests.testapp.pipeline_fixtures")
@override_settings(HOOKPIPE=CHAIN)
def test_a_custom_admin_site_serves_the_page(user: Callable[..., Client]) -> None:
    client = user(superuser=True)
    index = client.get("/ops/").content.decode()
    assert '<a href="/ops/hookpipe/pipeline/">Pipeline</a>' in index
    response = client.get("/ops/hookpipe/pipeline/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Ops console" in html
    assert '<a href="/ops/">Home</a>' in html  # links stay on the custom site
    assert '<a href="/ops/hookpipe/">Hookpipe</a>' in html
    assert drawn(html)[1] == T + "first"


@pytest.mark.urls("tests.testapp.pipeline_fixtures")
def test_a_custom_admin_site_checks_permissions_too(user: Callable[..., Client]) -> None:
    assert Client().get("/ops/hookpipe/pipeline/")["Location"].startswith("/ops/login/")
    assert user(perm=False).get("/ops/hookpipe/pipeline/").status_code == 403
    assert user(perm=True).get("/ops/hookpipe/pipeline/").status_code == 200


# --------------------------------------------------------------------- fleet


@pytest.mark.usefixtures("clean_fleet_cache")
@override_settings(HOOKPIPE={"RESPONDERS": ["tests.testapp.plugins.Chunks"]})
def test_the_fleet_has_a_row_per_process_and_per_plugin_with_each_process_under_it(
    user: Callable[..., Client],
) -> None:
    now = time.time()
    answered = {"answered": 4, "errors": 0, "stream_errors": 0, "handles_errors": 0}
    pool = {"workers": 2, "running": 0, "queue_depth": 0}
    put(11, now, {"chunks": answered}, host="web", pool=pool)
    put(12, now - 30, {"chunks": {**answered, "answered": 6, "errors": 2}}, host="web", pool=pool)
    html = user(superuser=True).get(URL).content.decode()
    fleet = html[html.index('id="hp-cluster"') : html.index('id="hp-pool"')]
    [processes, responders] = counter_tables(fleet)
    assert processes.key == "processes"
    assert [(r.plugin, r.problem) for r in processes.rows] == [
        ("web:11", False),
        ("web:12", True),  # stale: not seen for 30 s (STALE_AFTER is 15)
    ]
    assert '<td class="hp-problem"><strong>stale</strong></td>' in fleet
    assert responders.columns == ["answered", "errors", "stream_errors", "handles_errors"]
    assert [(r.plugin, r.process, r.problem) for r in responders.rows] == [
        ("chunks", None, True),
        ("chunks", "web:11", False),
        ("chunks", "web:12", True),
    ]
    total = responders.rows[0].cells
    assert total["answered"] == ("10", "")
    assert total["errors"] == ("2", "problem")
    assert total["stream_errors"] == ("0", "zero")
    attention = html[html.index('id="hp-attention"') : html.index('id="hp-tweens"')]
    assert '<a href="#hp-cluster">web:12: stale (fleet)</a>' in attention
    assert '<a href="#hp-cluster">chunks errors 2 (fleet)</a>' in attention


@pytest.mark.django_db(transaction=True)
@override_settings(
    HOOKPIPE={
        "HANDLERS": [
            {"class": "tests.testapp.plugins.TaskRecorder", "TASK_BACKEND": "db"},
        ]
    }
)
def test_a_task_backlog_is_marked(user: Callable[..., Client]) -> None:
    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    from hookpipe.models import TaskWorker

    now = timezone.now()
    TaskWorker.objects.create(
        worker_id="w1", backend="db", host="h", pid=1, started_at=now, beat_at=now
    )
    assert Client().post("/webhooks/accept", b"x", content_type="a/b").status_code == 202
    page = user(superuser=True)
    html = page.get(URL).content.decode()
    [backends] = [t for t in counter_tables(html) if t.key == "task-backends"]
    assert backends.columns == [
        "READY",
        "RUNNING",
        "SUCCESSFUL",
        "FAILED",
        "dead",
        "stale_running",
        "oldest_ready_s",
        "live_workers",
    ]
    [db] = backends.rows
    assert db.plugin == "db/default"
    assert db.cells["READY"] == ("1", "")
    assert db.cells["oldest_ready_s"][1] != "problem"  # a task that just arrived
    assert db.cells["live_workers"] == ("1", "")
    assert not db.problem
    # Ten minutes without a worker taking it: a backlog.
    DBTaskResult.objects.update(enqueued_at=timezone.now() - datetime.timedelta(minutes=10))
    html = page.get(URL).content.decode()
    [backends] = [t for t in counter_tables(html) if t.key == "task-backends"]
    [db] = backends.rows
    waited, kind = db.cells["oldest_ready_s"]
    assert float(waited) >= 600
    assert kind == "problem"
    assert db.problem
    attention = html[html.index('id="hp-attention"') : html.index('id="hp-tweens"')]
    assert re.search(
        r'<a href="#hp-handlers">db/default: a task has waited \d+(\.\d)? s for a worker</a>',
        attention,
    )
    assert "no task worker is alive" not in attention
    # The worker's last beat is older than HEARTBEAT_TIMEOUT: tasks wait for nobody.
    TaskWorker.objects.update(beat_at=now - datetime.timedelta(minutes=1))
    html = page.get(URL).content.decode()
    [backends] = [t for t in counter_tables(html) if t.key == "task-backends"]
    assert backends.rows[0].cells["live_workers"] == ("0", "problem")
    attention = html[html.index('id="hp-attention"') : html.index('id="hp-tweens"')]
    assert (
        '<a href="#hp-handlers">db/default: tasks wait and no task worker is alive</a>' in attention
    )
