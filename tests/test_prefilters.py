"""Prefilters: ``methods`` and ``path_prefixes`` keep plugins away from requests they
cannot want. Through real requests under WSGI and ASGI: who is asked, in which order,
who answers; no body read and no thread hop when nobody is plausible; the checks; and
the index itself against a plain filter, with generated plugins and requests."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from django.test import Client, override_settings
from hypothesis import given
from hypothesis import strategies as st

from hookpipe.checks import check_hookpipe
from hookpipe.core.process import get_pipeline
from hookpipe.plugins.prefilters import Filtered, PrefilterIndex
from tests.conftest import Fetch
from tests.test_tweens import HopCounter
from tests.testapp import prefiltered as tp

P = "tests.testapp.prefiltered."


@pytest.fixture(autouse=True)
def _fresh() -> Iterator[None]:
    tp.reset()
    yield
    tp.reset()


def plugins(handlers: Sequence[str], responders: Sequence[str] = (), **settings: Any) -> Any:
    """``override_settings`` with these handlers and responders of tests/testapp/prefiltered."""
    config = {"HANDLERS": [P + h for h in handlers], "RESPONDERS": [P + r for r in responders]}
    return override_settings(HOOKPIPE=config, **settings)


# ------------------------------------------------------------- who is asked


@plugins(["AnyRequest", "PostWebhooks", "TwoPrefixes", "LowerCaseMethods"])
@pytest.mark.parametrize(
    ("method", "path", "asked"),
    [
        ("get", "/", ["any-request"]),
        ("get", "/webhooks/shop/", ["any-request", "two-prefixes"]),
        ("post", "/webhooks/ci/", ["any-request", "post-webhooks"]),
        ("post", "/webhooks/shop/", ["any-request", "post-webhooks", "two-prefixes"]),
        ("put", "/webhooks/", ["any-request", "lower-case-methods"]),
        ("patch", "/feeds/x", ["any-request", "two-prefixes", "lower-case-methods"]),
        ("post", "/webhooks", ["any-request"]),  # a prefix is a prefix: no slash, no match
    ],
)
def test_a_request_meets_the_plausible_handlers_in_settings_order(
    fetch: Fetch, method: str, path: str, asked: list[str]
) -> None:
    fetch(path, method=method)
    assert asked == tp.ASKED
    assert asked == tp.RAN  # every one of them said yes and ran


@plugins([], ["FeedsGet", "FeedsAny", "Everything"])
@pytest.mark.parametrize(
    ("method", "path", "answer", "asked"),
    [
        ("get", "/feeds/x", "feeds-get", ["feeds-get"]),
        ("post", "/feeds/x", "feeds-any", ["feeds-any"]),
        ("get", "/other/", "everything", ["everything"]),
    ],
)
def test_the_first_plausible_responder_that_wants_it_answers(
    fetch: Fetch, method: str, path: str, answer: str, asked: list[str]
) -> None:
    response = fetch(path, method=method)
    assert response.json()["responder"] == answer  # type: ignore[attr-defined]
    assert asked == tp.ASKED


@plugins(["PostWebhooks"], ["FeedsGet"], DATA_UPLOAD_MAX_MEMORY_SIZE=10)
def test_nobody_plausible_costs_no_body_read_and_nothing_is_asked(fetch: Fetch) -> None:
    # A body over the limit: hookpipe would answer 413 had it read it.
    response = fetch("/", method="post", data=b"x" * 11, content_type="text/plain")
    assert response.status_code == 200
    assert tp.ASKED == []


@plugins(["PostWebhooks"], DATA_UPLOAD_MAX_MEMORY_SIZE=10)
def test_the_413_only_applies_when_some_plugin_is_plausible(fetch: Fetch) -> None:
    big = {"data": b"x" * 11, "content_type": "text/plain"}
    assert fetch("/", method="post", **big).status_code == 200  # the view's answer
    assert fetch("/webhooks/a/", method="post", **big).status_code == 413
    assert tp.ASKED == []


@plugins(["PostWebhooks"], ["FeedsGet"])
def test_under_asgi_nobody_plausible_costs_no_thread_hop(
    fetch: Fetch, monkeypatch: pytest.MonkeyPatch
) -> None:
    def hops(path: str) -> int:
        with monkeypatch.context() as patch:
            counter = HopCounter(patch)
            fetch(path)
        return counter.count

    fetch("/async/")  # build first: building may hop once
    nobody = hops("/async/")
    with override_settings(HOOKPIPE={}):
        fetch("/async/")
        none_configured = hops("/async/")
    assert nobody == none_configured
    if fetch.kind == "asgi":  # type: ignore[attr-defined]
        assert hops("/feeds/async/") > nobody  # FeedsGet is asked, in the request's thread


@plugins(["PostWebhooks", "AnyRequest"])
def test_prefixes_match_path_info_not_the_script_prefix() -> None:
    Client().post("/webhooks/x/", SCRIPT_NAME="/app")
    assert tp.ASKED == ["post-webhooks", "any-request"]


def test_unfiltered_plugins_are_asked_for_every_request_as_before(fetch: Fetch) -> None:
    with plugins(["AnyRequest"], ["Everything"]):
        assert fetch("/whatever/", method="delete").json()["responder"] == "everything"  # type: ignore[attr-defined]
    assert tp.ASKED == ["any-request", "everything"]


# ------------------------------------------------------------------- listing


@plugins(["PostWebhooks", "LowerCaseMethods"], ["FeedsGet", "Everything"])
def test_describe_shows_the_prefilters() -> None:
    described = get_pipeline().describe()
    shown = {
        p["name"]: (p["methods"], p["path_prefixes"])
        for p in described["handlers"] + described["responders"]
    }
    assert shown == {
        "post-webhooks": (["POST"], ["/webhooks/"]),
        "lower-case-methods": (["PATCH", "PUT"], None),
        "feeds-get": (["GET", "HEAD"], ["/feeds/"]),
        "everything": (None, None),
    }


# -------------------------------------------------------------------- checks


@pytest.mark.parametrize(
    ("handler", "responder", "expected", "fragment"),
    [
        ("MethodsString", None, "hookpipe.E042", "is the string 'POST'"),
        ("MethodsEmpty", None, "hookpipe.E042", "is empty"),
        ("MethodsNotNames", None, "hookpipe.E042", "'GET /'"),
        ("MethodsNumber", None, "hookpipe.E042", "is a int"),
        ("PrefixesString", None, "hookpipe.E043", "trailing comma"),
        ("PrefixesEmpty", None, "hookpipe.E043", "is empty"),
        (None, "PrefixesRelative", "hookpipe.E043", "'webhooks/'"),
        (None, "PrefixesSet", "hookpipe.E043", "is a set"),
        ("NeedsContentWord", None, "hookpipe.E044", "NEEDS_CONTENT is 'no', not True or False"),
    ],
)
def test_bad_prefilters_are_check_errors_that_name_the_class(
    handler: str | None, responder: str | None, expected: str, fragment: str
) -> None:
    with plugins([handler] if handler else [], [responder] if responder else []):
        messages = check_hookpipe()
    assert [m.id for m in messages] == [expected]
    assert fragment in messages[0].msg
    assert P + (handler or responder or "") in messages[0].msg


@plugins(["PostWebhooks", "LowerCaseMethods", "TwoPrefixes"], ["FeedsGet", "FeedsAny"])
def test_good_prefilters_are_clean() -> None:
    assert check_hookpipe() == []


# --------------------------------------------------------------------- index

METHODS = ["GET", "POST", "PUT", "HEAD"]
PREFIXES = ["/", "/a", "/a/", "/a/b/", "/b/", "/ab"]
PATHS = ["/", "/a", "/a/", "/a/b/c", "/ab/", "/b/", "/b", "/c/"]


@st.composite
def filtered_plugins(draw: st.DrawFn) -> list[Filtered[int]]:
    count = draw(st.integers(0, 8))
    out = []
    for i in range(count):
        methods = draw(st.none() | st.frozensets(st.sampled_from(METHODS), min_size=1))
        prefixes = draw(st.none() | st.lists(st.sampled_from(PREFIXES), min_size=1, max_size=3))
        out.append(
            Filtered(i, draw(st.booleans()), methods, None if prefixes is None else tuple(prefixes))
        )
    return out


@given(filtered_plugins(), st.sampled_from([*METHODS, "DELETE"]), st.sampled_from(PATHS))
def test_the_index_selects_what_a_plain_filter_selects(
    found: list[Filtered[int]], method: str, path: str
) -> None:
    plausible = [
        f
        for f in found
        if (f.methods is None or method in f.methods)
        and (f.prefixes is None or any(path.startswith(p) for p in f.prefixes))
    ]
    selection = PrefilterIndex(found).select(method, path)
    if not plausible:
        assert selection is None
        return
    assert selection is not None
    assert selection.handlers == tuple(f.value for f in plausible if not f.is_responder)
    assert selection.responders == tuple(f.value for f in plausible if f.is_responder)


def test_the_index_shares_one_answer_when_no_prefix_is_involved() -> None:
    index = PrefilterIndex([Filtered("h", False), Filtered("r", True, frozenset({"GET"}))])
    assert index.select("GET", "/x") is index.select("GET", "/y")
    assert index.select("POST", "/x") is index.select("PUT", "/y")
    assert index.select("POST", "/x").responders == ()  # type: ignore[union-attr]
    assert PrefilterIndex([Filtered("r", True, frozenset({"GET"}))]).select("POST", "/") is None


def test_a_matching_path_gets_an_answer_made_at_build_time() -> None:
    # Issue 12: a matching request used to sort and build its selection per request,
    # which grew with the number of plugins; now every answer is made ahead.
    index = PrefilterIndex(
        [
            Filtered("a", False, None, ("/a/",)),
            Filtered("ab", False, None, ("/a/b/",)),
            *(Filtered(f"x{i}", False, None, (f"/x{i}/",)) for i in range(100)),
        ]
    )
    first = index.select("GET", "/a/b/c")
    assert first is index.select("GET", "/a/b/d")
    assert first is not None
    assert first.handlers == ("a", "ab")
    assert index.select("GET", "/a/c") is index.select("GET", "/a/")
    assert index.select("GET", "/a") is None
