"""``after`` pairs with the entry methods a hook defines, through real requests.

The rule (docs/hooks.rst, "Which hooks see the end of a request"): a hook that defines
``on_route`` or ``before`` gets ``after`` only when one of them ran for the request; a
hook that defines neither gets ``after`` on every request it takes part in. Each way a
request can end is tried, under WSGI and ASGI (``fetch``), with sync and async hooks:
``PairedBefore`` reads in ``after`` what its ``before`` set, so running its ``after``
alone would turn the request into a 500.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import override_settings

from tests.conftest import Fetch
from tests.testapp import hooks as th

H = "tests.testapp.hooks."
P = "tests.testapp.plugins."
PAIRED = {"sync": H + "PairedBefore", "async": H + "AsyncPairedBefore"}


@pytest.fixture(autouse=True)
def _fresh_events() -> Iterator[None]:
    th.EVENTS.clear()
    yield
    th.EVENTS.clear()


@pytest.fixture(params=["sync", "async"])
def paired(request: pytest.FixtureRequest) -> str:
    """The label of the hook that relies on its own ``before``, sync or async."""
    return "paired-before" if request.param == "sync" else "async-paired-before"


def hooks(paired: str, *more: str, **extra: Any) -> Any:
    path = PAIRED["sync" if paired == "paired-before" else "async"]
    entries = [path, H + "PairedRoute", H + "AfterOnly", *more]
    return override_settings(HOOKPIPE={"HOOKS": entries, **extra})


def test_all_goes_well_every_after_runs(fetch: Fetch, paired: str) -> None:
    with hooks(paired):
        response = fetch("/hooks/plain/")
    assert response.status_code == 200
    assert th.trace() == [
        "paired-route.on_route",
        f"{paired}.before",
        "view",
        "after-only.after",
        "paired-route.after",
        f"{paired}.after",
    ]


def test_a_responder_answered_no_before_ran(fetch: Fetch, paired: str) -> None:
    # Before the fix: PairedBefore's after ran without its before, a 500.
    with hooks(paired, RESPONDERS=[P + "Text"]):
        response = fetch("/answer/text")
    assert response.status_code == 202
    assert response.content == b"plain text"
    assert th.trace() == ["paired-route.on_route", "after-only.after", "paired-route.after"]


def test_a_per_view_hook_answered_in_before_first(fetch: Fetch, paired: str) -> None:
    # The view's guard (priority 10) answers before the global hooks' before (100) run.
    with hooks(paired):
        response = fetch("/hooks/guarded/")
    assert response.status_code == 403
    assert th.trace() == [
        "paired-route.on_route",
        "guard.before",
        "after-only.after",
        "paired-route.after",
        "guard.after",
    ]
    assert "X-Paired" not in response.headers
    assert "X-Async-Paired" not in response.headers


def test_a_before_that_answers_gets_its_after(fetch: Fetch) -> None:
    # The answering hook's before ran: it gets after; the global one behind it does not.
    with hooks("paired-before", H + "AnswersInBefore"):
        response = fetch("/hooks/plain/")
    assert response.status_code == 401
    assert th.trace() == [
        "paired-route.on_route",
        "answers.before",
        "after-only.after",
        "paired-route.after",
        "answers.after",  # priority 50: its after comes last
    ]


def test_routing_failed(fetch: Fetch, paired: str) -> None:
    with hooks(paired):
        response = fetch("/hooks/nowhere/")
    assert response.status_code == 404
    assert th.trace() == ["paired-route.on_route", "after-only.after", "paired-route.after"]


def test_the_view_raised_after_runs_for_every_before_that_ran(fetch: Fetch, paired: str) -> None:
    with hooks(paired):
        response = fetch("/hooks/plain-broken/")
    assert response.status_code == 500
    assert th.trace() == [
        "paired-route.on_route",
        f"{paired}.before",
        "view",
        "after-only.after",
        "paired-route.after",
        f"{paired}.after",
    ]
    assert th.events("after")[0].status == 500


def test_an_on_route_that_answers_still_gives_after_to_hooks_without_entry_methods(
    fetch: Fetch,
) -> None:
    answers = {
        "class": H + "Recorder",
        "options": {"label": "gate", "priority": 1, "respond_in": ["on_route"]},
    }
    with override_settings(
        HOOKPIPE={"HOOKS": [answers, H + "PairedRoute", H + "AfterOnly", H + "PairedBefore"]}
    ):
        response = fetch("/hooks/plain/")
    assert response.status_code == 200
    assert response.content == b"gate.on_route"
    # PairedRoute's on_route never ran (gate answered first); AfterOnly takes part anyway.
    assert th.trace() == ["gate.on_route", "after-only.after", "gate.after"]


def test_a_per_view_hook_without_entry_methods_gets_after_even_after_a_guard(
    fetch: Fetch,
) -> None:
    with override_settings(HOOKPIPE={}):
        response = fetch("/hooks/guarded-logged/")
    assert response.status_code == 403
    assert th.trace() == ["guard.before", "after-only.after", "guard.after"]
