"""Money under real concurrency: threads with their own connections against real PostgreSQL."""

from decimal import Decimal

import pytest

from billing import services
from billing.errors import BillingError, InsufficientFunds
from billing.models import EntryType, Hold, LedgerEntry
from tests.support.api import ApiClient
from tests.support.concurrency import run_concurrently
from tests.support.ledger import account_of, assert_ledger_clean
from tests.support.users import user_funded

pytestmark = pytest.mark.django_db(transaction=True)


def test_funded_for_exactly_k_charges_gets_exactly_k():
    price, funded_for, attempts = Decimal("7.00"), 5, 24
    user = user_funded(price * funded_for)

    def charge(index: int) -> str:
        try:
            hold = services.hold_create(user=user, amount=price, currency="RUB", reference=f"race:{index}")
        except InsufficientFunds:
            return "refused"
        services.hold_capture(hold_id=hold.pk)
        return "charged"

    results = run_concurrently(charge, attempts)

    assert results.count("charged") == funded_for, results
    assert results.count("refused") == attempts - funded_for
    account = account_of(user)
    assert (account.balance, account.held) == (Decimal("0.00"), Decimal("0.00"))
    assert LedgerEntry.objects.filter(type=EntryType.CHARGE).count() == funded_for
    assert_ledger_clean()


def test_concurrent_capture_and_release_resolve_a_hold_once():
    user = user_funded("100.00")
    holds = [
        services.hold_create(user=user, amount=Decimal("10.00"), currency="RUB", reference=f"cr:{index}")
        for index in range(6)
    ]

    def resolve(index: int) -> str:
        hold = holds[index // 4]
        try:
            if index % 2:
                return "captured" if services.hold_capture(hold_id=hold.pk).changed else "noop"
            return "released" if services.hold_release(hold_id=hold.pk).changed else "noop"
        except BillingError as exc:
            return exc.code

    results = run_concurrently(resolve, 24)

    assert results.count("captured") + results.count("released") == len(holds)
    assert set(results) <= {"captured", "released", "noop", "conflict"}
    captured = Hold.objects.filter(status=Hold.Status.CAPTURED).count()
    assert LedgerEntry.objects.filter(type=EntryType.CHARGE).count() == captured
    assert not Hold.objects.filter(status=Hold.Status.OPEN).exists()
    assert account_of(user).held == Decimal("0.00")
    assert_ledger_clean()


def test_two_sweeps_expire_each_hold_once():
    from django.utils import timezone

    user = user_funded("100.00")
    past = timezone.now() - timezone.timedelta(seconds=5)
    for index in range(20):
        services.hold_create(
            user=user, amount=Decimal("1.00"), currency="RUB", reference=f"exp:{index}", expires_at=past
        )

    results = run_concurrently(lambda _: services.holds_expire(batch_size=7), 2)

    assert sum(results) == 20
    assert account_of(user).held == Decimal("0.00")
    assert_ledger_clean()


def test_concurrent_first_requests_grant_one_welcome_bonus(raw_api_key):
    def put(_: int) -> int:
        return ApiClient(raw_api_key).put("/api/v1/users/888001", {}).status_code

    statuses = run_concurrently(put, 10)
    assert sorted(statuses) == [200] * 9 + [201]
    assert LedgerEntry.objects.filter(type=EntryType.BONUS).count() == 1
    assert_ledger_clean()


def test_crossing_merges_do_not_deadlock_or_lose_money():
    from accounts.services import end_user_attach_identity
    from tests.support.users import user_create

    pairs = [(user_create(), user_create(anonymous=True)) for _ in range(4)]

    def merge(index: int):
        registered, anonymous = pairs[index % 4]
        try:
            return end_user_attach_identity(
                ref=str(registered.telegram_id), identity="device_id", value=anonymous.device_id
            ).pk
        except BillingError as exc:
            return exc.code

    run_concurrently(merge, 8)
    for registered, _ in pairs:
        assert account_of(registered).balance == Decimal("15.00")
    assert_ledger_clean()
