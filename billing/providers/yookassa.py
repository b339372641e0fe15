"""YooKassa behind a small interface: the real HTTP client in production, a fake without network elsewhere.

`YOOKASSA_MODE=fake` (the default outside production) answers a local provider payment id and
confirmation URL, so the whole flow (create, then the webhook) runs offline and in tests.
"""

import logging
import re
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol
from urllib.parse import quote

import httpx
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from billing.errors import BillingError
from core.http import outgoing_client

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
class ProviderRefund:
    provider_refund_id: str
    status: str  # pending | succeeded | canceled


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
        receipt: dict | None = None,
    ) -> ProviderPayment: ...

    def refund_create(
        self,
        *,
        provider_payment_id: str,
        amount: Decimal,
        currency: str,
        description: str,
        idempotence_key: str,
        receipt: dict | None = None,
    ) -> ProviderRefund: ...

    def refund_fetch(self, *, provider_refund_id: str) -> ProviderPaymentState | None: ...


# --- 54-FZ receipts ----------------------------------------------------------------------------

# https://yookassa.ru/developers/payment-acceptance/receipts/54fz/yoomoney/parameters-values
VAT_CODES = range(1, 13)
PAYMENT_SUBJECTS = frozenset(
    {
        "commodity",
        "excise",
        "job",
        "service",
        "gambling_bet",
        "gambling_prize",
        "lottery",
        "lottery_prize",
        "intellectual_activity",
        "payment",
        "agent_commission",
        "property_right",
        "non_operating_gain",
        "insurance_premium",
        "sales_tax",
        "resort_fee",
        "composite",
        "another",
    }
)
PAYMENT_MODES = frozenset(
    {
        "full_prepayment",
        "partial_prepayment",
        "advance",
        "full_payment",
        "partial_payment",
        "credit",
        "credit_payment",
    }
)
PHONE_RE = re.compile(r"^[0-9]{11,15}$")
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


def receipt_build(*, customer: dict[str, str], description: str, amount: Decimal, currency: str) -> dict:
    """The 54-FZ receipt YooKassa sends to the tax service: one service, paid in full."""
    return {
        "customer": customer,
        "items": [
            {
                "description": description[:128],
                "quantity": "1.00",
                "amount": {"value": f"{amount:.2f}", "currency": currency},
                "vat_code": settings.YOOKASSA_VAT_CODE,
                "payment_subject": "service",
                "payment_mode": "full_payment",
            }
        ],
    }


def receipt_problems(receipt: dict, *, amount: Decimal, currency: str) -> dict[str, str]:
    """What YooKassa would refuse in a receipt (400 invalid_request), by field; {} when it is valid."""
    problems: dict[str, str] = {}
    customer = receipt.get("customer") or {}
    if not (customer.get("email") or customer.get("phone")):
        problems["receipt.customer"] = "email or phone is required"
    if customer.get("phone") and not PHONE_RE.match(str(customer["phone"])):
        problems["receipt.customer.phone"] = "ITU-T E.164 digits, e.g. 79000000000"
    if customer.get("email") and not EMAIL_RE.match(str(customer["email"])):
        problems["receipt.customer.email"] = "not an email address"
    items = receipt.get("items") or []
    if not items or len(items) > 100:
        problems["receipt.items"] = "1 to 100 items"
    total = Decimal("0.00")
    for index, item in enumerate(items):
        where = f"receipt.items.{index}"
        if not str(item.get("description", "")).strip() or len(str(item.get("description", ""))) > 128:
            problems[f"{where}.description"] = "1 to 128 characters"
        try:
            quantity = Decimal(str(item.get("quantity")))
            value = Decimal(str(item["amount"]["value"]))
        except (ArithmeticError, KeyError, TypeError):
            problems[f"{where}.amount"] = "quantity and amount.value are required decimals"
            continue
        if quantity <= 0:
            problems[f"{where}.quantity"] = "must be positive"
        if item["amount"].get("currency") != currency:
            problems[f"{where}.amount.currency"] = f"must be {currency}"
        if item.get("vat_code") not in VAT_CODES:
            problems[f"{where}.vat_code"] = "1 to 12"
        if item.get("payment_subject") not in PAYMENT_SUBJECTS:
            problems[f"{where}.payment_subject"] = "not a YooKassa payment_subject"
        if item.get("payment_mode") not in PAYMENT_MODES:
            problems[f"{where}.payment_mode"] = "not a YooKassa payment_mode"
        total += value * quantity
    if items and total != amount:
        problems["receipt.items.amount"] = f"the items add up to {total:.2f}, not {amount:.2f}"
    return problems


def _receipt_check(receipt: dict | None, *, amount: Decimal, currency: str) -> None:
    """The fake's stand-in for YooKassa's 400 on a bad receipt: the same 422 the live client gives."""
    if receipt is not None and (problems := receipt_problems(receipt, amount=amount, currency=currency)):
        raise BillingError("YooKassa would refuse the receipt.", code="validation_error", details=problems)


class FakeYooKassaClient:
    """No network; answers like YooKassa would, receipts validated the same way, ids derived from the key."""

    def payment_fetch(self, *, provider_payment_id: str) -> ProviderPaymentState | None:
        # Offline there is no one to ask: the notification is taken as it comes.
        return None

    def refund_fetch(self, *, provider_refund_id: str) -> ProviderPaymentState | None:
        return None

    def payment_create(
        self,
        *,
        amount: Decimal,
        currency: str,
        description: str,
        metadata: dict[str, str],
        idempotence_key: str,
        receipt: dict | None = None,
    ) -> ProviderPayment:
        _receipt_check(receipt, amount=amount, currency=currency)
        # Derived from the idempotence key, like the real API: a retried request names the same payment.
        payment_id = f"fake-{uuid.uuid5(uuid.NAMESPACE_URL, idempotence_key)}"
        return ProviderPayment(payment_id, "pending", FAKE_CHECKOUT_URL + payment_id)

    def refund_create(
        self,
        *,
        provider_payment_id: str,
        amount: Decimal,
        currency: str,
        description: str,
        idempotence_key: str,
        receipt: dict | None = None,
    ) -> ProviderRefund:
        _receipt_check(receipt, amount=amount, currency=currency)
        # Pending, like a payment: the webhook's refund.succeeded settles it, so that path runs offline.
        return ProviderRefund(f"fake-refund-{uuid.uuid5(uuid.NAMESPACE_URL, idempotence_key)}", "pending")


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
        receipt: dict | None = None,
    ) -> ProviderPayment:
        body = {
            "amount": {"value": f"{amount:.2f}", "currency": currency},
            "capture": True,
            "confirmation": {"type": "redirect", "return_url": self.return_url},
            "description": description[:128],
            "metadata": metadata,
        }
        if receipt is not None:
            body["receipt"] = receipt
        data = self._post("payments", body, idempotence_key=idempotence_key, what="payment")
        try:
            return ProviderPayment(data["id"], data["status"], data["confirmation"]["confirmation_url"])
        except (KeyError, TypeError) as exc:
            logger.error("Unexpected YooKassa answer: %s", str(data)[:500])
            raise _unavailable() from exc

    def refund_create(
        self,
        *,
        provider_payment_id: str,
        amount: Decimal,
        currency: str,
        description: str,
        idempotence_key: str,
        receipt: dict | None = None,
    ) -> ProviderRefund:
        """https://yookassa.ru/developers/api#create_refund: succeeded or canceled at once, or pending."""
        body = {
            "payment_id": provider_payment_id,
            "amount": {"value": f"{amount:.2f}", "currency": currency},
            "description": description[:250],
        }
        if receipt is not None:
            body["receipt"] = receipt
        data = self._post("refunds", body, idempotence_key=idempotence_key, what="refund")
        try:
            return ProviderRefund(data["id"], data["status"])
        except (KeyError, TypeError) as exc:
            logger.error("Unexpected YooKassa answer: %s", str(data)[:500])
            raise _unavailable() from exc

    def _post(self, resource: str, body: dict, *, idempotence_key: str, what: str) -> dict:
        try:
            with outgoing_client(auth=self.auth, timeout=self.timeout, transport=self.transport) as client:
                response = client.post(
                    f"{self.api_url}/{resource}", json=body, headers={"Idempotence-Key": idempotence_key}
                )
        except httpx.HTTPError as exc:
            logger.warning("YooKassa unreachable: %s", exc)
            raise _unavailable() from exc
        if response.status_code == 400:
            description = _error_description(response)
            raise BillingError(
                f"YooKassa refused the {what}: {description}",
                code="validation_error",
                details={"provider": description},
            )
        if response.status_code != 200:
            # 401/403 are our misconfiguration, 429/5xx are theirs: either way the client may retry later.
            logger.error("YooKassa answered %s: %s", response.status_code, response.text[:500])
            raise _unavailable()
        try:
            data = response.json()
        except ValueError as exc:
            logger.error("Unexpected YooKassa answer: %s", response.text[:500])
            raise _unavailable() from exc
        if not isinstance(data, dict):
            logger.error("Unexpected YooKassa answer: %s", response.text[:500])
            raise _unavailable()
        return data

    def payment_fetch(self, *, provider_payment_id: str) -> ProviderPaymentState | None:
        """The payment as YooKassa knows it: a notification is trusted only when this agrees with it."""
        return self._fetch("payments", provider_payment_id)

    def refund_fetch(self, *, provider_refund_id: str) -> ProviderPaymentState | None:
        """The refund as YooKassa knows it, for `refund.succeeded` notifications."""
        return self._fetch("refunds", provider_refund_id)

    def _fetch(self, resource: str, provider_id: str) -> ProviderPaymentState:
        try:
            with outgoing_client(auth=self.auth, timeout=self.timeout, transport=self.transport) as client:
                response = client.get(f"{self.api_url}/{resource}/{quote(provider_id, safe='')}")
        except httpx.HTTPError as exc:
            logger.warning("YooKassa unreachable: %s", exc)
            raise _unavailable() from exc
        if response.status_code == 404:
            return ProviderPaymentState(provider_id, "not_found", Decimal("0"), "")
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
