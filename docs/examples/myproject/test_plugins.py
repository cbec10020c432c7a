"""Tests of myproject's plugins, written with hookpipe's test helpers (docs/testing.rst)."""

from __future__ import annotations

import json

import pytest
from django.core import mail
from django.test import Client

from hookpipe import PluginConfigError, PluginTester, build_plugin, snapshot_of
from myproject.plugins import SignedWebhook, signature

SECRET = "s3cret"


def test_the_secret_is_required() -> None:
    with pytest.raises(PluginConfigError, match="needs a value for SECRET"):
        build_plugin(SignedWebhook)


def test_recipients_must_be_a_list() -> None:
    with pytest.raises(PluginConfigError) as caught:
        build_plugin(SignedWebhook, {"SECRET": SECRET, "RECIPIENTS": "ops@example.com"})
    assert caught.value.ids == ["hookpipe.E039"]
    assert "must be list, not str" in str(caught.value)


def test_values_from_the_environment() -> None:
    webhook = build_plugin(
        SignedWebhook,
        environ={
            "HOOKPIPE_SIGNED_WEBHOOK_SECRET": SECRET,
            "HOOKPIPE_SIGNED_WEBHOOK_RECIPIENTS": "a@example.com,b@example.com",
        },
    )
    assert webhook.config.RECIPIENTS == ["a@example.com", "b@example.com"]
    assert webhook.config.sources["SECRET"] == "env HOOKPIPE_SIGNED_WEBHOOK_SECRET"


def test_handles_only_signed_deliveries(hookpipe_tester: PluginTester) -> None:
    webhook = build_plugin(SignedWebhook, {"SECRET": SECRET})
    body = b'{"type": "push"}'
    signed = hookpipe_tester.request(
        "POST",
        "/webhooks/",
        body,
        content_type="application/json",
        headers={"X-Signature": signature(SECRET, body)},
    )
    forged = hookpipe_tester.request(
        "POST", "/webhooks/", body, content_type="application/json", headers={"X-Signature": "0"}
    )
    assert webhook.handles(signed, body)
    assert not webhook.handles(forged, body)


def test_handle_mails_the_event(hookpipe_tester: PluginTester) -> None:
    webhook = build_plugin(SignedWebhook, {"SECRET": SECRET, "RECIPIENTS": ["dev@example.com"]})
    request = hookpipe_tester.request(
        "POST", "/webhooks/", {"type": "push"}, content_type="application/json"
    )
    snapshot = snapshot_of(request)  # what the pool would hand to handle()
    webhook.handle(snapshot, snapshot.content)
    [message] = mail.outbox
    assert message.subject == "webhook: push"
    assert message.to == ["dev@example.com"]


def test_a_signed_delivery_runs_both_handlers(hookpipe_tester: PluginTester) -> None:
    hookpipe_tester.configure(
        HANDLERS=["myproject.plugins.SignedWebhook", "myproject.plugins.AuditTrail"],
        PLUGINS={"signed-webhook": {"SECRET": SECRET}},
    )
    body = json.dumps({"type": "push"}).encode()
    request = hookpipe_tester.request(
        "POST",
        "/webhooks/?attempt=2",
        body,
        content_type="application/json",
        headers={"X-Signature": signature(SECRET, body)},
    )
    jobs = hookpipe_tester.run_handlers(request)
    jobs.raise_errors()  # a handler that raised fails the test with its traceback
    assert jobs.names == ["signed-webhook", "audit-trail"]
    snapshot = jobs.named("signed-webhook").snapshot
    assert snapshot.param("attempt") == "2"
    assert snapshot.json() == {"type": "push"}
    assert jobs.named("audit-trail").runner == "inline"
    assert len(mail.outbox) == 1


def test_an_unsigned_delivery_is_only_audited(hookpipe_tester: PluginTester) -> None:
    hookpipe_tester.configure(
        HANDLERS=["myproject.plugins.SignedWebhook", "myproject.plugins.AuditTrail"],
        PLUGINS={"signed-webhook": {"SECRET": SECRET}},
    )
    request = hookpipe_tester.request("POST", "/webhooks/", b"{}", content_type="text/plain")
    jobs = hookpipe_tester.run_handlers(request)
    assert jobs.asked == ("signed-webhook", "audit-trail")  # the prefilters let both by
    assert jobs.names == ["audit-trail"]  # only one said yes
    assert mail.outbox == []


def test_ping_streams_pong(hookpipe_tester: PluginTester) -> None:
    hookpipe_tester.configure(RESPONDERS=["myproject.plugins.Ping"])
    response = Client().get("/ping")  # a real request through the whole pipeline
    assert response.status_code == 200
    assert response.getvalue() == b"pong\n"  # the streamed chunks, joined
