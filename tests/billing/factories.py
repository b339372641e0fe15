"""Small builders for billing tests (users: tests.support.users)."""

from django.conf import settings

from accounts.models import EndUser
from billing.models import Account


def account_of(user: EndUser, currency: str | None = None) -> Account:
    return Account.objects.get(
        kind=Account.Kind.USER, owner=user, currency=currency or settings.DEFAULT_CURRENCY
    )
