"""A merge keeps a person whole (bot-api.md, Users): each case of issue 11, reproduced through the API.

Each case was run against the code before the fix (commit 9fa797f): all failed there except the three
regression guards that already held (2b, 3c, and the Stars credit of 6, which followed merged_into).
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import EndUser
from billing import services
from billing.models import (
    EntryType,
    LedgerEntry,
    Payment,
    PromoCode,
    PromoRedemption,
    ReferralReward,
    Subscription,
)
from tests.billing.money_helpers import notification, webhook_post
from tests.support.ledger import account_of, balance_of

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("ledger_clean_after")]


def user_put(api, ref: str, **body) -> dict:
    response = api.put(f"/api/v1/users/{ref}", body)
    assert response.status_code == 201, response.content
    return response.json()


def attach_device(api, ref: str, device_id: str) -> dict:
    response = api.post(f"/api/v1/users/{ref}/identities", {"device_id": device_id})
    assert response.status_code == 200, response.content
    return response.json()


def top_up(api, ref: str, amount: str = "100.00", key: str = "pay") -> Payment:
    response = api.post(f"/api/v1/users/{ref}/payments", {"amount": amount}, idempotency_key=key)
    assert response.status_code == 201, response.content
    payment = Payment.objects.get(pk=response.json()["id"])
    assert webhook_post(notification(payment)).json()["status"] == "credited"
    return payment


def test_1_a_user_referred_by_the_identity_it_absorbs_refers_nobody(api):
    # given anonymous S, and T created with referrer=device:S
    user_put(api, "device:s1")
    user_put(api, "7001", referrer="device:s1")

    # when T attaches S's device (S merges into T)
    merged = attach_device(api, "7001", "s1")

    # then T refers nobody, and T's next top-up pays no reward into the merged-away account
    assert merged["referrer"] is None
    top_up(api, "7001")
    assert ReferralReward.objects.count() == 0
    source = EndUser.objects.get(merged_into__telegram_id=7001)
    assert balance_of(source) == Decimal("0.00")
    assert balance_of(EndUser.objects.get(telegram_id=7001)) == Decimal("115.00")


def test_2_a_merge_that_would_close_a_referral_cycle_drops_that_referral(api):
    # given A referred by S, B referred by A
    user_put(api, "device:s2")
    user_put(api, "7002", referrer="device:s2")  # A
    user_put(api, "7003", referrer="7002")  # B

    # when B absorbs S
    attach_device(api, "7003", "s2")

    # then B keeps its referrer A, and A's referral by S is dropped, not turned into B: no cycle
    a, b = EndUser.objects.get(telegram_id=7002), EndUser.objects.get(telegram_id=7003)
    assert b.referrer_id == a.pk
    assert a.referrer_id is None
    top_up(api, "7002", key="pay-a")
    top_up(api, "7003", key="pay-b")
    assert list(ReferralReward.objects.values_list("referrer_id", "referred_id")) == [(a.pk, b.pk)]


def test_2b_users_referred_by_the_source_become_the_targets_referrals(api):
    user_put(api, "device:s2b")
    user_put(api, "7010", referrer="device:s2b")
    user_put(api, "7011")

    attach_device(api, "7011", "s2b")

    assert EndUser.objects.get(telegram_id=7010).referrer.telegram_id == 7011


def test_3_a_paid_subscription_of_the_anonymous_user_moves_with_it(api):
    # given anonymous S with a paid pro subscription
    user_put(api, "device:s3")
    top_up(api, "device:s3", "500.00")
    bought = api.post("/api/v1/users/device:s3/subscription", {"plan": "pro", "auto_renew": True})
    assert bought.status_code == 201
    user_put(api, "7004")

    # when T absorbs S
    merged = attach_device(api, "7004", "s3")

    # then the person is on pro, whichever reference asks
    assert merged["subscription"]["plan"] == "pro"
    for ref in ("7004", "device:s3"):
        assert api.get(f"/api/v1/users/{ref}/subscription").json()["plan"] == "pro"
    assert api.get("/api/v1/users/7004/subscription").json()["expires_at"] == bought.json()["expires_at"]


def test_3b_of_two_paid_subscriptions_the_later_expiry_wins(api):
    user_put(api, "device:s3b")
    user_put(api, "7005")
    for ref in ("device:s3b", "7005"):
        top_up(api, ref, "1000.00", key=f"pay-{ref}")
        assert api.post(f"/api/v1/users/{ref}/subscription", {"plan": "pro"}).status_code == 201
    later = timezone.now() + timedelta(days=90)
    Subscription.objects.filter(user__device_id="s3b").update(expires_at=later)

    attach_device(api, "7005", "s3b")

    subscription = Subscription.objects.get(user__telegram_id=7005)
    assert (subscription.plan.code, subscription.expires_at) == ("pro", later)
    # the merged-away row can never be billed again
    source_row = Subscription.objects.get(user__merged_into__telegram_id=7005)
    assert (source_row.plan.code, source_row.auto_renew) == ("free", False)


def test_3c_the_targets_later_subscription_is_kept(api):
    user_put(api, "device:s3c")
    user_put(api, "7006")
    for ref in ("device:s3c", "7006"):
        top_up(api, ref, "1000.00", key=f"pay-{ref}")
        assert api.post(f"/api/v1/users/{ref}/subscription", {"plan": "pro"}).status_code == 201
    target_expiry = Subscription.objects.get(user__telegram_id=7006).expires_at
    Subscription.objects.filter(user__device_id="s3c").update(expires_at=timezone.now() + timedelta(days=1))

    attach_device(api, "7006", "s3c")

    assert Subscription.objects.get(user__telegram_id=7006).expires_at == target_expiry


def test_4_a_promo_redeemed_by_the_absorbed_identity_cannot_be_redeemed_again(api):
    PromoCode.objects.create(code="ONCE50", amount=Decimal("50.00"))
    user_put(api, "device:s4")
    user_put(api, "7007")
    assert api.post("/api/v1/users/device:s4/promo-codes/redeem", {"code": "once50"}).status_code == 200

    attach_device(api, "7007", "s4")
    again = api.post("/api/v1/users/7007/promo-codes/redeem", {"code": "once50"})

    assert again.status_code == 409
    assert again.json()["error"]["details"] == {"code": "already redeemed"}
    assert balance_of(EndUser.objects.get(telegram_id=7007)) == Decimal("65.00")


def test_4b_both_identities_redeemed_before_the_merge_the_duplicate_is_flagged(api):
    # given both identities of one person redeemed the once-per-user code
    PromoCode.objects.create(code="TWICE50", amount=Decimal("50.00"))
    user_put(api, "device:s4b")
    user_put(api, "7008")
    for ref in ("device:s4b", "7008"):
        assert api.post(f"/api/v1/users/{ref}/promo-codes/redeem", {"code": "TWICE50"}).status_code == 200

    # when they merge
    attach_device(api, "7008", "s4b")

    # then the credits stay (documented), the absorbed identity's redemption is flagged for operators,
    # and the person cannot redeem it a third time
    flagged = PromoRedemption.objects.get(merged_duplicate=True)
    assert flagged.user.merged_into.telegram_id == 7008
    assert PromoRedemption.objects.filter(merged_duplicate=False).get().user.telegram_id == 7008
    assert api.post("/api/v1/users/7008/promo-codes/redeem", {"code": "TWICE50"}).status_code == 409


def test_5_a_stars_replay_after_the_payer_merged_is_the_200_replay(api):
    user_put(api, "device:s5")
    user_put(api, "7009")
    body = {
        "user": "device:s5",
        "telegram_payment_charge_id": "charge-s5",
        "currency": "XTR",
        "total_amount": 40,
        "invoice_payload": "p",
    }
    first = api.post("/api/v1/payments/telegram-stars", body)
    assert first.status_code == 201
    attach_device(api, "7009", "s5")

    for user in ("device:s5", "7009"):
        replay = api.post("/api/v1/payments/telegram-stars", {**body, "user": user})
        assert replay.status_code == 200, replay.content
        assert replay.json()["id"] == first.json()["id"]
    assert balance_of(EndUser.objects.get(telegram_id=7009)) == Decimal("55.00")


def merged_pair(api, device_id: str, telegram_id: int) -> tuple[EndUser, EndUser]:
    """(S as a request loaded it before the merge, T) once S has merged into T."""
    user_put(api, f"device:{device_id}")
    user_put(api, str(telegram_id))
    stale = EndUser.objects.get(device_id=device_id)
    attach_device(api, str(telegram_id), device_id)
    return stale, EndUser.objects.get(telegram_id=telegram_id)


def test_6_a_promo_redeemed_for_a_user_merged_meanwhile_credits_the_user_it_became(api):
    PromoCode.objects.create(code="LATE", amount=Decimal("20.00"))
    stale, target = merged_pair(api, "s6a", 7020)

    services.promo_code_redeem(user=stale, code="late")

    assert balance_of(target) == Decimal("35.00")
    assert account_of(stale).balance == Decimal("0.00")
    assert PromoRedemption.objects.get().user_id == target.pk


@pytest.mark.parametrize("path", ["credit", "stars", "subscription", "adjustment"])
def test_6_every_credit_follows_merged_into(api, path, admin_user):
    stale, target = merged_pair(api, f"s6-{path}", 7030)

    if path == "credit":
        services.credit_grant(
            user=stale,
            amount=Decimal("5.00"),
            currency="RUB",
            entry_type=EntryType.BONUS,
            counter_kind="bonuses",
            reference="late-bonus",
        )
        expected = Decimal("20.00")
    elif path == "stars":
        services.telegram_stars_credit(user=stale, charge_id="late-stars", total_amount=5, invoice_payload="")
        expected = Decimal("20.00")
    elif path == "subscription":
        services.balance_adjust(
            user=target, amount=Decimal("500.00"), currency="RUB", reason="t", operator=admin_user
        )
        services.subscription_purchase(user=stale, plan_code="pro", auto_renew=False)
        assert Subscription.objects.get(user=target).plan.code == "pro"
        expected = balance_of(target)
    else:
        services.balance_adjust(
            user=stale, amount=Decimal("5.00"), currency="RUB", reason="t", operator=admin_user
        )
        expected = Decimal("20.00")

    assert balance_of(target) == expected
    assert account_of(stale).balance == Decimal("0.00")
    assert (
        not LedgerEntry.objects.filter(account__owner=stale)
        .exclude(type__in=[EntryType.BONUS, EntryType.MERGE])
        .exists()
    )


def test_6_jobs_projects_and_dialogs_for_a_merged_user_go_to_the_user_it_became(api, settings):
    from assistants.services import assistant_create, dialog_open
    from generations.models import AIModel
    from generations.services import generation_create, project_create

    settings.RATE_LIMITS_ENABLED = False
    AIModel.objects.create(
        code="m6-free", name="f", category=AIModel.Category.TEXT, provider="t", price=0, is_free=True
    )
    stale, target = merged_pair(api, "s6-jobs", 7040)

    job = generation_create(user=stale, model_code="m6-free", prompt="p", parameters={})
    project = project_create(user=stale, name="p")
    assistant = assistant_create(owner=stale, name="a")
    dialog, _ = dialog_open(assistant=assistant, user=stale, chat_id="c1")

    for owner_id in (job.user_id, project.user_id, assistant.owner_id, dialog.user_id):
        assert owner_id == target.pk
