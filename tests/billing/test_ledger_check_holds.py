"""ledger_check 5a (every kept hold has exactly the charges its resolution implies) and 8d (charge refunds)."""

from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from billing import services
from billing.checks import ledger_invariants_check
from billing.models import ChargeRefund, EntryType, Hold, LedgerEntry
from tests.support.users import user_funded

pytestmark = pytest.mark.django_db

INVARIANT = "5a. a captured hold has exactly the one charge it captured"


def check_5a():
    (result,) = [result for result in ledger_invariants_check() if result.invariant == INVARIANT]
    return result


def captured_hold(reference: str) -> Hold:
    user = user_funded("50.00")
    hold = services.hold_create(user=user, amount=Decimal("10.00"), currency="RUB", reference=reference)
    services.hold_capture(hold_id=hold.pk)
    return Hold.objects.get(pk=hold.pk)


def test_open_captured_and_released_holds_pass():
    captured_hold("job:a")
    user = user_funded("50.00")
    services.hold_create(user=user, amount=Decimal("5.00"), currency="RUB", reference="job:open")
    released = services.hold_create(user=user, amount=Decimal("5.00"), currency="RUB", reference="job:r")
    services.hold_release(hold_id=released.pk)

    result = check_5a()

    assert result.ok, result


def test_a_second_charge_of_one_hold_is_reported():
    hold = captured_hold("job:twice")
    charge = LedgerEntry.objects.get(type=EntryType.CHARGE, reference="job:twice")
    LedgerEntry.objects.create(
        type=EntryType.CHARGE,
        account_id=charge.account_id,
        counter_account_id=charge.counter_account_id,
        currency=charge.currency,
        amount=charge.amount,
        balance_after=charge.balance_after + charge.amount,
        reference=charge.reference,
    )

    result = check_5a()

    assert not result.ok
    assert result.samples == [(hold.pk, "captured", 2)]


def test_a_captured_hold_without_its_charge_is_reported():
    user = user_funded("50.00")
    hold = services.hold_create(user=user, amount=Decimal("10.00"), currency="RUB", reference="job:lost")
    Hold.objects.filter(pk=hold.pk).update(
        status=Hold.Status.CAPTURED, captured_amount=hold.amount, resolved_at=timezone.now()
    )

    result = check_5a()

    assert not result.ok
    assert result.samples == [(hold.pk, "captured", 0)]


def test_a_charge_on_another_account_does_not_count():
    hold = captured_hold("job:mine")
    other = captured_hold("job:theirs")
    released = services.hold_create(
        user=hold.account.owner, amount=Decimal("1.00"), currency="RUB", reference="job:theirs-too"
    )
    services.hold_release(hold_id=released.pk)
    theirs = LedgerEntry.objects.get(type=EntryType.CHARGE, reference="job:theirs")
    # The released hold's reference charged, but to the other user's account: still no charge of its own.
    LedgerEntry.objects.create(
        type=EntryType.CHARGE,
        account_id=theirs.account_id,
        counter_account_id=theirs.counter_account_id,
        currency=theirs.currency,
        amount=Decimal("-1.00"),
        balance_after=theirs.balance_after - Decimal("1.00"),
        reference="job:theirs-too",
    )
    assert other.account_id != hold.account_id

    result = check_5a()

    assert result.ok, result


# --- 8d: charge refunds, with the hold kept or deleted by retention ------------------------------

REFUNDS = "8d. a charge is refunded at most once, by exactly its captured amount"


def check_8d():
    (result,) = [result for result in ledger_invariants_check() if result.invariant == REFUNDS]
    return result


def refunded_by_hand(hold: Hold, *, amount: str, reference: str | None = None) -> ChargeRefund:
    """A charge refund written row by row (the service would refuse these), with its ledger credit."""
    refund = ChargeRefund.objects.create(
        hold_id=hold.pk,
        reference=hold.reference if reference is None else reference,
        user=hold.account.owner,
        amount=Decimal(amount),
        currency="RUB",
    )
    with transaction.atomic():
        services.entry_post(
            account_id=hold.account_id,
            counter_kind="revenue",
            currency="RUB",
            amount=Decimal(amount),
            entry_type=EntryType.REFUND,
            reference=refund.ledger_reference,
        )
    return refund


def test_charge_refunds_of_kept_and_deleted_holds_pass():
    kept = captured_hold("job:kept")
    services.charge_refund(hold_id=kept.pk)
    gone = captured_hold("job:gone")
    services.charge_refund(hold_id=gone.pk)
    later = captured_hold("job:later")
    Hold.objects.filter(pk__in=[gone.pk, later.pk]).delete()
    charge = LedgerEntry.objects.get(type=EntryType.CHARGE, reference="job:later")
    services.charge_refund(hold_id=later.pk, charge=services.ChargeRef("job:later", charge.created_at))

    result = check_8d()

    assert result.ok, result
    assert ChargeRefund.objects.count() == 3


def test_a_refund_of_a_kept_hold_that_was_never_captured_is_reported():
    user = user_funded("50.00")
    released = services.hold_create(user=user, amount=Decimal("5.00"), currency="RUB", reference="job:rel")
    services.hold_release(hold_id=released.pk)
    refund = refunded_by_hand(Hold.objects.get(pk=released.pk), amount="5.00")

    result = check_8d()

    assert not result.ok
    assert [sample[0] for sample in result.samples] == [refund.pk]


def test_a_refund_of_a_deleted_hold_for_more_than_its_charge_is_reported():
    # given a 10.00 charge whose hold is gone, refunded 12.00 (row and credit agree with each other)
    hold = captured_hold("job:greedy")
    Hold.objects.filter(pk=hold.pk).delete()
    refund = refunded_by_hand(hold, amount="12.00")

    result = check_8d()

    assert not result.ok
    assert result.samples == [
        (refund.pk, hold.pk, None, Decimal("10.00"), Decimal("12.00"), 1, Decimal("12.00"))
    ]


def test_a_refund_of_a_deleted_hold_that_names_no_charge_is_reported():
    hold = captured_hold("job:real")
    Hold.objects.filter(pk=hold.pk).delete()
    refund = refunded_by_hand(hold, amount="10.00", reference="job:invented")

    result = check_8d()

    assert not result.ok
    assert [sample[0] for sample in result.samples] == [refund.pk]


def test_a_deleted_holds_refund_without_its_credit_is_reported():
    hold = captured_hold("job:uncredited")
    Hold.objects.filter(pk=hold.pk).delete()
    refund = ChargeRefund.objects.create(
        hold_id=hold.pk,
        reference=hold.reference,
        user=hold.account.owner,
        amount=Decimal("10.00"),
        currency="RUB",
    )

    result = check_8d()

    assert not result.ok
    assert result.samples == [(refund.pk, None, None, Decimal("10.00"), Decimal("10.00"), 0, None)]
