"""Provider webhooks: plain Django views answering JSON (never HTML), outside the bot API's key auth.

YooKassa proves itself by the secret in the URL (compared in constant time). Every notification that
passes the secret is kept in the provider event inbox before it is processed, so operators can audit
what arrived, what was credited and what was refused.
"""

import hmac
import json
import logging
from typing import Any, Literal

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from pydantic import BaseModel, Field, ValidationError

from billing import services
from billing.models import Payment, ProviderEvent
from core.errors import DomainError, error_body
from core.schemas import Money

logger = logging.getLogger(__name__)

Outcome = ProviderEvent.Outcome
HANDLED_EVENTS = ("payment.succeeded", "payment.canceled", "refund.succeeded")


class YooKassaAmount(BaseModel):
    value: Money
    currency: str = Field(..., min_length=3, max_length=8)


class YooKassaObject(BaseModel):
    id: str = Field(..., min_length=1, max_length=128)
    status: str = Field(..., max_length=32)
    amount: YooKassaAmount
    metadata: dict[str, Any] = Field(default_factory=dict)


class YooKassaNotification(BaseModel):
    type: Literal["notification"]
    event: str = Field(..., min_length=1, max_length=64)
    object: YooKassaObject


def _error(status: int, code: str, message: str, details: dict | None = None) -> JsonResponse:
    return JsonResponse(error_body(code, message, details), status=status)


def _parse(body: bytes) -> tuple[YooKassaNotification | None, dict[str, str]]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None, {"body": "not valid JSON"}
    try:
        notification = YooKassaNotification.model_validate(data)
    except ValidationError as exc:
        details = {".".join(str(part) for part in err["loc"]) or "body": err["msg"] for err in exc.errors()}
        return None, details
    expected_status = {
        "payment.succeeded": "succeeded",
        "payment.canceled": "canceled",
        "refund.succeeded": "succeeded",
    }.get(notification.event)
    if expected_status and notification.object.status != expected_status:
        return None, {"object.status": f"must be {expected_status!r} for {notification.event}"}
    return notification, {}


@csrf_exempt
def yookassa_webhook(request: HttpRequest, secret: str) -> JsonResponse:
    if request.method != "POST":
        return JsonResponse(
            error_body("method_not_allowed", "Use POST."), status=405, headers={"Allow": "POST"}
        )
    expected = settings.YOOKASSA_WEBHOOK_SECRET
    if not expected or not hmac.compare_digest(secret.encode(), expected.encode()):
        logger.warning("YooKassa webhook with a wrong secret from %s", request.META.get("REMOTE_ADDR"))
        return _error(403, "forbidden", "Wrong webhook secret.")
    try:
        body = request.body
    except RequestDataTooBig:
        return _error(413, "payload_too_large", "The notification body is too large.")
    event = services.provider_event_record(
        provider=Payment.Provider.YOOKASSA,
        body=body.decode("utf-8", "replace").replace("\x00", "\ufffd"),
        remote_addr=request.META.get("REMOTE_ADDR"),
    )
    notification, problems = _parse(body)
    if notification is None:
        services.provider_event_mark(
            event_id=event.pk, outcome=Outcome.MALFORMED, detail=json.dumps(problems)
        )
        return _error(
            422, "validation_error", "The notification is not a valid YooKassa notification.", problems
        )
    if notification.event not in HANDLED_EVENTS:
        services.provider_event_mark(
            event_id=event.pk,
            outcome=Outcome.IGNORED,
            detail="not handled",
            event_type=notification.event,
            provider_payment_id=notification.object.id,
        )
        return JsonResponse({"status": "ignored", "event": event.pk})
    try:
        problem = services.yookassa_notification_verify(
            event_type=notification.event,
            provider_payment_id=notification.object.id,
            amount=notification.object.amount.value,
            currency=notification.object.amount.currency,
        )
    except DomainError as exc:
        # Transient: YooKassa retries the notification later; the event stays `received`.
        services.provider_event_mark(
            event_id=event.pk,
            outcome=Outcome.RECEIVED,
            detail=exc.message,
            event_type=notification.event,
            provider_payment_id=notification.object.id,
        )
        return _error(exc.status, exc.code, exc.message)
    if problem:
        services.provider_event_mark(
            event_id=event.pk,
            outcome=Outcome.MISMATCH,
            detail=problem,
            event_type=notification.event,
            provider_payment_id=notification.object.id,
        )
        logger.warning("YooKassa notification %s not applied: %s", event.pk, problem)
        return _error(409, "conflict", "The notification disagrees with YooKassa; nothing was applied.")
    if notification.event == "refund.succeeded":
        outcome, applied = services.yookassa_refund_notification_apply(
            event_id=event.pk,
            provider_refund_id=notification.object.id,
            amount=notification.object.amount.value,
            currency=notification.object.amount.currency,
        )
        # An unknown refund may be one whose id Botdesk has not stored yet: YooKassa retries (404).
        return _outcome_response(outcome, event.pk, notification, applied, kind="refund")
    outcome, applied = services.yookassa_notification_apply(
        event_id=event.pk,
        event_type=notification.event,
        provider_payment_id=notification.object.id,
        amount=notification.object.amount.value,
        currency=notification.object.amount.currency,
        metadata_payment_id=str(notification.object.metadata.get("payment_id", "")),
    )
    return _outcome_response(outcome, event.pk, notification, applied, kind="payment")


def _outcome_response(
    outcome: str, event_id: int, notification: YooKassaNotification, applied, *, kind: str
) -> JsonResponse:
    """The webhook's answer: 200 for every applied or known notification, 404 unknown, 409 mismatch."""
    if outcome == Outcome.UNKNOWN_PAYMENT:
        return _error(404, "not_found", f"No {kind} with this id.", {"object.id": notification.object.id})
    if outcome == Outcome.MISMATCH:
        return _error(
            409,
            "conflict",
            f"Amount or currency differ from the {kind}'s; nothing was applied.",
            {"amount": f"{applied.amount:.2f} {applied.currency} expected"},
        )
    return JsonResponse({"status": outcome, "event": event_id, kind: applied.pk})
