"""Small builders for billing tests: users with money, without going through the HTTP layer."""

from decimal import Decimal
from itertools import count

from django.conf import settings

from accounts.models import EndUser
from accounts.services import end_user_upsert
from billing.models import Account, EntryType
from billing.services import credit_grant

_telegram_ids = count(5_000_000)


def user_create(*, anonymous: bool = False) -> EndUser:
    """A user created the way the API creates one (welcome bonus included)."""
    ref = f"device:dev-{next(_telegram_ids)}" if anonymous else str(next(_telegram_ids))
    user, _ = end_user_upsert(ref=ref, profile={})
    return user


def user_funded(amount: Decimal | str, *, currency: str | None = None) -> EndUser:
    """A user whose available balance is exactly `amount` (the welcome bonus is counted in)."""
    user = user_create()
    currency = currency or settings.DEFAULT_CURRENCY
    target = Decimal(amount)
    bonus = settings.WELCOME_BONUS if currency == settings.DEFAULT_CURRENCY else Decimal("0")
    top_up = target - bonus
    if top_up > 0:
        credit_grant(
            user=user,
            amount=top_up,
            currency=currency,
            entry_type=EntryType.TOPUP,
            counter_kind=Account.Kind.PAYMENTS,
            reference=f"test-topup:{user.pk}:{currency}",
        )
    elif top_up < 0:
        from billing.services import entry_post, user_account_id

        entry_post(
            account_id=user_account_id(user_id=user.pk, currency=currency),
            counter_kind=Account.Kind.ADJUSTMENTS,
            currency=currency,
            amount=top_up,
            entry_type=EntryType.ADJUSTMENT,
            description="test: bring the balance down",
        )
    return user


def account_of(user: EndUser, currency: str | None = None) -> Account:
    return Account.objects.get(
        kind=Account.Kind.USER, owner=user, currency=currency or settings.DEFAULT_CURRENCY
    )
