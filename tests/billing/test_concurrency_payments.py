"""Money under concurrency with real threads on real PostgreSQL: webhooks, Stars, promo codes, renewals."""

from decimal import Decimal

import pytest
from django.test import Client

from accounts.services import end_user_upsert
from billing import services
from billing.models import EntryType, LedgerEntry, Payment, PromoCode, PromoRedemption, ProviderEvent
from tests.billing.money_helpers import notification, webhook_post
from tests.support.api import ApiClient
from tests.support.concurrency import run_concurrently
from tests.support.ledger import assert_ledger_clean, balance_of
from tests.support.users import user_create, user_funded

pytestmark = pytest.mark.django_db(transaction=True)


def test_same_yookassa_notification_20_times_at_once_credits_once(raw_api_key):
    referrer = user_create()
    user, _ = end_user_upsert(ref="55500011", profile={}, referrer_ref=referrer.display_ref)
    api = ApiClient(raw_api_key)
    payment_id = api.post(
        f"/api/v1/users/{user.display_ref}/payments", {"amount": "100.00"}, idempotency_key="c1"
    ).json()["id"]
    payment = Payment.objects.get(pk=payment_id)
    body = notification(payment)

    responses = run_concurrently(lambda index: webhook_post(body, client=Client()), 20)

    assert [response.status_code for response in responses] == [200] * 20
    statuses = sorted(response.json()["status"] for response in responses)
    assert statuses == ["credited"] + ["duplicate"] * 19
    assert ProviderEvent.objects.count() == 20
    assert balance_of(user) == Decimal("110.00")
    assert balance_of(referrer) == Decimal("20.00")
    assert LedgerEntry.objects.filter(type=EntryType.TOPUP).count() == 1
    assert LedgerEntry.objects.filter(type=EntryType.REFERRAL_REWARD).count() == 1
    assert_ledger_clean()


def test_stars_charge_replayed_concurrently_credits_once(raw_api_key):
    user = user_create()
    body = {
        "user": user.display_ref,
        "telegram_payment_charge_id": "tg-charge-42",
        "currency": "XTR",
        "total_amount": 75,
        "invoice_payload": "p",
    }

    responses = run_concurrently(
        lambda index: ApiClient(raw_api_key).post("/api/v1/payments/telegram-stars", body), 15
    )

    codes = sorted(response.status_code for response in responses)
    assert codes == [200] * 14 + [201]
    assert len({response.json()["id"] for response in responses}) == 1
    assert balance_of(user) == Decimal("85.00")
    assert Payment.objects.count() == 1
    assert_ledger_clean()


def test_promo_cap_holds_under_concurrent_users(raw_api_key):
    PromoCode.objects.create(code="RUSH", amount=Decimal("7.00"), max_uses=3)
    users = [user_create() for _ in range(12)]

    responses = run_concurrently(
        lambda index: ApiClient(raw_api_key).post(
            f"/api/v1/users/{users[index].display_ref}/promo-codes/redeem", {"code": "RUSH"}
        ),
        12,
    )

    codes = sorted(response.status_code for response in responses)
    assert codes == [200] * 3 + [409] * 9
    assert PromoCode.objects.get().used_count == 3
    assert PromoRedemption.objects.count() == 3
    assert LedgerEntry.objects.filter(type=EntryType.PROMO).count() == 3
    assert_ledger_clean()


def test_promo_once_per_user_under_concurrency(raw_api_key):
    PromoCode.objects.create(code="ONCE", amount=Decimal("7.00"), max_uses=100)
    user = user_create()

    responses = run_concurrently(
        lambda index: ApiClient(raw_api_key).post(
            f"/api/v1/users/{user.display_ref}/promo-codes/redeem", {"code": "ONCE"}
        ),
        10,
    )

    assert sorted(response.status_code for response in responses) == [200] + [409] * 9
    assert balance_of(user) == Decimal("17.00")
    assert PromoCode.objects.get().used_count == 1
    assert_ledger_clean()


def test_idempotent_payment_creation_under_concurrency_gives_one_payment(raw_api_key):
    user = user_create()

    responses = run_concurrently(
        lambda index: ApiClient(raw_api_key).post(
            f"/api/v1/users/{user.display_ref}/payments", {"amount": "30.00"}, idempotency_key="same-key"
        ),
        10,
    )

    assert {response.status_code for response in responses} == {201}
    assert len({response.content for response in responses}) == 1
    assert Payment.objects.count() == 1


def test_renewal_on_two_workers_at_once_charges_one_period(raw_api_key):
    user = user_funded("1000.00")
    ApiClient(raw_api_key).post(
        f"/api/v1/users/{user.display_ref}/subscription", {"plan": "pro", "auto_renew": True}
    )
    from django.utils import timezone

    from billing.models import Subscription

    Subscription.objects.filter(user=user).update(expires_at=timezone.now())

    results = run_concurrently(lambda index: services.subscriptions_renew(), 4)

    assert sum(result["renewed"] for result in results) == 1
    assert LedgerEntry.objects.filter(type=EntryType.SUBSCRIPTION).count() == 2
    assert balance_of(user) == Decimal("20.00")
    assert_ledger_clean()


def test_webhook_racing_a_merge_of_the_payer_credits_the_merged_user(raw_api_key):
    from accounts.services import end_user_attach_identity

    anonymous, _ = end_user_upsert(ref="device:race-1", profile={})
    registered, _ = end_user_upsert(ref="717171", profile={})
    api = ApiClient(raw_api_key)
    payment_id = api.post(
        f"/api/v1/users/{anonymous.display_ref}/payments", {"amount": "100.00"}, idempotency_key="race"
    ).json()["id"]
    body = notification(Payment.objects.get(pk=payment_id))

    def worker(index: int):
        if index == 0:
            return end_user_attach_identity(ref="717171", identity="device_id", value="race-1")
        return webhook_post(body, client=Client()).status_code

    results = run_concurrently(worker, 2)

    assert results[1] == 200, results
    assert balance_of(registered) == Decimal("115.00")
    assert balance_of(anonymous) == Decimal("0.00")
    assert_ledger_clean()
