"""billing's sections of the user card and facts of the user list (accounts.card)."""

from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from accounts.card import CARD_ROWS, CardSection, register_user_card_section, register_user_list_facts
from accounts.models import EndUser
from billing import selectors
from billing.references import ledger_entries_describe_shown


def _changelist(model: str, **filters: Any) -> str:
    query = "&".join(f"{name}={value}" for name, value in filters.items())
    return f"{reverse(f'admin:billing_{model}_changelist')}?{query}"


def balances_section(user: EndUser) -> dict[str, Any]:
    accounts = list(selectors.user_accounts(user=user).order_by("currency"))
    subscription = selectors.subscription_current(user=user)
    return {
        "accounts": [
            {
                "account": account,
                "available": account.balance - account.held,
                "adjust_url": reverse("admin:billing_account_adjust", args=[account.pk]),
                "ledger_url": _changelist("ledgerentry", account=account.pk),
            }
            for account in accounts
        ],
        "default_currency": settings.DEFAULT_CURRENCY,
        "subscription": subscription,
        "grant_url": reverse("admin:billing_promoredemption_grant", args=[user.pk]),
    }


def ledger_section(user: EndUser) -> dict[str, Any]:
    entries = selectors.ledger_entries_newest_for_user(user=user, limit=CARD_ROWS)
    # A charge's text comes from its job: one query for the whole section, only when it shows charges.
    ledger_entries_describe_shown(entries)
    return {
        "entries": entries,
        "all_url": _changelist("ledgerentry", user=user.pk),
        "wide": True,
    }


def payments_section(user: EndUser) -> dict[str, Any]:
    return {
        "payments": selectors.payments_newest_for_user(user=user, limit=CARD_ROWS),
        "all_url": _changelist("payment", user=user.pk),
    }


def promo_section(user: EndUser) -> dict[str, Any]:
    return {
        "redemptions": selectors.promo_redemptions_newest_for_user(user=user, limit=CARD_ROWS),
        "all_url": _changelist("promoredemption", user=user.pk),
    }


SECTIONS = (
    # key, title, template, permission, build, order
    (
        "balances",
        _("Balance and subscription"),
        "balances.html",
        "billing.view_account",
        balances_section,
        10,
    ),
    ("ledger", _("Newest ledger entries"), "ledger.html", "billing.view_ledgerentry", ledger_section, 20),
    ("payments", _("Newest payments"), "payments.html", "billing.view_payment", payments_section, 30),
    ("promo", _("Promo codes redeemed"), "promo.html", "billing.view_promoredemption", promo_section, 60),
)
for key, title, template, permission, build, order in SECTIONS:
    register_user_card_section(
        CardSection(key, title, f"admin/billing/card/{template}", permission, build, order=order)
    )
register_user_list_facts("billing", selectors.user_list_facts)
