"""Builders for the generations tests: users with money, catalog models, jobs, through the real services."""

from decimal import Decimal
from itertools import count
from typing import Any

from django.conf import settings

from accounts.models import EndUser
from accounts.services import end_user_upsert
from billing.checks import ledger_invariants_check
from billing.models import Account, EntryType, Hold, LedgerEntry
from billing.services import credit_grant, entry_post, user_account_id
from generations import services
from generations.models import AIModel, Generation

_ids = count(7_100_000)
RUB = "RUB"


def user_create(*, anonymous: bool = False) -> EndUser:
    """A user created the way the API creates one: the welcome bonus comes with it."""
    ref = f"device:gen-{next(_ids)}" if anonymous else str(next(_ids))
    user, _ = end_user_upsert(ref=ref, profile={})
    return user


def user_funded(amount: Decimal | str) -> EndUser:
    """A registered user whose available RUB balance is exactly `amount`."""
    user = user_create()
    delta = Decimal(amount) - settings.WELCOME_BONUS
    if delta > 0:
        credit_grant(
            user=user,
            amount=delta,
            currency=RUB,
            entry_type=EntryType.TOPUP,
            counter_kind=Account.Kind.PAYMENTS,
            reference=f"gen-test-topup:{user.pk}",
        )
    elif delta < 0:
        entry_post(
            account_id=user_account_id(user_id=user.pk, currency=RUB),
            counter_kind=Account.Kind.ADJUSTMENTS,
            currency=RUB,
            amount=delta,
            entry_type=EntryType.ADJUSTMENT,
            description="test: bring the balance down",
        )
    return user


def model_create(code: str = "flux-test", *, price: str = "6.00", is_active: bool = True) -> AIModel:
    price_value = Decimal(price)
    model, _ = AIModel.objects.get_or_create(
        code=code,
        defaults={
            "name": code.upper(),
            "category": AIModel.Category.IMAGE,
            "provider": "test",
            "price": price_value,
            "currency": RUB,
            "is_free": price_value == 0,
            "is_active": is_active,
        },
    )
    return model


def generation_make(user: EndUser, model: AIModel, *, prompt: str = "a cat", **kwargs: Any) -> Generation:
    return services.generation_create(user=user, model_code=model.code, prompt=prompt, parameters=kwargs)


def account_of(user: EndUser) -> Account:
    return Account.objects.get(kind=Account.Kind.USER, owner=user, currency=RUB)


def money_of(user: EndUser) -> tuple[Decimal, Decimal]:
    """(balance, held) of the user's RUB account."""
    account = account_of(user)
    return account.balance, account.held


def charges_for(generation: Generation) -> list[LedgerEntry]:
    return list(LedgerEntry.objects.filter(type=EntryType.CHARGE, reference=f"generation:{generation.pk}"))


def hold_status(generation: Generation) -> str | None:
    if generation.hold_id is None:
        return None
    return Hold.objects.values_list("status", flat=True).get(pk=generation.hold_id)


def assert_ledger_clean() -> None:
    failures = [
        (result.invariant, result.detail, result.samples)
        for result in ledger_invariants_check()
        if not result.ok
    ]
    assert failures == []


def create_body(
    user: EndUser, model: AIModel, prompt: str = "a red fox", **parameters: Any
) -> dict[str, Any]:
    return {"user": user.display_ref, "model": model.code, "prompt": prompt, "parameters": parameters}
