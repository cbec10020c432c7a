"""``SignatureHook``: a webhook delivery's signature verified once, before any handler
sees the request.

Senders sign each delivery with a secret they share with the receiver (an HMAC-SHA256
of the body, and for some of a timestamp and an id too). Handlers cannot answer a
request, so a handler that checked the signature in ``handles()`` left the view to
check it again to answer 401. This hook checks it in ``on_route``, which runs before
the handlers and responders, and answers 401 itself; a delivery that reaches a handler
or the view has a good signature.

Three schemes, as their senders document them:

* ``"standard"``: Standard Webhooks (``webhook-id``, ``webhook-timestamp``,
  ``webhook-signature: v1,<base64>``, over ``id.timestamp.body``; secrets
  ``whsec_<base64>``), used by Svix, Clerk, Resend and others;
* ``"github"``: ``X-Hub-Signature-256: sha256=<hex>`` over the body;
* ``"stripe"``: ``Stripe-Signature: t=<timestamp>,v1=<hex>`` over ``timestamp.body``.

Several secrets may be valid at once (while one is rotated out); each comparison is
constant-time. Secrets come from the options or from an environment variable, and are
redacted wherever the hook's options are shown.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Final

from django.http import HttpResponse, HttpResponseBase

from ..context import request_id
from .api import Hook, State

logger = logging.getLogger("hookpipe")

#: Seconds a signed timestamp may be off the receiver's clock (both ways): the
#: tolerance Stripe's and Standard Webhooks' own libraries default to.
DEFAULT_TOLERANCE: Final = 300

#: A scheme's check: (headers, body, keys, now, tolerance) -> None if the signature is
#: good, else what is wrong with it (said in the 401 and the log line).
Verifier = Callable[[Mapping[str, str], bytes, tuple[bytes, ...], float, int], str | None]


def _matches(expected: str, given: str) -> bool:
    # compare_digest needs ASCII strings or bytes: a header may hold anything.
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))


def _hmac(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, payload, hashlib.sha256).digest()


def _standard(
    headers: Mapping[str, str], body: bytes, keys: tuple[bytes, ...], now: float, tolerance: int
) -> str | None:
    msg_id = headers.get("webhook-id", "")
    stamp = headers.get("webhook-timestamp", "")
    signatures = headers.get("webhook-signature", "")
    if not (msg_id and stamp and signatures):
        return "webhook-id, webhook-timestamp and webhook-signature are required"
    problem = _too_old(stamp, now, tolerance)
    if problem:
        return problem
    payload = f"{msg_id}.{stamp}.".encode() + body
    given = [value for version, _, value in (s.partition(",") for s in signatures.split())]
    for key in keys:
        expected = base64.b64encode(_hmac(key, payload)).decode()
        if any(_matches(expected, value) for value in given):
            return None
    return "webhook-signature does not match"


def _github(
    headers: Mapping[str, str], body: bytes, keys: tuple[bytes, ...], now: float, tolerance: int
) -> str | None:
    given = headers.get("X-Hub-Signature-256", "")
    if not given.startswith("sha256="):
        return "X-Hub-Signature-256 (sha256=...) is required"
    for key in keys:
        if _matches(_hmac(key, body).hex(), given[len("sha256=") :]):
            return None
    return "X-Hub-Signature-256 does not match"


def _stripe(
    headers: Mapping[str, str], body: bytes, keys: tuple[bytes, ...], now: float, tolerance: int
) -> str | None:
    fields = [part.partition("=") for part in headers.get("Stripe-Signature", "").split(",")]
    stamps = [value for name, _, value in fields if name.strip() == "t"]
    given = [value for name, _, value in fields if name.strip() == "v1"]
    if not stamps or not given:
        return "Stripe-Signature with t= and v1= is required"
    problem = _too_old(stamps[0], now, tolerance)
    if problem:
        return problem
    payload = stamps[0].encode() + b"." + body
    for key in keys:
        expected = _hmac(key, payload).hex()
        if any(_matches(expected, value) for value in given):
            return None
    return "Stripe-Signature does not match"


def _too_old(stamp: str, now: float, tolerance: int) -> str | None:
    """What is wrong with a signed timestamp (seconds since the epoch), if anything.

    A signature covers its timestamp, so an old delivery cannot be replayed with a new
    one; the tolerance bounds how long a captured delivery can be replayed as it is."""
    try:
        sent = int(stamp)
    except ValueError:
        return "the signed timestamp is not a number"
    if abs(now - sent) > tolerance:
        return f"the signed timestamp is {int(now - sent)} s off, more than {tolerance} s"
    return None


VERIFIERS: Final[Mapping[str, Verifier]] = {
    "standard": _standard,
    "github": _github,
    "stripe": _stripe,
}


def signature_options(
    scheme: str,
    paths: Iterable[str],
    secrets: Iterable[str] = (),
    secrets_env: str = "",
    tolerance: int = DEFAULT_TOLERANCE,
) -> tuple[str, tuple[str, ...], tuple[bytes, ...], int]:
    """Validate SignatureHook's options; (scheme, paths, keys, tolerance), or raise
    ``TypeError``/``ValueError`` saying what is wrong (the check reports it)."""
    if scheme not in VERIFIERS:
        raise ValueError(f"scheme must be one of {', '.join(VERIFIERS)}, not {scheme!r}")
    if isinstance(paths, str) or not isinstance(paths, Iterable):
        raise TypeError(f"paths must be a list of path prefixes, not {paths!r}")
    prefixes = tuple(paths)
    if not prefixes or not all(isinstance(p, str) and p.startswith("/") for p in prefixes):
        raise ValueError(
            f"paths must be a non-empty list of prefixes starting with /, not {list(prefixes)}"
        )
    if isinstance(secrets, str) or not isinstance(secrets, Iterable):
        raise TypeError("secrets must be a list of strings (several while one is rotated out)")
    listed = list(secrets)
    given = [s for s in listed if isinstance(s, str) and s]
    if len(given) != len(listed):
        raise TypeError("secrets must be a list of non-empty strings")
    if not isinstance(secrets_env, str):
        raise TypeError(
            f"secrets_env must be the name of an environment variable, not {secrets_env!r}"
        )
    if secrets_env:
        # Comma-separated: a secret with a comma in it goes in the settings instead.
        given += [s.strip() for s in os.environ.get(secrets_env, "").split(",") if s.strip()]
    if not given:
        where = (
            f"the environment variable {secrets_env} is empty or unset"
            if secrets_env
            else ("neither secrets nor secrets_env is given")
        )
        raise ValueError(f"no secret to verify with: {where}")
    if isinstance(tolerance, bool) or not isinstance(tolerance, int) or tolerance < 1:
        raise ValueError(f"tolerance must be a number of seconds >= 1, not {tolerance!r}")
    return scheme, prefixes, tuple(_key(scheme, s) for s in given), tolerance


def _key(scheme: str, secret: str) -> bytes:
    if scheme != "standard":
        return secret.encode()
    # Standard Webhooks secrets are base64, by convention after "whsec_".
    try:
        return base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except binascii.Error:
        raise ValueError(
            "a Standard Webhooks secret is base64 (after whsec_); one of the secrets is not"
        ) from None


class SignatureHook(Hook):
    """Answers 401 to a request under ``paths`` whose signature (``scheme``) does not
    verify with any of the secrets; lets every other request through untouched.

    ``on_route`` runs before the handlers and responders, and its priority, 0, puts it
    before the other hooks: nothing else sees a forged delivery.
    """

    # The public path, named in settings, logs and listings: hookpipe.SignatureHook.
    __module__ = "hookpipe"
    priority = 0

    def __init__(
        self,
        scheme: str,
        paths: Iterable[str],
        secrets: Iterable[str] = (),
        secrets_env: str = "",
        tolerance: int = DEFAULT_TOLERANCE,
    ) -> None:
        self.scheme, self.paths, self._keys, self.tolerance = signature_options(
            scheme, paths, secrets, secrets_env, tolerance
        )
        self._verify = VERIFIERS[self.scheme]

    def on_route(self, state: State) -> HttpResponseBase | None:
        request = state.request
        if not request.path_info.startswith(self.paths):
            return None
        problem = self._verify(
            request.headers, request.body, self._keys, time.time(), self.tolerance
        )
        if problem is None:
            return None
        logger.warning(
            "hookpipe: SignatureHook (%s) refused %s %r: %s (request %s)",
            self.scheme,
            request.method,
            request.path,
            problem,
            request_id(request),
        )
        return HttpResponse(
            f"The webhook signature was refused: {problem}.\n",
            status=401,
            content_type="text/plain; charset=utf-8",
        )
