"""54-FZ receipts (YOOKASSA_RECEIPTS): what the API requires, what goes to YooKassa, what the fake refuses."""

from decimal import Decimal

import pytest

from billing.models import Payment
from billing.providers.yookassa import receipt_build, receipt_problems
from tests.billing.money_helpers import notification, webhook_post
from tests.support.ledger import assert_ledger_clean
from tests.support.users import user_create

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _receipts_on(settings):
    settings.YOOKASSA_RECEIPTS = True
    settings.YOOKASSA_VAT_CODE = 1
    yield
    assert_ledger_clean()


def pay(api, user, key="k", **body):
    return api.post(
        f"/api/v1/users/{user.display_ref}/payments", {"amount": "150.00", **body}, idempotency_key=key
    )


def test_a_payment_without_email_or_phone_is_422_naming_the_fields(api):
    user = user_create()

    response = pay(api, user)

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert {"customer_email", "customer_phone"} <= set(error["details"])
    assert Payment.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"customer_email": "not-an-email"}, "customer_email"),
        ({"customer_phone": "12-34"}, "customer_phone"),
        ({"customer_phone": "7900123456789012"}, "customer_phone"),
    ],
)
def test_a_malformed_email_or_phone_is_422_naming_it(api, body, field):
    response = pay(api, user_create(), **body)

    assert response.status_code == 422
    assert field in response.json()["error"]["details"]
    assert Payment.objects.count() == 0


def test_the_receipt_goes_to_yookassa_with_the_payment_and_the_refund(api, settings, yookassa_live):
    # given VAT code 4 and a buyer who gave a phone
    settings.YOOKASSA_VAT_CODE = 4
    user = user_create()

    # when the bot opens a payment, it is paid, and part of it is refunded
    created = pay(api, user, customer_phone="+79001234567", description="100 credits")
    assert created.status_code == 201, created.content
    payment = Payment.objects.get(pk=created.json()["id"])
    for state in yookassa_live.payments.values():
        state["status"] = "succeeded"
    webhook_post(notification(payment))
    refund = api.post(f"/api/v1/payments/{payment.pk}/refunds", {"amount": "50.00"}, idempotency_key="r")
    assert refund.status_code == 201, refund.content

    # then each request carried its 54-FZ receipt
    (payment_request,) = yookassa_live.posts("/payments")
    (refund_request,) = yookassa_live.posts("/refunds")
    item = {
        "description": "100 credits",
        "quantity": "1.00",
        "vat_code": 4,
        "payment_subject": "service",
        "payment_mode": "full_payment",
    }
    assert payment_request[2]["receipt"] == {
        "customer": {"phone": "79001234567"},
        "items": [{**item, "amount": {"value": "150.00", "currency": "RUB"}}],
    }
    refund_receipt = refund_request[2]["receipt"]
    assert refund_receipt["customer"] == {"phone": "79001234567"}
    assert refund_receipt["items"][0]["amount"] == {"value": "50.00", "currency": "RUB"}
    assert refund_receipt["items"][0] == {**item, "amount": {"value": "50.00", "currency": "RUB"}}


def test_the_fake_provider_refuses_a_receipt_yookassa_would_refuse(api, settings):
    settings.YOOKASSA_VAT_CODE = 99
    user = user_create()

    response = pay(api, user, customer_email="buyer@example.com")
    replay = pay(api, user, customer_email="buyer@example.com")

    assert response.status_code == 422
    assert response.json()["error"]["details"] == {"receipt.items.0.vat_code": "1 to 12"}
    assert replay.content == response.content
    # the intent is closed: nothing was charged and nothing can credit it
    assert Payment.objects.get().status == Payment.Status.CANCELED


def test_without_receipts_no_contact_is_needed_and_no_receipt_is_sent(api, settings, yookassa_live):
    settings.YOOKASSA_RECEIPTS = False

    assert pay(api, user_create()).status_code == 201
    (request,) = yookassa_live.posts("/payments")
    assert "receipt" not in request[2]


def test_receipt_problems_is_what_yookassa_checks():
    receipt = receipt_build(
        customer={"email": "a@b.ru"}, description="x", amount=Decimal("10.00"), currency="RUB"
    )
    assert receipt_problems(receipt, amount=Decimal("10.00"), currency="RUB") == {}
    assert "receipt.items.amount" in receipt_problems(receipt, amount=Decimal("11.00"), currency="RUB")
    assert "receipt.items.0.amount.currency" in receipt_problems(
        receipt, amount=Decimal("10.00"), currency="USD"
    )
    assert "receipt.customer" in receipt_problems(
        {**receipt, "customer": {}}, amount=Decimal("10.00"), currency="RUB"
    )
    bad_item = {**receipt["items"][0], "payment_mode": "whenever", "description": ""}
    problems = receipt_problems({**receipt, "items": [bad_item]}, amount=Decimal("10.00"), currency="RUB")
    assert {"receipt.items.0.payment_mode", "receipt.items.0.description"} <= set(problems)
