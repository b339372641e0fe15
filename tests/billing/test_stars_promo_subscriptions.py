"""Telegram Stars, promo codes, plans and subscriptions, referrals list: the API contract."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.services import end_user_upsert
from billing import services
from billing.models import EntryType, LedgerEntry, Payment, PromoCode, PromoRedemption, Subscription
from tests.billing.money_helpers import entries_count
from tests.support.ledger import assert_ledger_clean, balance_of
from tests.support.users import user_create, user_funded

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("ledger_clean_after")]


def stars_body(user, charge="charge-1", total=50, **extra):
    return {
        "user": user.display_ref,
        "telegram_payment_charge_id": charge,
        "currency": "XTR",
        "total_amount": total,
        "invoice_payload": "topup-50",
        **extra,
    }


# --- Telegram Stars ------------------------------------------------------------------------------


def test_stars_credit_once_201_then_200(api, settings):
    settings.TELEGRAM_STARS_RATE = Decimal("1.50")
    user = user_create()

    first = api.post("/api/v1/payments/telegram-stars", stars_body(user, total=40))
    replay = api.post("/api/v1/payments/telegram-stars", stars_body(user, total=40))

    assert first.status_code == 201
    assert replay.status_code == 200
    assert replay.json() == first.json()
    body = first.json()
    assert (body["provider"], body["status"], body["amount"], body["currency"]) == (
        "telegram_stars",
        "succeeded",
        "60.00",
        "RUB",
    )
    assert body["provider_payment_id"] == "charge-1"
    assert balance_of(user) == Decimal("70.00")
    assert LedgerEntry.objects.filter(type=EntryType.TOPUP).count() == 1
    assert_ledger_clean()


def test_stars_with_idempotency_key_replays_identically(api):
    user = user_create()
    first = api.post("/api/v1/payments/telegram-stars", stars_body(user), idempotency_key="s1")
    again = api.post("/api/v1/payments/telegram-stars", stars_body(user), idempotency_key="s1")
    assert (again.status_code, again.content) == (first.status_code, first.content) == (201, first.content)


def test_stars_same_charge_id_with_other_details_is_409(api):
    user, other = user_create(), user_create()
    api.post("/api/v1/payments/telegram-stars", stars_body(user))
    assert api.post("/api/v1/payments/telegram-stars", stars_body(other)).status_code == 409
    assert api.post("/api/v1/payments/telegram-stars", stars_body(user, total=51)).status_code == 409
    assert balance_of(other) == Decimal("10.00")
    assert_ledger_clean()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"currency": "RUB"}, "currency"),
        ({"total_amount": 0}, "total_amount"),
        ({"total_amount": -5}, "total_amount"),
        ({"total_amount": "ten"}, "total_amount"),
        ({"telegram_payment_charge_id": ""}, "telegram_payment_charge_id"),
        ({"user": "not a user"}, "user"),
    ],
)
def test_stars_bad_input_is_422_and_writes_nothing(api, change, field):
    user = user_create()
    before = entries_count()
    response = api.post("/api/v1/payments/telegram-stars", {**stars_body(user), **change})
    assert response.status_code == 422
    assert field in response.json()["error"]["details"]
    assert Payment.objects.count() == 0
    assert entries_count() == before


def test_stars_for_unknown_user_is_404(api):
    response = api.post("/api/v1/payments/telegram-stars", {**stars_body(user_create()), "user": "31337"})
    assert response.status_code == 404
    assert Payment.objects.count() == 0


def test_stars_top_up_pays_referral_reward(api):
    referrer = user_create()
    referred, _ = end_user_upsert(ref="888000111", profile={}, referrer_ref=referrer.display_ref)
    api.post("/api/v1/payments/telegram-stars", stars_body(referred, total=100))
    assert balance_of(referrer) == Decimal("20.00")
    assert_ledger_clean()


# --- Promo codes ---------------------------------------------------------------------------------


def promo(code="SPRING", amount="25.00", **fields) -> PromoCode:
    return PromoCode.objects.create(code=code, amount=Decimal(amount), **fields)


def redeem(api, user, code, **kwargs):
    return api.post(f"/api/v1/users/{user.display_ref}/promo-codes/redeem", {"code": code}, **kwargs)


def test_redeem_credits_and_answers_amount_and_balance(api):
    promo(max_uses=10)
    user = user_create()

    response = redeem(api, user, " spring ")

    assert response.status_code == 200
    body = response.json()
    assert body["amount"] == "25.00"
    assert body["balance"] == {"currency": "RUB", "balance": "35.00", "held": "0.00", "available": "35.00"}
    assert PromoCode.objects.get().used_count == 1
    assert_ledger_clean()


def test_redeem_twice_by_the_same_user_is_409(api):
    promo()
    user = user_create()
    redeem(api, user, "SPRING")
    again = redeem(api, user, "SPRING")
    assert again.status_code == 409
    assert again.json()["error"]["details"] == {"code": "already redeemed"}
    assert balance_of(user) == Decimal("35.00")
    assert PromoCode.objects.get().used_count == 1


def test_redeem_used_up_is_409_unknown_404_expired_410_inactive_404(api):
    promo(max_uses=1)
    promo(code="OLD", expires_at=timezone.now() - timedelta(minutes=1))
    promo(code="OFF", is_active=False)
    first, second = user_create(), user_create()
    assert redeem(api, first, "SPRING").status_code == 200
    before = entries_count()

    used_up = redeem(api, second, "SPRING")
    assert used_up.status_code == 409
    assert used_up.json()["error"]["details"] == {"code": "used up"}
    assert redeem(api, second, "NOPE").status_code == 404
    assert redeem(api, second, "OLD").status_code == 410
    assert redeem(api, second, "OFF").status_code == 404
    assert redeem(api, second, "").status_code == 422
    assert entries_count() == before
    assert PromoRedemption.objects.count() == 1


def test_redeem_replay_with_idempotency_key_is_identical(api):
    promo()
    user = user_create()
    first = redeem(api, user, "SPRING", idempotency_key="r1")
    second = redeem(api, user, "SPRING", idempotency_key="r1")
    assert (second.status_code, second.content) == (200, first.content)
    assert balance_of(user) == Decimal("35.00")


def test_promo_in_second_currency(api):
    promo(code="TOK", amount="100.00", currency="TOKENS")
    user = user_create()
    body = redeem(api, user, "tok").json()
    assert body["balance"]["currency"] == "TOKENS"
    assert balance_of(user, "TOKENS") == Decimal("100.00")
    assert_ledger_clean()


def test_batch_creation_makes_unique_upper_case_codes():
    codes = services.promo_codes_create_batch(
        count=200,
        amount=Decimal("5.00"),
        currency="RUB",
        expires_at=None,
        max_uses=1,
        prefix="bf-",
        batch="black-friday",
        created_by=None,
    )
    stored = list(PromoCode.objects.filter(batch="black-friday").values_list("code", flat=True))
    assert len(codes) == len(set(stored)) == 200
    assert all(code.startswith("BF-") and code == code.upper() and len(code) == 13 for code in stored)


# --- Plans and subscriptions ---------------------------------------------------------------------


def test_plans_list_has_the_defaults(api):
    response = api.get("/api/v1/plans")
    assert response.status_code == 200
    plans = {plan["code"]: plan for plan in response.json()}
    assert set(plans) >= {"free", "pro", "premium"}
    assert plans["pro"] == {
        "code": "pro",
        "name": "Pro",
        "price": "490.00",
        "currency": "RUB",
        "period_days": 30,
        "limits": {"per_minute": 20, "concurrent": 3, "per_day": 500},
    }


def test_subscription_of_a_new_user_is_free(api):
    user = user_create()
    assert api.get(f"/api/v1/users/{user.display_ref}/subscription").json() == {
        "plan": "free",
        "started_at": None,
        "expires_at": None,
        "auto_renew": False,
    }


def test_purchase_charges_the_balance_and_the_user_object_shows_it(api):
    user = user_funded("500.00")

    response = api.post(f"/api/v1/users/{user.display_ref}/subscription", {"plan": "pro", "auto_renew": True})

    assert response.status_code == 201
    body = response.json()
    assert (body["plan"], body["auto_renew"]) == ("pro", True)
    assert body["expires_at"] is not None
    assert balance_of(user) == Decimal("10.00")
    entry = LedgerEntry.objects.get(type=EntryType.SUBSCRIPTION)
    assert entry.amount == Decimal("-490.00")
    assert api.get(f"/api/v1/users/{user.display_ref}/subscription").json() == body
    assert api.get(f"/api/v1/users/{user.display_ref}").json()["subscription"]["plan"] == "pro"
    assert_ledger_clean()


def test_purchase_of_the_same_plan_extends_by_a_period(api):
    user = user_funded("980.00")
    first = api.post(f"/api/v1/users/{user.display_ref}/subscription", {"plan": "pro"}).json()
    second = api.post(f"/api/v1/users/{user.display_ref}/subscription", {"plan": "pro"}).json()
    subscription = Subscription.objects.get(user=user)
    assert subscription.expires_at - subscription.started_at == timedelta(days=60)
    assert second["started_at"] == first["started_at"]
    assert balance_of(user) == Decimal("0.00")
    assert_ledger_clean()


def test_purchase_short_of_money_is_402_and_changes_nothing(api):
    user = user_funded("489.99")
    before = entries_count()
    response = api.post(f"/api/v1/users/{user.display_ref}/subscription", {"plan": "pro"})
    assert response.status_code == 402
    assert response.json()["error"]["code"] == "insufficient_funds"
    assert entries_count() == before
    assert api.get(f"/api/v1/users/{user.display_ref}/subscription").json()["plan"] == "free"


@pytest.mark.parametrize(("plan", "status"), [("gold", 404), ("", 422), (None, 422)])
def test_purchase_of_unknown_plan_is_refused(api, plan, status):
    user = user_funded("5000.00")
    before = entries_count()
    response = api.post(f"/api/v1/users/{user.display_ref}/subscription", {"plan": plan})
    assert response.status_code == status
    assert "plan" in response.json()["error"]["details"]
    assert entries_count() == before


def test_switching_to_free_ends_the_paid_plan(api):
    user = user_funded("490.00")
    api.post(f"/api/v1/users/{user.display_ref}/subscription", {"plan": "pro", "auto_renew": True})
    body = api.post(f"/api/v1/users/{user.display_ref}/subscription", {"plan": "free"}).json()
    assert (body["plan"], body["expires_at"], body["auto_renew"]) == ("free", None, False)


def expire_soon(user, *, minutes: int) -> Subscription:
    subscription = Subscription.objects.get(user=user)
    subscription.expires_at = timezone.now() + timedelta(minutes=minutes)
    subscription.save(update_fields=["expires_at"])
    return subscription


def test_renewal_charges_one_period_once_when_funds_allow(api):
    user = user_funded("980.00")
    api.post(f"/api/v1/users/{user.display_ref}/subscription", {"plan": "pro", "auto_renew": True})
    old_expiry = expire_soon(user, minutes=30).expires_at

    from billing.tasks import subscriptions_renew

    first = subscriptions_renew()
    second = subscriptions_renew()

    assert first["renewed"] == 1
    assert second["renewed"] == 0
    subscription = Subscription.objects.get(user=user)
    assert subscription.expires_at == old_expiry + timedelta(days=30)
    assert balance_of(user) == Decimal("0.00")
    assert LedgerEntry.objects.filter(type=EntryType.SUBSCRIPTION).count() == 2
    assert_ledger_clean()


def test_renewal_short_of_money_waits_then_expires_to_free(api):
    user = user_funded("500.00")
    api.post(f"/api/v1/users/{user.display_ref}/subscription", {"plan": "pro", "auto_renew": True})
    expire_soon(user, minutes=30)

    assert services.subscriptions_renew()["waiting"] == 1
    assert Subscription.objects.get(user=user).plan.code == "pro"

    expire_soon(user, minutes=-1)
    assert services.subscriptions_renew()["expired"] == 1
    assert api.get(f"/api/v1/users/{user.display_ref}/subscription").json()["plan"] == "free"
    assert balance_of(user) == Decimal("10.00")
    assert_ledger_clean()


def test_subscription_without_auto_renew_expires_to_free(api):
    user = user_funded("5000.00")
    api.post(f"/api/v1/users/{user.display_ref}/subscription", {"plan": "premium", "auto_renew": False})
    expire_soon(user, minutes=-5)
    assert services.subscriptions_renew()["expired"] == 1
    subscription = Subscription.objects.select_related("plan").get(user=user)
    assert (subscription.plan.code, subscription.expires_at) == ("free", None)
    assert balance_of(user) == Decimal("3510.00")


def test_renewal_after_a_long_outage_bills_one_period_from_now(api):
    user = user_funded("5000.00")
    api.post(f"/api/v1/users/{user.display_ref}/subscription", {"plan": "pro", "auto_renew": True})
    expire_soon(user, minutes=-60 * 24 * 90)
    services.subscriptions_renew()
    subscription = Subscription.objects.get(user=user)
    assert subscription.expires_at > timezone.now() + timedelta(days=29)
    assert LedgerEntry.objects.filter(type=EntryType.SUBSCRIPTION).count() == 2


# --- Referrals -----------------------------------------------------------------------------------


def test_referrals_list_counts_users_and_rewards(api):
    referrer = user_create()
    first, _ = end_user_upsert(ref="990001", profile={}, referrer_ref=referrer.display_ref)
    second, _ = end_user_upsert(ref="990002", profile={}, referrer_ref=referrer.display_ref)
    api.post("/api/v1/payments/telegram-stars", stars_body(first, charge="a", total=100))
    api.post("/api/v1/payments/telegram-stars", stars_body(first, charge="b", total=30))

    body = api.get(f"/api/v1/users/{referrer.display_ref}/referrals").json()

    assert body["referred_count"] == 2
    assert body["rewards_total"] == "13.00"
    assert body["currency"] == "RUB"
    assert [(item["user"], item["reward"]) for item in body["items"]] == [
        ("990002", "0.00"),
        ("990001", "13.00"),
    ]
    assert body["items"][0]["joined_at"]


def test_referrals_list_pages_by_cursor(api):
    referrer = user_create()
    for index in range(5):
        end_user_upsert(ref=f"99100{index}", profile={}, referrer_ref=referrer.display_ref)
    page = api.get(f"/api/v1/users/{referrer.display_ref}/referrals?limit=3").json()
    rest = api.get(
        f"/api/v1/users/{referrer.display_ref}/referrals?limit=3&cursor={page['next_cursor']}"
    ).json()
    assert page["referred_count"] == 5
    assert len(page["items"]) == 3
    assert len(rest["items"]) == 2
    assert rest["next_cursor"] is None


def test_purchase_replayed_with_idempotency_key_charges_once(api):
    user = user_funded("1000.00")
    path = f"/api/v1/users/{user.display_ref}/subscription"
    first = api.post(path, {"plan": "pro", "auto_renew": True}, idempotency_key="sub-1")
    second = api.post(path, {"plan": "pro", "auto_renew": True}, idempotency_key="sub-1")
    assert (second.status_code, second.content) == (201, first.content)
    assert LedgerEntry.objects.filter(type=EntryType.SUBSCRIPTION).count() == 1
    assert balance_of(user) == Decimal("510.00")


def test_refused_purchase_is_remembered_under_its_key(api):
    user = user_funded("100.00")
    path = f"/api/v1/users/{user.display_ref}/subscription"
    first = api.post(path, {"plan": "pro"}, idempotency_key="sub-402")
    services.credit_grant(
        user=user,
        amount=Decimal("1000.00"),
        currency="RUB",
        entry_type=EntryType.TOPUP,
        counter_kind="payments",
        reference=f"test-late-topup:{user.pk}",
    )
    second = api.post(path, {"plan": "pro"}, idempotency_key="sub-402")
    assert (first.status_code, second.status_code, second.content) == (402, 402, first.content)
    assert not LedgerEntry.objects.filter(type=EntryType.SUBSCRIPTION).exists()


def test_referrals_unknown_currency_is_422(api):
    user = user_create()
    response = api.get(f"/api/v1/users/{user.display_ref}/referrals?currency=XYZ")
    assert response.status_code == 422
    assert "currency" in response.json()["error"]["details"]
