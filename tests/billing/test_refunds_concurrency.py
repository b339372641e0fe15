"""Refunds under real concurrency (threads with their own connections, real PostgreSQL)."""

from decimal import Decimal

import pytest

from accounts.models import EndUser
from accounts.services import end_user_attach_identity, end_user_upsert
from billing import services
from billing.models import EntryType, Hold, LedgerEntry, Payment, Refund
from generations.models import AIModel
from tests.billing.money_helpers import notification, paid_stars, refund_notification, webhook_post
from tests.support.api import ApiClient
from tests.support.concurrency import run_concurrently
from tests.support.ledger import account_of, assert_ledger_clean, balance_of
from tests.support.users import user_create

pytestmark = pytest.mark.django_db(transaction=True)


def paid_yookassa(api: ApiClient, user: EndUser, amount: str = "100.00", key: str = "pay") -> Payment:
    response = api.post(f"/api/v1/users/{user.display_ref}/payments", {"amount": amount}, idempotency_key=key)
    payment = Payment.objects.get(pk=response.json()["id"])
    assert webhook_post(notification(payment)).json()["status"] == "credited"
    return payment


def test_20_simultaneous_refunds_of_one_payment_never_exceed_it(raw_api_key, capsys):
    # given a 100.00 payment
    user = user_create()
    payment = paid_yookassa(ApiClient(raw_api_key), user)

    # when 20 bots ask at once for 10.00 each, and 20 more for "what is left"
    def worker(index: int):
        body = {"amount": "10.00"} if index < 20 else {}
        return ApiClient(raw_api_key).post(
            f"/api/v1/payments/{payment.pk}/refunds", body, idempotency_key=f"r-{index}"
        )

    responses = run_concurrently(worker, 40)

    # then the granted refunds add up to exactly the payment, never more
    codes = [response.status_code for response in responses]
    granted = [Decimal(response.json()["amount"]) for response in responses if response.status_code == 201]
    assert set(codes) <= {201, 409}, codes
    assert sum(granted) == Decimal("100.00")
    payment.refresh_from_db()
    assert payment.refunded_amount == Decimal("100.00")
    assert account_of(user).held == Decimal("100.00")
    for response in responses:
        if response.status_code == 201:
            assert webhook_post(refund_notification(response.json())).json()["status"] == "refunded"
    assert balance_of(user) == Decimal("10.00")
    assert -sum(
        LedgerEntry.objects.filter(type=EntryType.REFUND).values_list("amount", flat=True)
    ) == Decimal("100.00")
    with capsys.disabled():
        print(
            f"\n20+20 simultaneous refunds of one 100.00 payment: {codes.count(201)} granted "
            f"({', '.join(str(amount) for amount in sorted(granted))}), {codes.count(409)} refused 409"
        )
    assert_ledger_clean()


def test_a_refund_racing_a_spend_of_the_same_money_decides_exactly_one(raw_api_key, settings, capsys):
    # given users whose available balance is exactly the 100.00 they paid, and a job costing 60.00
    settings.RATE_LIMITS_ENABLED = False
    AIModel.objects.create(
        code="race-img", name="img", category=AIModel.Category.IMAGE, provider="t", price=Decimal("60.00")
    )
    pairs = 6
    users, payments = [], []
    for index in range(pairs):
        user = user_create()
        payment = paid_stars(ApiClient(raw_api_key), user, 100, f"race-spend-{index}")
        services.hold_create(
            user=user, amount=Decimal("10.00"), currency="RUB", reference=f"bonus-spent:{index}"
        )
        users.append(user)
        payments.append(payment)

    # when each user's refund of 100.00 and a 60.00 job start at the same instant
    def worker(index: int):
        pair, side = divmod(index, 2)
        api = ApiClient(raw_api_key)
        if side == 0:
            return api.post(f"/api/v1/payments/{payments[pair].pk}/refunds", {}, idempotency_key=f"rr-{pair}")
        body = {"user": users[pair].display_ref, "model": "race-img", "prompt": "p"}
        return api.post("/api/v1/generations", body, idempotency_key=f"gg-{pair}")

    responses = run_concurrently(worker, 2 * pairs)

    # then for every user exactly one of the two went through, the other was refused 402
    outcomes = []
    for pair in range(pairs):
        refund, job = responses[2 * pair], responses[2 * pair + 1]
        outcome = (refund.status_code, job.status_code)
        assert outcome in {(201, 402), (402, 201)}, (outcome, refund.content, job.content)
        outcomes.append("refund" if outcome == (201, 402) else "spend")
        account = account_of(users[pair])
        assert account.balance - account.held == (
            Decimal("0.00") if outcome == (201, 402) else Decimal("40.00")
        )
    with capsys.disabled():
        print(
            f"\nrefund racing a spend, {pairs} users: refund won {outcomes.count('refund')}, "
            f"spend won {outcomes.count('spend')}, both or neither 0"
        )
    assert_ledger_clean()


def test_a_refund_racing_a_merge_settles_on_the_user_that_stays(raw_api_key, capsys):
    # given anonymous users who paid 100 stars each, and the registered users they are about to become
    pairs = 5
    payments = []
    for index in range(pairs):
        anonymous, _ = end_user_upsert(ref=f"device:race-merge-{index}", profile={})
        end_user_upsert(ref=str(9_100_000 + index), profile={})
        payments.append(paid_stars(ApiClient(raw_api_key), anonymous, 100, f"race-merge-{index}"))

    # when the refund and the merge run at the same instant
    def worker(index: int):
        pair, side = divmod(index, 2)
        if side == 0:
            return ApiClient(raw_api_key).post(
                f"/api/v1/payments/{payments[pair].pk}/refunds", {}, idempotency_key=f"rm-{pair}"
            )
        return end_user_attach_identity(
            ref=str(9_100_000 + pair), identity="device_id", value=f"race-merge-{pair}"
        )

    responses = run_concurrently(worker, 2 * pairs)

    # then the refund's hold sits on the user that stays, and its success debits that user
    for pair in range(pairs):
        refund_response, merged = responses[2 * pair], responses[2 * pair + 1]
        assert isinstance(merged, EndUser), merged
        assert refund_response.status_code == 201, refund_response.content
        target = EndUser.objects.get(telegram_id=9_100_000 + pair)
        source = EndUser.objects.get(merged_into=target)
        account = account_of(target)
        assert (account.balance, account.held) == (Decimal("115.00"), Decimal("100.00"))
        assert account_of(source).balance == account_of(source).held == Decimal("0.00")
        refund_id = refund_response.json()["id"]
        done = ApiClient(raw_api_key).post(f"/api/v1/refunds/{refund_id}/status", {"status": "succeeded"})
        assert done.status_code == 200
        assert balance_of(target) == Decimal("15.00")
    assert Refund.objects.filter(status=Refund.Status.SUCCEEDED).count() == pairs
    with capsys.disabled():
        print(f"\nrefund racing a merge: {pairs} pairs, every hold and debit on the user that stays")
    assert_ledger_clean()


@pytest.mark.parametrize("hold_deleted", [False, True], ids=["hold kept", "hold deleted by retention"])
def test_a_generation_refunded_by_10_calls_at_once_is_credited_once(raw_api_key, settings, hold_deleted):
    settings.RATE_LIMITS_ENABLED = False
    AIModel.objects.create(
        code="race-refund", name="img", category=AIModel.Category.IMAGE, provider="t", price=Decimal("4.00")
    )
    user = user_create()
    api = ApiClient(raw_api_key)
    generation_id = api.post(
        "/api/v1/generations",
        {"user": user.display_ref, "model": "race-refund", "prompt": "p"},
        idempotency_key="g",
    ).json()["id"]
    api.post(f"/api/v1/generations/{generation_id}/status", {"status": "succeeded"})
    if hold_deleted:  # no row left to lock: the unique hold id of the refund decides
        Hold.objects.filter(reference=f"generation:{generation_id}").delete()

    responses = run_concurrently(
        lambda index: ApiClient(raw_api_key).post(f"/api/v1/generations/{generation_id}/refund", {}), 10
    )

    assert sorted(response.status_code for response in responses) == [200] * 9 + [201]
    assert len({response.content for response in responses}) == 1
    assert balance_of(user) == Decimal("10.00")
    assert LedgerEntry.objects.filter(type=EntryType.REFUND).count() == 1
    assert_ledger_clean()
