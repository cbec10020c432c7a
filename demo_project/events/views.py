"""The one view of the events app: where webhooks are delivered."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from hookpipe import context_of


@csrf_exempt  # webhooks come from other systems, with no CSRF cookie
@require_POST
def webhook(request: HttpRequest, source: str) -> JsonResponse:
    """Answer ``202`` only when the ``webhook-store`` handler took the delivery, ``200``
    to a redelivery of one it stored already (same ``webhook-id``).

    As a task (the demo's default), its job is then stored as the response leaves;
    should storing fail, hookpipe answers 503 instead, so a 202 always means stored.
    A delivery it did not take (a wrong token) gets a 403. While an operator has the
    handler switched off, or a full pool refused its job, a 503 with ``Retry-After``
    asks the sender to deliver it again later. The request id lets you find the event
    in the admin, and the handler's log lines.
    """
    ctx = context_of(request)
    job = ctx.job("webhook-store")
    body = {"source": source, "request_id": ctx.request_id, "job": job}
    if job in ("pending", "pool", "inline"):  # a task job, or the pool when so configured
        return JsonResponse({"accepted": True, **body}, status=202)
    if job == "duplicate":  # this webhook-id was stored already: safe, nothing to redo
        return JsonResponse({"accepted": True, **body}, status=200)
    if job in ("switched_off", "rejected"):  # switched off, or the pool was full
        response = JsonResponse({"accepted": False, **body}, status=503)
        response["Retry-After"] = "60"
        return response
    return JsonResponse({"accepted": False, **body}, status=403)
