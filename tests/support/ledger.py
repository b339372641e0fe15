"""Money reads for assertions, and the check that every ledger invariant holds."""

from decimal import Decimal

from django.conf import settings

from accounts.models import EndUser
from billing.checks import ledger_invariants_check
from billing.models import Account


def assert_ledger_clean() -> None:
    """Every invariant of the ledger check holds; a failure names each broken one with its samples."""
    failures = [
        (result.invariant, result.detail, result.samples)
        for result in ledger_invariants_check()
        if not result.ok
    ]
    assert failures == []


def account_of(user: EndUser, currency: str | None = None) -> Account:
    """The user's own account in `currency` (settings.DEFAULT_CURRENCY by default); it must exist."""
    return Account.objects.get(
        kind=Account.Kind.USER, owner=user, currency=currency or settings.DEFAULT_CURRENCY
    )


def balance_of(user: EndUser, currency: str | None = None) -> Decimal:
    """The user's balance in `currency`, 0.00 when the user has no account in it yet."""
    account = Account.objects.filter(
        kind=Account.Kind.USER, owner=user, currency=currency or settings.DEFAULT_CURRENCY
    ).first()
    return account.balance if account else Decimal("0.00")
