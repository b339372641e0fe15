"""The user object of the API, assembled from accounts and the facets the apps above provide; the webhook."""

from decimal import Decimal
from typing import Any

from django.conf import settings

from accounts import events
from accounts.models import EndUser, WebhookEndpoint
from accounts.webhooks import webhook_events_of

ZERO = "0.00"


def default_balance() -> dict[str, str]:
    return {"currency": settings.DEFAULT_CURRENCY, "balance": ZERO, "held": ZERO, "available": ZERO}


def users_out(users: list[EndUser]) -> list[dict[str, Any]]:
    """Serialises users in a constant number of queries (one per registered facet)."""
    facets = events.user_facets(users)
    balances = facets.get("balance", {})
    subscriptions = facets.get("subscription", {})
    return [
        {
            "id": user.pk,
            "telegram_id": user.telegram_id,
            "device_id": user.device_id,
            "external_id": user.external_id,
            "username": user.username,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "language_code": user.language_code,
            "referrer": user.referrer.telegram_id if user.referrer_id else None,
            "balance": balances.get(user.pk) or default_balance(),
            "subscription": subscriptions.get(user.pk) or {"plan": "free", "expires_at": None},
            "is_blocked": user.is_blocked,
            "created_at": user.created_at,
        }
        for user in users
    ]


def user_out(user: EndUser) -> dict[str, Any]:
    return users_out([user])[0]


def money(value: Decimal) -> str:
    return f"{value:.2f}"


def webhook_out(endpoint: WebhookEndpoint, secret: str | None = None) -> dict[str, Any]:
    """The webhook as the API shows it; `secret` only in the answer that made it."""
    body = {"url": endpoint.url, "events": webhook_events_of(endpoint)}
    return body if secret is None else {**body, "secret": secret}
