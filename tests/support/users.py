"""End users for tests, made through `end_user_upsert`, the service behind PUT /api/v1/users/{user}.

So a test user gets what a real one gets: the welcome bonus of the settings (WELCOME_BONUS for a
registered user, WELCOME_BONUS_ANONYMOUS for a device-only one), posted to the ledger.
"""

from decimal import Decimal
from itertools import count

from django.conf import settings

from accounts.models import EndUser
from accounts.services import end_user_upsert
from billing.models import Account, EntryType
from billing.services import credit_grant, entry_post, user_account_id

# One sequence for every test module: two helpers can never hand out the same Telegram id.
_telegram_ids = count(5_000_000)


def telegram_id_next() -> int:
    """A Telegram id no other helper call of this test run has handed out."""
    return next(_telegram_ids)


def user_create(
    *,
    anonymous: bool = False,
    telegram_id: int | None = None,
    referrer: EndUser | None = None,
    **profile,
) -> EndUser:
    """A user created the way the API creates one: a registered Telegram user, or a device-only one.

    The welcome bonus of the settings comes with it, as for a real user. `telegram_id` picks the id
    (default: the next unused one); `referrer` is recorded as the API records it, at creation only;
    `profile` takes the profile fields of the PUT body (username, first_name, ...).
    """
    if anonymous:
        ref = f"device:dev-{telegram_id_next()}"
    else:
        ref = str(telegram_id if telegram_id is not None else telegram_id_next())
    user, _created = end_user_upsert(
        ref=ref, profile=profile, referrer_ref=referrer.display_ref if referrer else None
    )
    return user


def user_funded(amount: Decimal | str, *, currency: str | None = None) -> EndUser:
    """A registered user whose balance (all of it available) is exactly `amount` in `currency`.

    The welcome bonus is counted in: a top-up adds what is missing, an adjustment takes off what is
    too much. `currency` defaults to settings.DEFAULT_CURRENCY, the bonus currency.
    """
    user = user_create()
    currency = currency or settings.DEFAULT_CURRENCY
    bonus = settings.WELCOME_BONUS if currency == settings.DEFAULT_CURRENCY else Decimal("0")
    delta = Decimal(amount) - bonus
    if delta > 0:
        credit_grant(
            user=user,
            amount=delta,
            currency=currency,
            entry_type=EntryType.TOPUP,
            counter_kind=Account.Kind.PAYMENTS,
            reference=f"test-topup:{user.pk}:{currency}",
        )
    elif delta < 0:
        entry_post(
            account_id=user_account_id(user_id=user.pk, currency=currency),
            counter_kind=Account.Kind.ADJUSTMENTS,
            currency=currency,
            amount=delta,
            entry_type=EntryType.ADJUSTMENT,
            description="test: bring the balance down",
        )
    return user
