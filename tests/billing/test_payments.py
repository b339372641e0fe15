"""Payments: creation through YooKassa (fake mode), the webhook, referral rewards."""

from decimal import Decimal

import pytest

from accounts.services import end_user_upsert
from billing.models import EntryType, LedgerEntry, Payment, ProviderEvent, ReferralReward
from tests.billing.money_helpers import entries_count, notification, webhook_post
from tests.support.ledger import assert_ledger_clean, balance_of
from tests.support.users import user_create

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("ledger_clean_after")]


def payment_open(api, user, amount="100.00", key="pay-1", **extra):
    return api.post(
        f"/api/v1/users/{user.display_ref}/payments", {"amount": amount, **extra}, idempotency_key=key
    )


def test_create_payment_answers_pending_with_confirmation_url(api):
    user = user_create()

    response = payment_open(api, user, "150.50")

    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "pending"
    assert body["provider"] == "yookassa"
    assert body["amount"] == "150.50"
    assert body["currency"] == "RUB"
    assert body["provider_payment_id"].startswith("fake-")
    assert body["confirmation_url"].startswith("https://")
    assert api.get(f"/api/v1/payments/{body['id']}").json() == body
    assert balance_of(user) == Decimal("10.00"), "nothing is credited before the webhook"


def test_create_payment_requires_idempotency_key(api):
    user = user_create()
    response = api.post(f"/api/v1/users/{user.display_ref}/payments", {"amount": "10.00"})
    assert response.status_code == 422
    assert response.json()["error"]["details"] == {"Idempotency-Key": "required"}
    assert Payment.objects.count() == 0


def test_create_payment_replay_is_identical_and_creates_one(api):
    user = user_create()
    first = payment_open(api, user, key="same")
    second = payment_open(api, user, key="same")
    assert (second.status_code, second.json()) == (first.status_code, first.json())
    assert Payment.objects.count() == 1
    reused = payment_open(api, user, amount="99.00", key="same")
    assert reused.status_code == 409
    assert reused.json()["error"]["code"] == "idempotency_key_reused"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": "-5.00"}, "amount"),
        ({"amount": "0"}, "amount"),
        ({"amount": "0.00"}, "amount"),
        ({"amount": "10.005"}, "amount"),
        ({"amount": "abc"}, "amount"),
        ({"amount": 10.5, "provider": "paypal"}, "provider"),
        ({"amount": "10.00", "currency": "XXX"}, "currency"),
        ({"amount": "10.00", "currency": "TOKENS"}, "currency"),
        ({}, "amount"),
    ],
)
def test_create_payment_bad_input_is_422_and_writes_nothing(api, body, field):
    user = user_create()
    before = entries_count()
    response = api.post(f"/api/v1/users/{user.display_ref}/payments", body, idempotency_key=f"k-{field}")
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["details"]
    assert Payment.objects.count() == 0
    assert entries_count() == before


def test_payment_detail_unknown_or_foreign_id_is_404(api):
    for payment_id in ("999999", "abc", "fake-123", "-1", "1" * 30):
        response = api.get(f"/api/v1/payments/{payment_id}")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


def test_payment_for_unknown_user_is_404(api):
    response = api.post("/api/v1/users/424242/payments", {"amount": "10.00"}, idempotency_key="x")
    assert response.status_code == 404
    assert Payment.objects.count() == 0


# --- webhook -------------------------------------------------------------------------------------


def test_succeeded_webhook_credits_once_and_replays_are_200(api):
    user = user_create()
    payment = Payment.objects.get(pk=payment_open(api, user, "100.00").json()["id"])

    first = webhook_post(notification(payment))
    replay = webhook_post(notification(payment))

    assert first.status_code == 200
    assert first.json()["status"] == "credited"
    assert replay.status_code == 200
    assert replay.json()["status"] == "duplicate"
    payment.refresh_from_db()
    assert payment.status == "succeeded"
    assert payment.resolved_at is not None
    assert balance_of(user) == Decimal("110.00")
    entry = LedgerEntry.objects.get(type=EntryType.TOPUP)
    assert (entry.reference, entry.amount) == (f"payment:{payment.pk}", Decimal("100.00"))
    assert list(ProviderEvent.objects.order_by("pk").values_list("outcome", flat=True)) == [
        "credited",
        "duplicate",
    ]
    assert api.get(f"/api/v1/payments/{payment.pk}").json()["status"] == "succeeded"
    assert_ledger_clean()


@pytest.mark.parametrize(("amount", "currency"), [("100.01", "RUB"), ("99.99", "RUB"), ("100.00", "USD")])
def test_webhook_with_other_amount_or_currency_is_recorded_not_credited(api, amount, currency):
    user = user_create()
    payment = Payment.objects.get(pk=payment_open(api, user, "100.00").json()["id"])

    response = webhook_post(notification(payment, amount=amount, currency=currency))

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"
    payment.refresh_from_db()
    assert payment.status == "pending"
    assert balance_of(user) == Decimal("10.00")
    event = ProviderEvent.objects.get()
    assert event.outcome == "mismatch"
    assert event.payment_id == payment.pk
    assert "100.00 RUB" in event.detail
    assert_ledger_clean()


def test_canceled_webhook_marks_canceled_and_a_later_success_is_not_credited(api):
    user = user_create()
    payment = Payment.objects.get(pk=payment_open(api, user).json()["id"])

    canceled = webhook_post(notification(payment, event="payment.canceled"))
    late_success = webhook_post(notification(payment))

    assert canceled.status_code == 200
    assert canceled.json()["status"] == "canceled"
    assert late_success.status_code == 200
    assert late_success.json()["status"] == "ignored"
    payment.refresh_from_db()
    assert payment.status == "canceled"
    assert balance_of(user) == Decimal("10.00")
    assert_ledger_clean()


def test_webhook_wrong_secret_is_403_and_stores_nothing(api):
    user = user_create()
    payment = Payment.objects.get(pk=payment_open(api, user).json()["id"])
    response = webhook_post(notification(payment), secret="wrong")
    assert response.status_code == 403
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "forbidden"
    assert ProviderEvent.objects.count() == 0
    assert Payment.objects.get().status == "pending"


@pytest.mark.parametrize(
    "body",
    [
        "not json at all",
        "[]",
        '{"type": "notification"}',
        '{"type": "notification", "event": "payment.succeeded", "object": {"id": "x", "status": "succeeded"}}',
        '{"type": "other", "event": "payment.succeeded", "object": {"id": "x", "status": "succeeded",'
        ' "amount": {"value": "1.00", "currency": "RUB"}}}',
    ],
)
def test_malformed_webhook_is_422_kept_and_credits_nothing(api, body):
    before = entries_count()
    response = webhook_post(body)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"
    event = ProviderEvent.objects.get()
    assert (event.outcome, event.body) == ("malformed", body)
    assert entries_count() == before


def test_webhook_status_contradicting_the_event_is_malformed(api):
    user = user_create()
    payment = Payment.objects.get(pk=payment_open(api, user).json()["id"])
    body = notification(payment)
    body["object"]["status"] = "pending"
    assert webhook_post(body).status_code == 422
    assert Payment.objects.get().status == "pending"


def test_webhook_unknown_payment_is_404_and_kept(api):
    user = user_create()
    payment = Payment(provider_payment_id="never-created", amount=Decimal("5.00"), currency="RUB", user=user)
    before = entries_count()
    response = webhook_post(notification(payment))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert ProviderEvent.objects.get().outcome == "unknown_payment"
    assert entries_count() == before


def test_webhook_unhandled_event_is_200_ignored(api):
    user = user_create()
    payment = Payment.objects.get(pk=payment_open(api, user).json()["id"])
    response = webhook_post(notification(payment, event="payment.waiting_for_capture"))
    assert response.status_code == 200
    assert ProviderEvent.objects.get().outcome == "ignored"
    assert Payment.objects.get().status == "pending"


def test_webhook_get_is_json_405(client):
    response = client.get("/webhooks/yookassa/test-webhook-secret")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


# --- referral rewards ----------------------------------------------------------------------------


def test_each_top_up_of_a_referred_user_rewards_the_referrer_once(api, settings):
    settings.REFERRAL_REWARD_PERCENT = Decimal("10")
    referrer = user_create()
    referred, _ = end_user_upsert(ref="777000111", profile={}, referrer_ref=referrer.display_ref)
    payments = [
        Payment.objects.get(pk=payment_open(api, referred, amount, key=f"p{index}").json()["id"])
        for index, amount in enumerate(["100.00", "55.55"])
    ]

    for payment in payments:
        webhook_post(notification(payment))
        webhook_post(notification(payment))

    # 10% of 100.00 and 10% of 55.55 rounded down (5.555 -> 5.55)
    assert balance_of(referrer) == Decimal("10.00") + Decimal("10.00") + Decimal("5.55")
    assert ReferralReward.objects.count() == 2
    assert LedgerEntry.objects.filter(type=EntryType.REFERRAL_REWARD).count() == 2
    assert_ledger_clean()


def test_top_up_of_a_user_without_referrer_rewards_nobody(api):
    user = user_create()
    payment = Payment.objects.get(pk=payment_open(api, user).json()["id"])
    webhook_post(notification(payment))
    assert ReferralReward.objects.count() == 0
    assert not LedgerEntry.objects.filter(type=EntryType.REFERRAL_REWARD).exists()


# --- live mode: the notification is checked against YooKassa before it is applied -----------------


class StubYooKassa:
    def __init__(self, state=None, error=None) -> None:
        self.state, self.error = state, error

    def payment_fetch(self, *, provider_payment_id: str):
        if self.error is not None:
            raise self.error
        return self.state


@pytest.fixture
def live_yookassa(monkeypatch):
    def install(**kwargs) -> None:
        stub = StubYooKassa(**kwargs)
        monkeypatch.setattr("billing.services.payments.yookassa_client", lambda: stub)

    return install


def test_live_notification_confirmed_by_yookassa_is_credited(api, live_yookassa):
    from billing.providers.yookassa import ProviderPaymentState

    user = user_create()
    payment = Payment.objects.get(pk=payment_open(api, user, "40.00").json()["id"])
    live_yookassa(
        state=ProviderPaymentState(payment.provider_payment_id, "succeeded", Decimal("40.00"), "RUB")
    )

    assert webhook_post(notification(payment)).status_code == 200
    assert balance_of(user) == Decimal("50.00")
    assert_ledger_clean()


@pytest.mark.parametrize(
    ("status", "amount"), [("pending", "40.00"), ("succeeded", "4.00"), ("not_found", "0")]
)
def test_live_notification_that_yookassa_contradicts_is_not_credited(api, live_yookassa, status, amount):
    from billing.providers.yookassa import ProviderPaymentState

    user = user_create()
    payment = Payment.objects.get(pk=payment_open(api, user, "40.00").json()["id"])
    live_yookassa(state=ProviderPaymentState(payment.provider_payment_id, status, Decimal(amount), "RUB"))

    response = webhook_post(notification(payment))

    assert response.status_code == 409
    assert Payment.objects.get().status == "pending"
    assert ProviderEvent.objects.get().outcome == "mismatch"
    assert balance_of(user) == Decimal("10.00")


def test_live_notification_while_yookassa_is_down_is_503_and_kept(api, live_yookassa):
    from billing.errors import BillingError

    user = user_create()
    payment = Payment.objects.get(pk=payment_open(api, user, "40.00").json()["id"])
    live_yookassa(error=BillingError("down", code="service_unavailable"))

    response = webhook_post(notification(payment))

    assert response.status_code == 503
    assert ProviderEvent.objects.get().outcome == "received"
    assert Payment.objects.get().status == "pending"


def test_payment_of_an_anonymous_user_merged_before_paying_credits_the_merged_user(api):
    from accounts.services import end_user_attach_identity

    anonymous, _ = end_user_upsert(ref="device:web-42", profile={})
    payment = Payment.objects.get(pk=payment_open(api, anonymous, "100.00").json()["id"])
    registered, _ = end_user_upsert(ref="606060", profile={})
    end_user_attach_identity(ref="606060", identity="device_id", value="web-42")

    assert webhook_post(notification(payment)).status_code == 200

    assert balance_of(registered) == Decimal("10.00") + Decimal("5.00") + Decimal("100.00")
    assert balance_of(anonymous) == Decimal("0.00")


def test_the_confirmation_url_is_cleared_when_the_payment_resolves_and_replays_keep_theirs(api):
    # given two pending payments, each created with its confirmation URL
    user = user_create()
    paid = payment_open(api, user, key="to-pay")
    abandoned = payment_open(api, user, key="to-cancel")
    assert paid.json()["confirmation_url"] and abandoned.json()["confirmation_url"]

    # when one succeeds and the other is canceled
    for response, event in ((paid, "payment.succeeded"), (abandoned, "payment.canceled")):
        assert (
            webhook_post(notification(Payment.objects.get(pk=response.json()["id"]), event=event)).status_code
            == 200
        )

    # then neither keeps the URL (it only matters while pending) and the API shows none
    assert list(Payment.objects.order_by("pk").values_list("status", "confirmation_url")) == [
        ("succeeded", ""),
        ("canceled", ""),
    ]
    assert api.get(f"/api/v1/payments/{paid.json()['id']}").json()["confirmation_url"] is None
    # and a replay of the creating request answers its stored bytes, URL included
    assert payment_open(api, user, key="to-pay").content == paid.content


def test_a_payment_the_provider_refused_is_canceled_without_its_url(api):
    from billing import services

    user = user_create()
    payment = Payment.objects.get(pk=payment_open(api, user).json()["id"])

    services.payment_provider_refused(payment=payment, error_message="card declined")

    payment.refresh_from_db()
    assert (payment.status, payment.confirmation_url) == ("canceled", "")
