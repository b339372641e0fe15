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
