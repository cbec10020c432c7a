"""The one view of the events app: where webhooks are delivered."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST


@csrf_exempt  # webhooks come from other systems, with no CSRF cookie
@require_POST
def webhook(request: HttpRequest, source: str) -> JsonResponse:
    """Answer at once; the ``webhook-store`` handler stores the event in the background.

    The answer is the same whether or not the handler took the delivery (a wrong token,
    an unknown source): the sender learns nothing about the checks. The request id lets
    you find the event in the admin, and the handler's log lines.
    """
    return JsonResponse(
        {"accepted": True, "source": source, "request_id": request.hookpipe.request_id},  # type: ignore[attr-defined]
        status=202,
    )
