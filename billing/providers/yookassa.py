"""YooKassa behind a small interface: the real HTTP client in production, a fake without network elsewhere.

`YOOKASSA_MODE=fake` (the default outside production) answers a local provider payment id and
confirmation URL, so the whole flow (create, then the webhook) runs offline and in tests.
"""

import logging
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol
from urllib.parse import quote

import httpx
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from billing.errors import BillingError
from config.http import outgoing_client

logger = logging.getLogger(__name__)

FAKE_CHECKOUT_URL = "https://yookassa.fake.invalid/checkout/"
# What YooKassa accepts; other ledger currencies (such as TOKENS) cannot be bought with a card.
SUPPORTED_CURRENCIES = frozenset({"RUB", "USD", "EUR", "BYN", "KZT", "UAH", "UZS"})


@dataclass(frozen=True)
class ProviderPayment:
    provider_payment_id: str
    status: str
    confirmation_url: str


@dataclass(frozen=True)
class ProviderPaymentState:
    provider_payment_id: str
    status: str
    amount: Decimal
    currency: str


class YooKassaClient(Protocol):
    def payment_fetch(self, *, provider_payment_id: str) -> ProviderPaymentState | None: ...

    def payment_create(
        self,
        *,
        amount: Decimal,
        currency: str,
        description: str,
        metadata: dict[str, str],
        idempotence_key: str,
    ) -> ProviderPayment: ...


class FakeYooKassaClient:
    def payment_fetch(self, *, provider_payment_id: str) -> ProviderPaymentState | None:
        # Offline there is no one to ask: the notification is taken as it comes.
        return None

    def payment_create(
        self,
        *,
        amount: Decimal,
        currency: str,
        description: str,
        metadata: dict[str, str],
        idempotence_key: str,
    ) -> ProviderPayment:
        # Derived from the idempotence key, like the real API: a retried request names the same payment.
        payment_id = f"fake-{uuid.uuid5(uuid.NAMESPACE_URL, idempotence_key)}"
        return ProviderPayment(payment_id, "pending", FAKE_CHECKOUT_URL + payment_id)


class HttpYooKassaClient:
    """https://yookassa.ru/developers/api#create_payment: basic auth, Idempotence-Key, one redirect step."""

    def __init__(
        self,
        *,
        shop_id: str,
        secret_key: str,
        api_url: str,
        timeout: float,
        return_url: str,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not shop_id or not secret_key:
            raise ImproperlyConfigured("YOOKASSA_SHOP_ID and YOOKASSA_SECRET_KEY are required in live mode.")
        self.auth = httpx.BasicAuth(shop_id, secret_key)
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout
        self.return_url = return_url
        self.transport = transport

    def payment_create(
        self,
        *,
        amount: Decimal,
        currency: str,
        description: str,
        metadata: dict[str, str],
        idempotence_key: str,
    ) -> ProviderPayment:
        body = {
            "amount": {"value": f"{amount:.2f}", "currency": currency},
            "capture": True,
            "confirmation": {"type": "redirect", "return_url": self.return_url},
            "description": description[:128],
            "metadata": metadata,
        }
        try:
            with outgoing_client(auth=self.auth, timeout=self.timeout, transport=self.transport) as client:
                response = client.post(
                    f"{self.api_url}/payments", json=body, headers={"Idempotence-Key": idempotence_key}
                )
        except httpx.HTTPError as exc:
            logger.warning("YooKassa unreachable: %s", exc)
            raise _unavailable() from exc
        if response.status_code == 400:
            description = _error_description(response)
            raise BillingError(
                f"YooKassa refused the payment: {description}",
                code="validation_error",
                details={"provider": description},
            )
        if response.status_code != 200:
            # 401/403 are our misconfiguration, 429/5xx are theirs: either way the client may retry later.
            logger.error("YooKassa answered %s: %s", response.status_code, response.text[:500])
            raise _unavailable()
        try:
            data = response.json()
            return ProviderPayment(data["id"], data["status"], data["confirmation"]["confirmation_url"])
        except (ValueError, KeyError, TypeError) as exc:
            logger.error("Unexpected YooKassa answer: %s", response.text[:500])
            raise _unavailable() from exc

    def payment_fetch(self, *, provider_payment_id: str) -> ProviderPaymentState | None:
        """The payment as YooKassa knows it: a notification is trusted only when this agrees with it."""
        try:
            with outgoing_client(auth=self.auth, timeout=self.timeout, transport=self.transport) as client:
                response = client.get(f"{self.api_url}/payments/{quote(provider_payment_id, safe='')}")
        except httpx.HTTPError as exc:
            logger.warning("YooKassa unreachable: %s", exc)
            raise _unavailable() from exc
        if response.status_code == 404:
            return ProviderPaymentState(provider_payment_id, "not_found", Decimal("0"), "")
        if response.status_code != 200:
            logger.error("YooKassa answered %s: %s", response.status_code, response.text[:500])
            raise _unavailable()
        try:
            data = response.json()
            return ProviderPaymentState(
                data["id"], data["status"], Decimal(data["amount"]["value"]), data["amount"]["currency"]
            )
        except (ValueError, KeyError, TypeError, ArithmeticError) as exc:
            logger.error("Unexpected YooKassa answer: %s", response.text[:500])
            raise _unavailable() from exc


def _error_description(response: httpx.Response) -> str:
    try:
        return str(response.json().get("description", "bad request"))[:200]
    except ValueError:
        return "bad request"


def _unavailable() -> BillingError:
    return BillingError(
        "The payment provider is unavailable; retry shortly.", code="service_unavailable", retry_after=30
    )


def yookassa_client() -> YooKassaClient:
    mode = settings.YOOKASSA_MODE
    if mode == "fake":
        return FakeYooKassaClient()
    if mode != "live":
        raise ImproperlyConfigured(f"YOOKASSA_MODE must be 'fake' or 'live', not {mode!r}.")
    return HttpYooKassaClient(
        shop_id=settings.YOOKASSA_SHOP_ID,
        secret_key=settings.YOOKASSA_SECRET_KEY,
        api_url=settings.YOOKASSA_API_URL,
        timeout=settings.YOOKASSA_TIMEOUT_SECONDS,
        return_url=settings.YOOKASSA_RETURN_URL,
    )
