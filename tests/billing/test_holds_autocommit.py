"""Holds outside any transaction: hold_create and hold_capture then run as single autocommitted statements
(no BEGIN/COMMIT round trips), so each must be complete and safe by itself."""

from decimal import Decimal

import pytest
from django.db import connection

from billing import services
from billing.errors import BillingError
from billing.models import Account, EntryType, Hold, LedgerEntry
from tests.support.ledger import account_of, assert_ledger_clean
from tests.support.users import user_funded

pytestmark = pytest.mark.django_db(transaction=True)


def test_first_capture_in_a_currency_creates_its_revenue_account_and_charges_once():
    services.system_account_cache_clear()
    user = user_funded("50.00", currency="TOKENS")
    assert not Account.objects.filter(kind=Account.Kind.REVENUE, currency="TOKENS").exists()
    assert not connection.in_atomic_block

    hold = services.hold_create(user=user, amount=Decimal("30.00"), currency="TOKENS", reference="auto:1")
    resolution = services.hold_capture(hold_id=hold.pk)

    assert resolution.changed and resolution.captured_amount == Decimal("30.00")
    assert Hold.objects.get(pk=hold.pk).status == Hold.Status.CAPTURED
    assert LedgerEntry.objects.filter(type=EntryType.CHARGE, reference="auto:1").count() == 1
    assert Account.objects.filter(kind=Account.Kind.REVENUE, currency="TOKENS").count() == 1
    assert account_of(user, "TOKENS").balance == Decimal("20.00")
    assert account_of(user, "TOKENS").held == Decimal("0.00")
    assert services.hold_capture(hold_id=hold.pk).changed is False  # a repeat is a no-op
    assert_ledger_clean()


def test_capture_over_the_held_amount_is_refused_and_changes_nothing():
    user = user_funded("20.00")
    hold = services.hold_create(user=user, amount=Decimal("5.00"), currency="RUB", reference="auto:2")

    with pytest.raises(BillingError) as refused:
        services.hold_capture(hold_id=hold.pk, amount=Decimal("5.01"))

    assert refused.value.code == "validation_error"
    assert Hold.objects.get(pk=hold.pk).status == Hold.Status.OPEN
    assert account_of(user).held == Decimal("5.00")
    assert not LedgerEntry.objects.filter(type=EntryType.CHARGE).exists()
    assert_ledger_clean()


def test_duplicate_hold_reference_is_a_conflict_and_reserves_nothing_more():
    user = user_funded("20.00")
    services.hold_create(user=user, amount=Decimal("5.00"), currency="RUB", reference="auto:3")

    with pytest.raises(BillingError) as refused:
        services.hold_create(user=user, amount=Decimal("5.00"), currency="RUB", reference="auto:3")

    assert refused.value.code == "conflict"
    assert account_of(user).held == Decimal("5.00")
    assert Hold.objects.filter(reference="auto:3").count() == 1
    assert_ledger_clean()


def test_capture_of_a_released_hold_is_a_conflict():
    user = user_funded("20.00")
    hold = services.hold_create(user=user, amount=Decimal("5.00"), currency="RUB", reference="auto:4")
    services.hold_release(hold_id=hold.pk)

    with pytest.raises(BillingError) as refused:
        services.hold_capture(hold_id=hold.pk)

    assert refused.value.code == "conflict"
    assert account_of(user).balance == Decimal("20.00") and account_of(user).held == Decimal("0.00")
    assert_ledger_clean()
