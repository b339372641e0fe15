"""Helpers for the payments, promo and subscription tests."""

import json

from django.conf import settings
from django.test import Client

from billing.models import LedgerEntry, Payment


def notification(payment: Payment, *, event: str = "payment.succeeded", amount=None, currency=None) -> dict:
    status = {"payment.succeeded": "succeeded", "payment.canceled": "canceled"}.get(event, "pending")
    return {
        "type": "notification",
        "event": event,
        "object": {
            "id": payment.provider_payment_id,
            "status": status,
            "amount": {"value": str(amount or payment.amount), "currency": currency or payment.currency},
            "metadata": {"user_id": str(payment.user_id)},
        },
    }


def webhook_post(body, *, secret: str | None = None, client: Client | None = None):
    client = client or Client()
    secret = secret if secret is not None else settings.YOOKASSA_WEBHOOK_SECRET
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(f"/webhooks/yookassa/{secret}", data=data, content_type="application/json")


def entries_count() -> int:
    return LedgerEntry.objects.count()


def paid_stars(api, user, stars=100, charge="tg-charge-1") -> Payment:
    """A Telegram Stars top-up credited through the API (201), as the bot reports one."""
    body = {
        "user": user.display_ref,
        "telegram_payment_charge_id": charge,
        "currency": "XTR",
        "total_amount": stars,
        "invoice_payload": "p",
    }
    response = api.post("/api/v1/payments/telegram-stars", body)
    assert response.status_code == 201, response.content
    return Payment.objects.get(pk=response.json()["id"])


def refund_notification(refund_body: dict, *, amount=None) -> dict:
    """What YooKassa sends when the refund of an API answer `refund_body` succeeded (`amount`: another sum)."""
    return {
        "type": "notification",
        "event": "refund.succeeded",
        "object": {
            "id": refund_body["provider_refund_id"],
            "payment_id": "whatever",
            "status": "succeeded",
            "amount": {"value": amount or refund_body["amount"], "currency": refund_body["currency"]},
            "created_at": "2026-12-01T10:00:00.000Z",
        },
    }
