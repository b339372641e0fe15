"""Builders for the generations tests: catalog models, jobs and their money, through the real services."""

from decimal import Decimal
from typing import Any

from accounts.models import EndUser
from billing.models import EntryType, Hold, LedgerEntry
from generations import services
from generations.models import AIModel, Generation
from tests.support.ledger import account_of

RUB = "RUB"


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


def money_of(user: EndUser) -> tuple[Decimal, Decimal]:
    """(balance, held) of the user's RUB account."""
    account = account_of(user, RUB)
    return account.balance, account.held


def charges_for(generation: Generation) -> list[LedgerEntry]:
    return list(LedgerEntry.objects.filter(type=EntryType.CHARGE, reference=f"generation:{generation.pk}"))


def hold_status(generation: Generation) -> str | None:
    if generation.hold_id is None:
        return None
    return Hold.objects.values_list("status", flat=True).get(pk=generation.hold_id)


def create_body(
    user: EndUser, model: AIModel, prompt: str = "a red fox", **parameters: Any
) -> dict[str, Any]:
    return {"user": user.display_ref, "model": model.code, "prompt": prompt, "parameters": parameters}
