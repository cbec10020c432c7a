"""The tweens and chain handlers in docs/examples/tweens.py do what the pages say.

The quickstart and "Coming from Tangled" include these functions with
``literalinclude``; each test here configures one as the docs show and sends real
requests through it (``fetch``: WSGI and ASGI).
"""

from __future__ import annotations

import json
import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import override_settings

from .conftest import Fetch

X = "docs.examples.tweens."


@override_settings(HOOKPIPE={"TWEENS": [X + "request_id_factory"]})
def test_request_id_factory_sets_or_keeps_the_request_id(fetch: Fetch) -> None:
    made = fetch("/")["X-Request-Id"]
    assert re.fullmatch(r"[0-9a-f]{32}", made)
    assert fetch("/", headers={"X-Request-Id": "abc-123"})["X-Request-Id"] == "abc-123"


@override_settings(
    HOOKPIPE={
        "TWEENS": [{"factory": X + "request_id_factory", "options": {"header": "X-Correlation-Id"}}]
    }
)
def test_request_id_factory_takes_its_header_from_options(fetch: Fetch) -> None:
    response = fetch("/", headers={"X-Correlation-Id": "from-the-caller"})
    assert response["X-Correlation-Id"] == "from-the-caller"
    assert "X-Request-Id" not in response


@pytest.mark.parametrize("factory", ["timing_factory", "async_timing_factory"])
def test_timing_tweens_add_server_timing(fetch: Fetch, factory: str) -> None:
    with override_settings(DEBUG=True, HOOKPIPE={"TWEENS": [X + factory]}):
        response = fetch("/")
    assert re.fullmatch(r"app;dur=\d+\.\d", response["Server-Timing"])


def test_timing_factory_leaves_itself_out_without_debug(fetch: Fetch) -> None:
    with override_settings(DEBUG=False, HOOKPIPE={"TWEENS": [X + "timing_factory"]}):
        assert "Server-Timing" not in fetch("/")
        out = StringIO()
        call_command("hookpipe", "--json", stdout=out)
    [tween] = json.loads(out.getvalue())["tweens"]
    assert tween["omitted"] is True


@pytest.mark.parametrize("factory", ["MaintenanceTween", "AsyncMaintenanceTween"])
def test_maintenance_tweens_answer_503_except_for_allowed_paths(fetch: Fetch, factory: str) -> None:
    with override_settings(MAINTENANCE_MODE=True, HOOKPIPE={"TWEENS": [X + factory]}):
        closed = fetch("/")
        allowed = fetch("/admin/login/")
    assert (closed.status_code, closed["Retry-After"]) == (503, "120")
    assert closed.content == b"Back soon."
    assert allowed.status_code == 200
    with override_settings(MAINTENANCE_MODE=False, HOOKPIPE={"TWEENS": [X + factory]}):
        assert fetch("/").status_code == 200


@pytest.mark.parametrize("handler", ["require_api_key", "async_require_api_key"])
def test_require_api_key_guards_the_api(fetch: Fetch, handler: str) -> None:
    with override_settings(
        API_KEYS=("k-one", "k-two"), HOOKPIPE={"TWEENS": [{"handler": X + handler}]}
    ):
        missing = fetch("/api/orders/")
        wrong = fetch("/api/orders/", headers={"X-Api-Key": "k-three"})
        # A known key gets past the handler to Django, which has no such URL here.
        known = fetch("/api/orders/", headers={"X-Api-Key": "k-two"})
        elsewhere = fetch("/")
    assert missing.status_code == wrong.status_code == 401
    assert json.loads(missing.content) == {"error": "missing or unknown API key"}
    assert known.status_code == 404
    assert elsewhere.status_code == 200
