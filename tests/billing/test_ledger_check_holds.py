"""ledger_check 5a: every resolved hold has exactly the charges its resolution implies."""

from decimal import Decimal

import pytest
from django.utils import timezone

from billing import services
from billing.checks import ledger_invariants_check
from billing.models import EntryType, Hold, LedgerEntry
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
