"""seed_demo: the small demo through the services is idempotent; a bulk load keeps every money invariant."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Count, Sum
from django.utils import timezone

from accounts.models import EndUser
from assistants.models import Assistant, Document
from billing.models import Account, EntryType, Hold, LedgerEntry, Payment
from generations.models import Generation, Project, ProviderLog, UsageDaily
from ops.models import DebugLog
from tests.support.ledger import assert_ledger_clean

pytestmark = pytest.mark.django_db


def table_counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (EndUser, Account, LedgerEntry, Hold, Payment, Generation, Project, Assistant, Document)
    }


def test_demo_seed_is_idempotent_and_leaves_the_ledger_clean():
    out = StringIO()
    call_command("seed_demo", stdout=out)
    first = table_counts()

    call_command("seed_demo", stdout=out)

    assert table_counts() == first
    assert first["EndUser"] == 4 and first["Assistant"] == 1 and first["Document"] == 1
    statuses = set(Generation.objects.values_list("status", flat=True))
    assert {"succeeded", "failed"} <= statuses
    assert LedgerEntry.objects.filter(type=EntryType.BONUS).count() == 4  # every user's welcome bonus
    assert LedgerEntry.objects.filter(type=EntryType.TOPUP).count() == 3
    assert LedgerEntry.objects.filter(type=EntryType.CHARGE).exists()
    assert "0 users created (4 already there)" in out.getvalue().splitlines()[-1]
    assert_ledger_clean()


def test_load_keeps_every_money_invariant():
    out = StringIO()
    call_command(
        "seed_demo",
        "--users=50",
        "--operations=500",
        "--provider-logs=120",
        "--debug-logs=80",
        "--days=20",
        stdout=out,
        stderr=StringIO(),
    )

    assert EndUser.objects.count() == 50
    assert Account.objects.filter(kind=Account.Kind.USER).count() == 50
    generations = Generation.objects.all()
    assert generations.count() == 250
    assert {len(prompt) for prompt in generations.values_list("prompt", flat=True)} == {120}
    assert {len(url) for url in generations.values_list("result_url", flat=True)} == {80}
    # Each paid generation has its captured hold and its one charge.
    assert Hold.objects.filter(status="captured").count() == 250
    by_type = dict(LedgerEntry.objects.values_list("type").annotate(Count("id")))
    assert by_type[EntryType.CHARGE] == 250
    other = sum(count for entry_type, count in by_type.items() if entry_type != EntryType.CHARGE)
    assert other == 250 + 50  # the other half, and one welcome bonus per user
    assert set(by_type) == {
        EntryType.CHARGE,
        EntryType.TOPUP,
        EntryType.BONUS,
        EntryType.REFUND,
        EntryType.REFERRAL_REWARD,
    }
    assert Payment.objects.count() == by_type[EntryType.TOPUP]
    assert ProviderLog.objects.count() == 120 and DebugLog.objects.count() == 80
    # Finished days are rolled up; today's jobs stay live for the dashboard until the nightly rollup.
    today_start = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    finished_days_jobs = generations.filter(created_at__lt=today_start).count()
    assert UsageDaily.objects.aggregate(total=Sum("total"))["total"] == finished_days_jobs > 0
    assert not UsageDaily.objects.filter(day__gte=today_start.date()).exists()
    # balance_after is each account's running balance, in id order.
    for account_id in Account.objects.filter(kind="user").values_list("pk", flat=True)[:10]:
        running = Decimal("0.00")
        for amount, balance_after in (
            LedgerEntry.objects.filter(account_id=account_id)
            .order_by("pk")
            .values_list("amount", "balance_after")
        ):
            running += amount
            assert balance_after == running >= 0
    assert "loaded 50 users, 500 operations" in out.getvalue()
    assert_ledger_clean()


def test_load_twice_adds_a_second_clean_batch():
    call_command(
        "seed_demo", "--users=5", "--operations=40", "--days=5", stdout=StringIO(), stderr=StringIO()
    )
    call_command(
        "seed_demo", "--users=5", "--operations=40", "--days=5", stdout=StringIO(), stderr=StringIO()
    )

    assert EndUser.objects.count() == 10
    assert Generation.objects.count() == 40
    assert_ledger_clean()


def test_load_of_users_alone_grants_their_welcome_bonuses():
    call_command("seed_demo", "--users=3", stdout=StringIO(), stderr=StringIO())

    assert LedgerEntry.objects.filter(type=EntryType.BONUS, reference__startswith="welcome:").count() == 3
    assert set(Account.objects.filter(kind="user").values_list("balance", flat=True)) == {Decimal("10.00")}
    assert_ledger_clean()
