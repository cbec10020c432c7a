"""RequestViewerHook, through real requests, with hostile input."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import override_settings

from hookpipe.hooks import RequestViewerHook
from hookpipe.hooks.redaction import header_value, single_line
from tests.conftest import Fetch

VIEWER = "hookpipe.RequestViewerHook"
HEADERS = ("Path", "Status", "Method", "View", "Params", "Hooks")


def viewer(debug: bool = False, more: tuple[Any, ...] = (), **options: Any) -> Any:
    return override_settings(
        DEBUG=debug, HOOKPIPE={"HOOKS": [{"class": VIEWER, "options": options}, *more]}
    )


@pytest.fixture
def lines(caplog: pytest.LogCaptureFixture) -> Iterator[list[str]]:
    """The viewer's log lines, filled in as requests run."""
    found: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            found.append(record.getMessage())

    handler = Collect()
    logger = logging.getLogger("hookpipe.viewer")
    logger.addHandler(handler)
    with caplog.at_level(logging.INFO, logger="hookpipe.viewer"):
        yield found
    logger.removeHandler(handler)


def hookpipe_headers(response: Any) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.startswith("X-Hookpipe-")}


def test_default_items_one_line_per_request(fetch: Fetch, lines: list[str]) -> None:
    with viewer():
        response = fetch("/hooks/plain/?q=1&q=2")
    assert response.status_code == 200
    assert lines == [
        "path=/hooks/plain/ status=200 OK method=GET view=tests.testapp.hook_views.plain "
        "params=[('q', '1'), ('q', '2')] hooks=['RequestViewerHook']"
    ]
    assert hookpipe_headers(response) == {}  # headers=False, DEBUG off


def test_routing_errors_class_based_views_and_per_view_hooks(
    fetch: Fetch, lines: list[str]
) -> None:
    with viewer(items=["status", "view", "hooks"]):
        fetch("/hooks/nowhere/")
        fetch("/hooks/cbv/base/")
    assert lines == [
        "status=404 Not Found view=- hooks=['RequestViewerHook']",
        "status=200 OK view=tests.testapp.hook_views.BaseView "
        "hooks=['RequestViewerHook', 'Recorder', 'Recorder']",
    ]


def test_it_sees_the_final_response(fetch: Fetch, lines: list[str]) -> None:
    # Priority 0: its after runs last, after the failing hook's error became a 500.
    failing = {"class": "tests.testapp.hooks.Recorder", "options": {"raise_in": ["after"]}}
    with viewer(items=["status"], more=(failing,)):
        response = fetch("/hooks/plain/")
    assert response.status_code == 500
    assert lines == ["status=500 Internal Server Error"]


def test_blacklisted_prefixes_are_not_reported(fetch: Fetch, lines: list[str]) -> None:
    with viewer(items=["path"], blacklist=["/hooks/pl", "/static/"]):
        fetch("/hooks/plain/")
        fetch("/hooks/hooked/")
    assert lines == ["path=/hooks/hooked/"]


@pytest.mark.parametrize(
    ("headers", "debug", "shown"),
    [(True, True, True), (True, False, False), (False, True, False)],
    ids=["headers-and-debug", "no-debug", "no-headers"],
)
def test_headers_only_with_headers_and_debug(
    fetch: Fetch, headers: bool, debug: bool, shown: bool
) -> None:
    with viewer(debug=debug, headers=headers):
        response = fetch("/hooks/plain/?q=1")
    found = hookpipe_headers(response)
    if not shown:
        assert found == {}
        return
    assert found == {
        "X-Hookpipe-Path": "/hooks/plain/",
        "X-Hookpipe-Status": "200 OK",
        "X-Hookpipe-Method": "GET",
        "X-Hookpipe-View": "tests.testapp.hook_views.plain",
        "X-Hookpipe-Params": "[('q', '1')]",
        "X-Hookpipe-Hooks": "['RequestViewerHook']",
    }


def test_header_names_from_attribute_items(fetch: Fetch) -> None:
    with viewer(debug=True, headers=True, items=["path_info", "get_full_path"]):
        response = fetch("/hooks/plain/?a=b")
    assert hookpipe_headers(response) == {
        "X-Hookpipe-Path-Info": "/hooks/plain/",
        "X-Hookpipe-Get-Full-Path": "/hooks/plain/?a=b",
    }


HOSTILE_PATH = "/hooks/a%0D%0AX-Evil:%201%0A%1B[31m%E2%80%A8%C2%85/"


def test_crlf_and_control_characters_cannot_split_lines_or_headers(
    fetch: Fetch, lines: list[str]
) -> None:
    query = "q=x%0D%0ASet-Cookie:%20evil%3D1&%0D%0Aname=v"
    with viewer(debug=True, headers=True):
        response = fetch(HOSTILE_PATH + "?" + query)
    assert response.status_code == 404
    assert "X-Evil" not in response.headers
    assert "Set-Cookie" not in response.headers
    for name, value in hookpipe_headers(response).items():
        assert value.isascii(), name
        assert value.isprintable(), name
    if fetch.kind == "wsgi":  # type: ignore[attr-defined]
        # (Django's AsyncClient hands the view a latin-1 decoded path: compare under WSGI.)
        assert response.headers["X-Hookpipe-Path"] == (
            "/hooks/a\\r\\nX-Evil: 1\\n\\x1b[31m\\u2028\\x85/"
        )
    (line,) = lines
    assert line.isprintable()
    assert "\\r\\nX-Evil: 1" in line
    assert "Set-Cookie: evil=1" in line  # shown, escaped, harmless


def test_huge_values_are_capped(fetch: Fetch, lines: list[str]) -> None:
    with viewer(debug=True, headers=True, max_length=64):
        response = fetch("/hooks/plain/", data={"q": "x" * 100_000}, HTTP_X_BIG="y" * 50_000)
    params = response.headers["X-Hookpipe-Params"]
    assert len(params) == 64
    assert params.endswith("...")
    (line,) = lines
    assert len(line) < 6 * 64 + 100


def test_unicode_is_escaped_in_headers_and_kept_in_the_log(fetch: Fetch, lines: list[str]) -> None:
    with viewer(debug=True, headers=True, items=["path", "params"]):
        response = fetch("/hooks/nowhere/é/", data={"name": "Zoë ☃"})
    assert response.headers["X-Hookpipe-Params"] == "[('name', 'Zo\\xeb \\u2603')]"
    assert response.headers["X-Hookpipe-Path"].isascii()
    (line,) = lines
    assert line.endswith(" params=[('name', 'Zoë ☃')]")
    if fetch.kind == "wsgi":  # type: ignore[attr-defined]
        assert response.headers["X-Hookpipe-Path"] == "/hooks/nowhere/\\xe9/"
        assert line.startswith("path=/hooks/nowhere/é/ ")


def test_secrets_are_redacted(fetch: Fetch, lines: list[str]) -> None:
    items = ["params", "headers", "COOKIES", "META", "get_full_path"]
    data = {
        "q": "visible",
        "password": "hunter2",
        "access_token": "tok-1",
        "api_key": "ak-1",
        "csrfmiddlewaretoken": "csrf-1",
        "client_secret": "cs-1",
        "key": "k-1",
    }
    headers = {
        "Authorization": "Bearer sekrit-1",
        "Cookie": "sessionid=sess-1; theme=dark-1",
        "X-Api-Key": "xak-1",
        "X-CSRFToken": "xcsrf-1",
        "Proxy-Authorization": "Basic pa-1",
    }
    with viewer(debug=True, headers=True, items=items, max_length=100_000):
        response = fetch("/hooks/plain/", data=data, headers=headers)
    shown = " ".join([*lines, *hookpipe_headers(response).values()])
    assert "visible" in shown
    assert "[redacted]" in shown
    for secret in ("hunter2", "tok-1", "ak-1", "csrf-1", "cs-1", "k-1", "sekrit-1", "sess-1",
                   "dark-1", "xak-1", "xcsrf-1", "pa-1"):  # fmt: skip
        assert secret not in shown, secret
    assert "get_full_path=/hooks/plain/?q=visible&password=[redacted]&" in lines[0]


def test_post_params_only_when_the_view_parsed_them(fetch: Fetch, lines: list[str]) -> None:
    with viewer(items=["params"]):
        fetch("/hooks/form/?read=1", method="post", data={"x": "1", "pass": "p-1"})
        fetch("/hooks/form/", method="post", data={"x": "1"})
    assert lines == [
        "params=[('read', '1'), ('x', '1'), ('pass', '[redacted]')]",
        "params=[]",
    ]


def test_request_attributes_methods_and_unknown_items(fetch: Fetch, lines: list[str]) -> None:
    items = ["method", "get_full_path", "is_secure", "scheme", "body", "user", "read", "flavour"]
    with viewer(items=[*items, "GET"]):
        fetch("/hooks/plain/?a=b&token=t-1")
    assert lines == [
        "method=GET get_full_path=/hooks/plain/?a=b&token=[redacted] is_secure=False "
        "scheme=http body=<0 bytes> user=AnonymousUser read=- flavour=- "
        "GET=[('a', 'b'), ('token', '[redacted]')]"
    ]


def test_an_item_that_fails_to_read_is_shown_as_an_error(fetch: Fetch, lines: list[str]) -> None:
    # Without CommonMiddleware, which would reject the host before hookpipe runs.
    only_hookpipe = override_settings(MIDDLEWARE=["hookpipe.middleware.HookpipeMiddleware"])
    with viewer(items=["get_host"]), only_hookpipe:
        fetch("/hooks/plain/", headers={"Host": "evil.example"})
    assert lines == ["get_host=<error: DisallowedHost>"]


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"items": "path"}, TypeError),
        ({"items": ["path", 3]}, TypeError),
        ({"items": ["a b"]}, ValueError),
        ({"blacklist": "/x"}, TypeError),
        ({"headers": 1}, TypeError),
        ({"max_length": 2}, ValueError),
        ({"max_length": True}, ValueError),
    ],
)
def test_constructor_rejects_bad_options(options: dict[str, Any], error: type) -> None:
    with pytest.raises(error):
        RequestViewerHook(**options)


def test_single_line_and_header_value() -> None:
    assert single_line("a\r\nb\tc\x00\u2028", 100) == "a\\r\\nb\\tc\\x00\\u2028"
    assert single_line("é☃", 100) == "é☃"
    assert header_value("é☃\n", 100) == "\\xe9\\u2603\\n"
    assert single_line("x" * 50, 20) == "x" * 17 + "..."
