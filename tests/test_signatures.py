"""hookpipe.SignatureHook: a delivery's signature verified once, before any handler.

Through real requests (WSGI and ASGI) to ``/webhooks/accept`` with an inline handler
that records what reached it: a good signature reaches the handler and the view; any
other gets the hook's 401 and reaches neither. The signatures are made here as each
sender's documentation describes them, independently of the hook's code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command
from django.test import override_settings

from hookpipe.checks import check_hookpipe
from tests.conftest import Fetch
from tests.testapp import plugins as tp

BODY = b'{"event": "push", "n": 1}'
URL = "/webhooks/accept"
GITHUB_SECRET = "It's a Secret to Everybody"
STRIPE_SECRET = "whsec_stripe_test_secret"
# A Standard Webhooks secret: whsec_ and the base64 of the key's bytes.
STANDARD_KEY = b"a 24-byte key for tests."
STANDARD_SECRET = "whsec_" + base64.b64encode(STANDARD_KEY).decode()


@pytest.fixture(autouse=True)
def _fresh() -> Iterator[None]:
    tp.reset()
    yield
    tp.reset()


def verified(scheme: str, **options: Any) -> Any:
    return override_settings(
        HOOKPIPE={
            "HOOKS": [
                {
                    "class": "hookpipe.SignatureHook",
                    "options": {"scheme": scheme, "paths": ["/webhooks/"], **options},
                }
            ],
            "HANDLERS": ["tests.testapp.plugins.InlineRecorder"],
        }
    )


def github_headers(secret: str, body: bytes = BODY) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}"}


def stripe_headers(secret: str, body: bytes = BODY, at: int | None = None) -> dict[str, str]:
    stamp = str(int(time.time()) if at is None else at)
    digest = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={stamp},v1={digest},v0=ignored"}


def standard_headers(key: bytes, body: bytes = BODY, at: int | None = None) -> dict[str, str]:
    msg_id, stamp = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", str(int(time.time()) if at is None else at)
    signed = f"{msg_id}.{stamp}.".encode() + body
    digest = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    # Several signatures may be sent, space-separated; one good one is enough.
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": stamp,
        "webhook-signature": f"v1,bm90IHRoaXMgb25l v1,{digest}",
    }


def post(fetch: Fetch, headers: dict[str, str], body: bytes = BODY, path: str = URL) -> Any:
    return fetch(path, "post", data=body, content_type="application/json", headers=headers)


def reached_the_handler() -> int:
    return len(tp.SEEN["inline-recorder"])


GOOD = {
    "github": ({"secrets": [GITHUB_SECRET]}, lambda: github_headers(GITHUB_SECRET)),
    "stripe": ({"secrets": [STRIPE_SECRET]}, lambda: stripe_headers(STRIPE_SECRET)),
    "standard": ({"secrets": [STANDARD_SECRET]}, lambda: standard_headers(STANDARD_KEY)),
}


@pytest.mark.parametrize("scheme", sorted(GOOD))
def test_a_good_signature_reaches_the_handler_and_the_view(fetch: Fetch, scheme: str) -> None:
    options, headers = GOOD[scheme]
    with verified(scheme, **options):
        response = post(fetch, headers())
    assert response.status_code == 202
    assert json.loads(response.content)["jobs"] == {"inline-recorder": "inline"}
    assert reached_the_handler() == 1


BAD = {
    "github, wrong secret": ("github", github_headers("not the secret")),
    "github, no header": ("github", {}),
    "github, another body's signature": ("github", github_headers(GITHUB_SECRET, b"{}")),
    "stripe, wrong secret": ("stripe", stripe_headers("whsec_other")),
    "stripe, ten minutes old": ("stripe", stripe_headers(STRIPE_SECRET, at=int(time.time()) - 600)),
    "stripe, no v1": ("stripe", {"Stripe-Signature": "t=1,v0=abc"}),
    "standard, wrong key": ("standard", standard_headers(b"another key")),
    "standard, from the future": (
        "standard",
        standard_headers(STANDARD_KEY, at=int(time.time()) + 3600),
    ),
    "standard, no webhook-id": ("standard", {"webhook-signature": "v1,abc"}),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_signature_gets_401_and_reaches_nothing(
    fetch: Fetch, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    scheme, headers = BAD[case]
    options, _ = GOOD[scheme]
    with verified(scheme, **options):
        response = post(fetch, headers)
    assert response.status_code == 401
    assert response["Content-Type"].startswith("text/plain")
    assert b"The webhook signature was refused" in response.content
    assert reached_the_handler() == 0
    assert f"SignatureHook ({scheme}) refused POST '/webhooks/accept'" in caplog.text


def test_while_a_secret_is_rotated_both_verify(fetch: Fetch) -> None:
    with verified("github", secrets=["the new one", GITHUB_SECRET]):
        old = post(fetch, github_headers(GITHUB_SECRET))
        new = post(fetch, github_headers("the new one"))
        other = post(fetch, github_headers("neither"))
    assert (old.status_code, new.status_code, other.status_code) == (202, 202, 401)


def test_secrets_may_come_from_the_environment(
    fetch: Fetch, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEBHOOK_SECRETS", f" {STRIPE_SECRET} , whsec_next")
    with verified("stripe", secrets_env="WEBHOOK_SECRETS"):
        good = post(fetch, stripe_headers(STRIPE_SECRET))
        next_one = post(fetch, stripe_headers("whsec_next"))
        bad = post(fetch, stripe_headers("whsec_other"))
    assert (good.status_code, next_one.status_code, bad.status_code) == (202, 202, 401)


def test_paths_outside_the_prefixes_are_not_verified(fetch: Fetch) -> None:
    with verified("github", secrets=[GITHUB_SECRET], paths=["/webhooks/github/"]):
        response = post(fetch, {})
    assert response.status_code == 202  # /webhooks/accept is not under the prefix
    assert reached_the_handler() == 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"scheme": "gitlab", "secrets": ["s"]}, "scheme must be one of standard, github"),
        ({"scheme": "github"}, "neither secrets nor secrets_env is given"),
        ({"scheme": "github", "secrets_env": "HOOKPIPE_TEST_UNSET"}, "HOOKPIPE_TEST_UNSET"),
        ({"scheme": "github", "secrets": "one"}, "secrets must be a list"),
        ({"scheme": "standard", "secrets": ["whsec_not base64!"]}, "is base64"),
        ({"scheme": "stripe", "secrets": ["s"], "tolerance": 0}, "tolerance must be"),
        ({"scheme": "github", "secrets": ["s"], "paths": ["webhooks/"]}, "starting with /"),
    ],
)
def test_bad_options_are_a_check_error(options: dict[str, Any], message: str) -> None:
    entry = {"class": "hookpipe.SignatureHook", "options": {"paths": ["/webhooks/"], **options}}
    with override_settings(HOOKPIPE={"HOOKS": [entry]}):
        found = [e for e in check_hookpipe() if e.id == "hookpipe.E027"]
    assert len(found) == 1
    assert message in found[0].msg


def test_the_listing_never_shows_the_secrets() -> None:
    with verified("github", secrets=[GITHUB_SECRET]):
        out = io.StringIO()
        call_command("hookpipe", "--json", stdout=out)
    listed = json.loads(out.getvalue())
    hook = next(h for h in listed["hooks"] if h["name"] == "SignatureHook")
    assert hook["class"] == "hookpipe.SignatureHook"
    assert hook["options"]["secrets"] == "[redacted]"
    assert GITHUB_SECRET not in out.getvalue()
