"""The money kernel: welcome bonus, postings, holds, merge, adjustments, append-only ledger."""

from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.services import end_user_attach_identity
from billing import services
from billing.errors import BillingError, InsufficientFunds
from billing.models import Account, EntryType, Hold, LedgerEntry
from tests.support.ledger import account_of, assert_ledger_clean
from tests.support.users import user_create, user_funded

pytestmark = pytest.mark.django_db


def test_new_user_gets_welcome_bonus_once(api):
    created = api.put("/api/v1/users/4242", {})
    assert created.json()["balance"] == {
        "currency": "RUB",
        "balance": "10.00",
        "held": "0.00",
        "available": "10.00",
    }
    api.put("/api/v1/users/4242", {"username": "again"})
    assert LedgerEntry.objects.filter(type=EntryType.BONUS).count() == 1
    assert_ledger_clean()


def test_device_user_gets_anonymous_bonus(api):
    body = api.put("/api/v1/users/device:phone-9", {}).json()
    assert body["balance"]["balance"] == "5.00"


def test_welcome_bonus_amount_comes_from_settings(api, settings):
    settings.WELCOME_BONUS = Decimal("25.50")
    assert api.put("/api/v1/users/4343", {}).json()["balance"]["available"] == "25.50"


def test_zero_welcome_bonus_writes_nothing(api, settings):
    settings.WELCOME_BONUS = Decimal("0.00")
    api.put("/api/v1/users/4344", {})
    assert not LedgerEntry.objects.exists()


def test_hold_then_capture_charges_once():
    user = user_funded("30.00")
    hold = services.hold_create(user=user, amount=Decimal("12.50"), currency="RUB", reference="job:1")
    account = account_of(user)
    assert (account.balance, account.held) == (Decimal("30.00"), Decimal("12.50"))

    first = services.hold_capture(hold_id=hold.pk)
    again = services.hold_capture(hold_id=hold.pk)

    account.refresh_from_db()
    assert (account.balance, account.held) == (Decimal("17.50"), Decimal("0.00"))
    assert first.changed and not again.changed
    charge = LedgerEntry.objects.get(type=EntryType.CHARGE)
    assert (charge.amount, charge.balance_after, charge.reference) == (
        Decimal("-12.50"),
        Decimal("17.50"),
        "job:1",
    )
    assert_ledger_clean()


def test_partial_capture_releases_the_rest():
    user = user_funded("30.00")
    hold = services.hold_create(user=user, amount=Decimal("10.00"), currency="RUB", reference="job:2")
    services.hold_capture(hold_id=hold.pk, amount=Decimal("4.00"))
    account = account_of(user)
    assert (account.balance, account.held) == (Decimal("26.00"), Decimal("0.00"))
    assert_ledger_clean()


def test_capture_more_than_held_is_refused():
    user = user_funded("30.00")
    hold = services.hold_create(user=user, amount=Decimal("10.00"), currency="RUB", reference="job:3")
    with pytest.raises(BillingError) as refused:
        services.hold_capture(hold_id=hold.pk, amount=Decimal("10.01"))
    assert refused.value.code == "validation_error"
    assert Hold.objects.get(pk=hold.pk).status == Hold.Status.OPEN


def test_release_returns_money_and_repeats_are_noops():
    user = user_funded("30.00")
    hold = services.hold_create(user=user, amount=Decimal("10.00"), currency="RUB", reference="job:4")
    assert services.hold_release(hold_id=hold.pk).changed
    assert not services.hold_release(hold_id=hold.pk).changed
    account = account_of(user)
    assert (account.balance, account.held) == (Decimal("30.00"), Decimal("0.00"))
    assert not LedgerEntry.objects.filter(type=EntryType.CHARGE).exists()
    assert_ledger_clean()


def test_captured_hold_cannot_be_released_and_released_cannot_be_captured():
    user = user_funded("30.00")
    captured = services.hold_create(user=user, amount=Decimal("5.00"), currency="RUB", reference="job:5")
    released = services.hold_create(user=user, amount=Decimal("5.00"), currency="RUB", reference="job:6")
    services.hold_capture(hold_id=captured.pk)
    services.hold_release(hold_id=released.pk)
    with pytest.raises(BillingError) as first:
        services.hold_release(hold_id=captured.pk)
    with pytest.raises(BillingError) as second:
        services.hold_capture(hold_id=released.pk)
    assert first.value.code == second.value.code == "conflict"
    assert_ledger_clean()


def test_hold_larger_than_available_is_402_and_writes_nothing():
    user = user_funded("10.00")
    with pytest.raises(InsufficientFunds) as refused:
        services.hold_create(user=user, amount=Decimal("10.01"), currency="RUB", reference="job:7")
    assert refused.value.status == 402
    assert refused.value.details == {"required": "10.01", "available": "10.00"}
    assert not Hold.objects.exists()
    assert account_of(user).held == Decimal("0.00")


def test_hold_of_unknown_currency_is_refused():
    user = user_funded("10.00")
    with pytest.raises(BillingError) as refused:
        services.hold_create(user=user, amount=Decimal("1.00"), currency="USD", reference="job:8")
    assert refused.value.code == "validation_error"


def test_second_currency_works_the_same_way():
    user = user_funded("100.00", currency="TOKENS")
    hold = services.hold_create(user=user, amount=Decimal("40.00"), currency="TOKENS", reference="job:9")
    services.hold_capture(hold_id=hold.pk)
    assert account_of(user, "TOKENS").balance == Decimal("60.00")
    assert account_of(user).balance == Decimal("10.00"), "the RUB account is untouched"
    assert_ledger_clean()


def test_expired_holds_are_released_by_the_sweep():
    user = user_funded("20.00")
    past = timezone.now() - timezone.timedelta(seconds=1)
    stale = services.hold_create(
        user=user, amount=Decimal("5.00"), currency="RUB", reference="job:10", expires_at=past
    )
    fresh = services.hold_create(user=user, amount=Decimal("5.00"), currency="RUB", reference="job:11")

    assert services.holds_expire() == 1
    assert services.holds_expire() == 0
    assert Hold.objects.get(pk=stale.pk).status == Hold.Status.EXPIRED
    assert Hold.objects.get(pk=fresh.pk).status == Hold.Status.OPEN
    assert account_of(user).held == Decimal("5.00")
    assert_ledger_clean()


def test_adjustment_carries_operator_and_reason(admin_user):
    user = user_funded("10.00")
    entry = services.balance_adjust(
        user=user,
        amount=Decimal("-3.00"),
        currency="RUB",
        reason="refund of a duplicate bonus",
        operator=admin_user,
    )
    assert (entry.type, entry.operator, entry.description) == (
        EntryType.ADJUSTMENT,
        admin_user,
        "refund of a duplicate bonus",
    )
    assert account_of(user).balance == Decimal("7.00")
    with pytest.raises(InsufficientFunds):
        services.balance_adjust(
            user=user, amount=Decimal("-7.01"), currency="RUB", reason="too much", operator=admin_user
        )
    with pytest.raises(BillingError):
        services.balance_adjust(
            user=user, amount=Decimal("1.00"), currency="RUB", reason="  ", operator=admin_user
        )
    assert_ledger_clean()


def test_merge_moves_money_and_open_holds_through_the_ledger():
    anonymous = user_create(anonymous=True)
    registered = user_create()
    running = services.hold_create(user=anonymous, amount=Decimal("2.00"), currency="RUB", reference="job:12")
    failing = services.hold_create(user=anonymous, amount=Decimal("1.00"), currency="RUB", reference="job:13")

    end_user_attach_identity(ref=str(registered.telegram_id), identity="device_id", value=anonymous.device_id)

    target = account_of(registered)
    assert (target.balance, target.held) == (Decimal("15.00"), Decimal("3.00"))
    source = account_of(anonymous)
    assert (source.balance, source.held) == (Decimal("0.00"), Decimal("0.00"))
    merge_entries = LedgerEntry.objects.filter(type=EntryType.MERGE).order_by("pk")
    assert [entry.amount for entry in merge_entries] == [Decimal("-5.00"), Decimal("5.00")]
    assert_ledger_clean()

    # when the anonymous user's jobs finish after the merge
    services.hold_capture(hold_id=running.pk)
    services.hold_release(hold_id=failing.pk)

    # then the money is settled on the account that owns it now
    target.refresh_from_db()
    assert (target.balance, target.held) == (Decimal("13.00"), Decimal("0.00"))
    assert account_of(anonymous).balance == Decimal("0.00")
    assert_ledger_clean()


def test_ledger_entries_cannot_be_updated_or_deleted():
    user = user_funded("10.00")
    entry = LedgerEntry.objects.get(account__owner=user)
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.filter(pk=entry.pk).update(amount=Decimal("1000.00"))
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.filter(pk=entry.pk).delete()
    assert LedgerEntry.objects.get(pk=entry.pk).amount == Decimal("10.00")


def test_database_refuses_negative_available_balance():
    user = user_funded("10.00")
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.filter(kind=Account.Kind.USER, owner=user).update(held=Decimal("10.01"))


def test_one_time_credit_is_refused_twice_by_the_database():
    user = user_create()
    with pytest.raises(IntegrityError), transaction.atomic():
        services.welcome_bonus_grant(user=user)
    assert LedgerEntry.objects.filter(type=EntryType.BONUS, account__owner=user).count() == 1


def test_ledger_check_command_fails_on_a_tampered_balance(capsys):
    user = user_funded("10.00")
    call_command("ledger_check")
    assert "0 failed" in capsys.readouterr().out

    with connection.cursor() as cursor:
        cursor.execute("UPDATE billing_account SET balance = balance + 1 WHERE owner_id = %s", [user.pk])
    with pytest.raises(SystemExit) as exit_code:
        call_command("ledger_check")
    assert exit_code.value.code == 1
    output = capsys.readouterr().out
    assert "FAIL 1a." in output
    assert "FAIL 2b." in output
