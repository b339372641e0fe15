"""Helpers for the payments, promo and subscription tests."""

import json
from decimal import Decimal

from django.conf import settings
from django.test import Client

from accounts.models import EndUser
from billing.checks import ledger_invariants_check
from billing.models import Account, LedgerEntry, Payment
from tests.billing.factories import account_of


def assert_ledger_clean() -> None:
    failures = [
        (result.invariant, result.detail, result.samples)
        for result in ledger_invariants_check()
        if not result.ok
    ]
    assert failures == []


def balance_of(user: EndUser, currency: str | None = None) -> Decimal:
    account = Account.objects.filter(
        kind=Account.Kind.USER, owner=user, currency=currency or settings.DEFAULT_CURRENCY
    ).first()
    return account.balance if account else Decimal("0.00")


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


__all__ = ["account_of", "assert_ledger_clean", "balance_of", "entries_count", "notification", "webhook_post"]
