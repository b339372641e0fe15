"""A YooKassa webhook with a wrong secret credits nothing and records nothing."""

from decimal import Decimal

import pytest

from billing.models import LedgerEntry, Payment, ProviderEvent
from tests.billing.money_helpers import notification, webhook_post
from tests.support.ledger import assert_ledger_clean, balance_of
from tests.support.users import user_create

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "secret",
    ["wrong", "test-webhook-secre", "test-webhook-secret-", "TEST-WEBHOOK-SECRET", "test-webhook-secret%00"],
)
def test_wrong_secret_is_403_and_credits_nothing(api, secret):
    # given a pending payment
    user = user_create()
    created = api.post(
        f"/api/v1/users/{user.display_ref}/payments", {"amount": "250.00"}, idempotency_key="sec-pay"
    )
    payment = Payment.objects.get(pk=created.json()["id"])
    entries_before = LedgerEntry.objects.count()

    # when a notification that would be valid arrives under a wrong secret
    response = webhook_post(notification(payment), secret=secret)

    # then it is refused as JSON, and nothing was credited or stored
    assert response.status_code in {403, 404}
    assert response.json()["error"]["code"] in {"forbidden", "not_found"}
    assert LedgerEntry.objects.count() == entries_before
    assert ProviderEvent.objects.count() == 0
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PENDING
    assert balance_of(user) == Decimal("10.00")
    # and the right secret still credits it once
    assert webhook_post(notification(payment)).status_code == 200
    assert balance_of(user) == Decimal("260.00")
    assert_ledger_clean()


def test_empty_secret_setting_refuses_every_webhook(api, settings):
    user = user_create()
    created = api.post(
        f"/api/v1/users/{user.display_ref}/payments", {"amount": "5.00"}, idempotency_key="sec-empty"
    )
    payment = Payment.objects.get(pk=created.json()["id"])
    settings.YOOKASSA_WEBHOOK_SECRET = ""
    assert webhook_post(notification(payment), secret="x").status_code == 403
    assert balance_of(user) == Decimal("10.00")
