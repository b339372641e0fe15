"""The plans that exist after migrate (free, pro, premium); operators edit them in the admin."""

from decimal import Decimal

DEFAULT_PLANS = [
    {
        "code": "free",
        "name": "Free",
        "price": Decimal("0.00"),
        "period_days": 30,
        "limits": {"per_minute": 5, "concurrent": 1, "per_day": 50},
        "sort_order": 0,
    },
    {
        "code": "pro",
        "name": "Pro",
        "price": Decimal("490.00"),
        "period_days": 30,
        "limits": {"per_minute": 20, "concurrent": 3, "per_day": 500},
        "sort_order": 1,
    },
    {
        "code": "premium",
        "name": "Premium",
        "price": Decimal("1490.00"),
        "period_days": 30,
        "limits": {"per_minute": 60, "concurrent": 10, "per_day": None},
        "sort_order": 2,
    },
]


def plans_ensure_defaults(plan_model=None) -> None:
    """Creates the default plans that are missing; never overwrites an operator's edits."""
    if plan_model is None:
        from billing.models import Plan as plan_model
    for plan in DEFAULT_PLANS:
        plan_model.objects.get_or_create(code=plan["code"], defaults={**plan, "currency": "RUB"})
