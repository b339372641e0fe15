"""Payments: YooKassa top-ups confirmed by webhook, Telegram Stars credits, and referral rewards.

A top-up is credited in the same transaction as the conditional UPDATE that moves its payment from
`pending` to `succeeded`; the unique (provider, provider_payment_id) index and the ledger's unique
`payment:<id>` reference back that up, so a payment is credited at most once whatever arrives twice.
"""

import hashlib
import logging
from decimal import ROUND_DOWN, Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import BotEventType, EndUser
from accounts.services import bot_event_record, end_user_current, end_user_current_id
from billing.errors import BillingError
from billing.models import Account, EntryType, Payment, ProviderEvent, ReferralReward
from billing.presenters import payment_out
from billing.providers.yookassa import SUPPORTED_CURRENCIES, ProviderPayment, receipt_build, yookassa_client
from billing.services.ledger import currency_validate, entry_post, user_account_id

logger = logging.getLogger(__name__)

CENT = Decimal("0.01")
Outcome = ProviderEvent.Outcome
# Set by the UPDATE that resolves a payment: the payer is sent to the confirmation URL only while the
# payment is pending (bot-api.md, Payments), and clearing it in the same statement keeps every settled
# row about 100 bytes smaller at no extra write. Stored idempotent responses replay their own bytes.
RESOLVED_CLEARS = {"confirmation_url": ""}


def provider_idempotence_key(*, client_id: int, idempotency_key: str) -> str:
    """The key sent to the provider: a retry of the same client request names the same provider payment."""
    return hashlib.sha256(f"{client_id}:{idempotency_key}".encode()).hexdigest()[:64]


def payment_open(
    *,
    user: EndUser,
    amount: Decimal,
    currency: str,
    provider: str,
    idempotence_key: str,
    customer: dict[str, str] | None = None,
    description: str = "",
    api_key_id: int | None = None,
) -> Payment:
    """Records a YooKassa payment intent (pending, no provider id yet); committed before YooKassa is called.

    With YOOKASSA_RECEIPTS the buyer's email or phone (`customer`) is required: it goes on the 54-FZ
    receipt of the payment and of its refunds. `api_key_id` (the requesting bot's key) is whose webhook
    hears of its success or cancelation.
    """
    currency_validate(currency)
    if provider != Payment.Provider.YOOKASSA:
        raise BillingError(
            f"Unknown payment provider {provider!r}.",
            code="validation_error",
            details={"provider": "yookassa"},
        )
    if currency not in SUPPORTED_CURRENCIES:
        raise BillingError(
            f"{currency} cannot be paid through YooKassa.",
            code="validation_error",
            details={
                "currency": f"one of {', '.join(sorted(SUPPORTED_CURRENCIES & set(settings.CURRENCIES)))}"
            },
        )
    if amount <= 0:
        raise BillingError("A payment must be positive.", code="validation_error", details={"amount": "> 0"})
    customer = {name: value for name, value in (customer or {}).items() if value}
    if settings.YOOKASSA_RECEIPTS and not customer:
        raise BillingError(
            "A 54-FZ receipt needs the buyer's email or phone.",
            code="validation_error",
            details={
                "customer_email": "customer_email or customer_phone is required",
                "customer_phone": "customer_email or customer_phone is required",
            },
        )
    with transaction.atomic():
        payer = end_user_current(user=user)
        return Payment.objects.create(
            user=payer,
            provider=provider,
            provider_payment_id=None,
            provider_idempotence_key=idempotence_key,
            amount=amount,
            currency=currency,
            api_key_id=api_key_id,
            details={
                **({"receipt_customer": customer} if customer else {}),
                **({"description": description[:128]} if description else {}),
            },
        )


def payment_by_provider_key(*, provider_idempotence_key: str) -> Payment:
    """The intent an earlier attempt of the same request committed (the provider-call protocol's resume)."""
    payment = (
        Payment.objects.select_related("user")
        .filter(provider_idempotence_key=provider_idempotence_key)
        .first()
    )
    if payment is None:
        raise BillingError("The payment of this request is gone; use a new key.", code="conflict")
    return payment


def payment_description(payment: Payment) -> str:
    """What the buyer sees, and the item of the 54-FZ receipts of the payment and of its refunds."""
    return (payment.details or {}).get("description") or f"Balance top-up #{payment.pk}"


def payment_provider_ask(*, payment: Payment) -> ProviderPayment:
    """Asks YooKassa for the payment, outside any transaction; a retry sends the same Idempotence-Key."""
    return yookassa_client().payment_create(
        amount=payment.amount,
        currency=payment.currency,
        description=payment_description(payment),
        metadata={"user_id": str(payment.user_id), "payment_id": str(payment.pk)},
        idempotence_key=payment.provider_idempotence_key,
        receipt=payment_receipt(payment, amount=payment.amount),
    )


def payment_receipt(payment: Payment, *, amount: Decimal) -> dict | None:
    """The 54-FZ receipt for `amount` of this payment (the payment itself, or one of its refunds)."""
    customer = (payment.details or {}).get("receipt_customer")
    if not (settings.YOOKASSA_RECEIPTS and customer):
        return None
    return receipt_build(
        customer=customer, description=payment_description(payment), amount=amount, currency=payment.currency
    )


def payment_provider_answer(*, payment: Payment, answer: ProviderPayment) -> Payment:
    """Stores YooKassa's payment id and confirmation URL on the intent (once; a repeat finds them set)."""
    Payment.objects.filter(pk=payment.pk, provider_payment_id__isnull=True).update(
        provider_payment_id=answer.provider_payment_id, confirmation_url=answer.confirmation_url
    )
    stored = Payment.objects.select_related("user").get(pk=payment.pk)
    if stored.provider_payment_id != answer.provider_payment_id:
        raise BillingError("The provider returned another payment for this request.", code="conflict")
    return stored


def payment_provider_refused(*, payment: Payment, error_message: str) -> None:
    """YooKassa refused the payment (400): the intent is closed as canceled, nothing was charged."""
    Payment.objects.filter(pk=payment.pk, status=Payment.Status.PENDING).update(
        status=Payment.Status.CANCELED,
        resolved_at=timezone.now(),
        details={**(payment.details or {}), "refused": error_message[:255]},
        **RESOLVED_CLEARS,
    )


def payment_create(
    *,
    user: EndUser,
    amount: Decimal,
    currency: str,
    provider: str,
    idempotence_key: str,
    customer: dict[str, str] | None = None,
) -> Payment:
    """The three steps in a row, for callers without an HTTP request (the API runs them apart)."""
    existing = Payment.objects.filter(provider_idempotence_key=idempotence_key).first()
    payment = existing or payment_open(
        user=user,
        amount=amount,
        currency=currency,
        provider=provider,
        idempotence_key=idempotence_key,
        customer=customer,
    )
    return payment_provider_answer(payment=payment, answer=payment_provider_ask(payment=payment))


def _topup_credit(*, payment: Payment) -> None:
    """The top-up entry and the referrer's reward; runs inside the transaction that settled the payment."""
    beneficiary_id = end_user_current_id(user_id=payment.user_id)
    entry_post(
        account_id=user_account_id(user_id=beneficiary_id, currency=payment.currency),
        counter_kind=Account.Kind.PAYMENTS,
        currency=payment.currency,
        amount=payment.amount,
        entry_type=EntryType.TOPUP,
        reference=payment.ledger_reference,
        description=f"Top-up via {payment.get_provider_display()}",
    )
    _referral_reward_grant(payment=payment, beneficiary_id=beneficiary_id)


def _referral_reward_grant(*, payment: Payment, beneficiary_id: int) -> None:
    referrer_id = EndUser.objects.filter(pk=beneficiary_id).values_list("referrer_id", flat=True).first()
    if referrer_id is None:
        return
    # A referrer merged away since is the user it became, and that is never the payer themself.
    referrer_id = end_user_current_id(user_id=referrer_id)
    if referrer_id == beneficiary_id:
        return
    # Rounded down: the reward never exceeds the advertised percentage.
    amount = (payment.amount * settings.REFERRAL_REWARD_PERCENT / 100).quantize(CENT, rounding=ROUND_DOWN)
    if amount <= 0:
        return
    entry_post(
        account_id=user_account_id(user_id=referrer_id, currency=payment.currency),
        counter_kind=Account.Kind.REFERRAL_REWARDS,
        currency=payment.currency,
        amount=amount,
        entry_type=EntryType.REFERRAL_REWARD,
        reference=f"referral:{payment.pk}",
        description=f"Referral reward for payment #{payment.pk}",
    )
    ReferralReward.objects.create(
        referrer_id=referrer_id,
        referred_id=beneficiary_id,
        payment=payment,
        amount=amount,
        currency=payment.currency,
    )


# --- YooKassa notifications -------------------------------------------------------------------


def provider_event_record(*, provider: str, body: str, remote_addr: str | None) -> ProviderEvent:
    """Keeps the notification before anything else happens (autocommit), so even a failure is audited."""
    return ProviderEvent.objects.create(provider=provider, body=body, remote_addr=remote_addr)


def provider_event_mark(
    *, event_id: int, outcome: str, detail: str = "", event_type: str = "", provider_payment_id: str = ""
) -> None:
    ProviderEvent.objects.filter(pk=event_id).update(
        outcome=outcome,
        detail=detail[:255],
        event_type=event_type[:64],
        provider_payment_id=provider_payment_id[:128],
        processed_at=timezone.now(),
    )


def yookassa_notification_verify(
    *, event_type: str, provider_payment_id: str, amount: Decimal, currency: str
) -> str:
    """Asks YooKassa itself (live mode) whether the notification tells the truth; "" when it does.

    The secret URL keeps strangers out, but a leaked URL must not be enough to mint money.
    Runs before the transaction: a network call never holds a row lock.
    """
    client = yookassa_client()
    if event_type.startswith("refund."):
        state = client.refund_fetch(provider_refund_id=provider_payment_id)
    else:
        state = client.payment_fetch(provider_payment_id=provider_payment_id)
    if state is None:
        return ""
    expected_status = event_type.split(".", 1)[1]
    if state.status != expected_status:
        return f"YooKassa reports the payment as {state.status}, not {expected_status}"
    if (state.amount, state.currency) != (amount, currency):
        return (
            f"YooKassa reports {state.amount:.2f} {state.currency}, the notification {amount:.2f} {currency}"
        )
    return ""


def yookassa_notification_apply(
    *,
    event_id: int,
    event_type: str,
    provider_payment_id: str,
    amount: Decimal,
    currency: str,
    metadata_payment_id: str = "",
) -> tuple[str, Payment | None]:
    """Applies `payment.succeeded` / `payment.canceled` once; returns the outcome recorded on the event.

    The payment's status change, its credit and the event's outcome commit together. A payment whose
    creating request stopped after YooKassa answered (so its id was never stored) is found by the
    `payment_id` Botdesk put in the payment's metadata, and takes the id now.
    """
    now = timezone.now()
    with transaction.atomic():
        payment = _payment_for_notification(
            provider_payment_id=provider_payment_id, metadata_payment_id=metadata_payment_id
        )
        if payment is None:
            outcome, detail = Outcome.UNKNOWN_PAYMENT, f"no payment {provider_payment_id}"
        elif event_type == "payment.succeeded":
            outcome, detail = _succeeded_apply(payment=payment, amount=amount, currency=currency, now=now)
        elif event_type == "payment.canceled":
            outcome, detail = _canceled_apply(payment=payment, now=now)
        else:
            outcome, detail = Outcome.IGNORED, f"event {event_type} is not handled"
        ProviderEvent.objects.filter(pk=event_id).update(
            outcome=outcome,
            detail=detail[:255],
            event_type=event_type[:64],
            provider_payment_id=provider_payment_id[:128],
            payment=payment,
            processed_at=now,
        )
    if outcome == Outcome.MISMATCH:
        logger.warning("YooKassa notification %s not credited: %s", event_id, detail)
    return outcome, payment


def _payment_for_notification(*, provider_payment_id: str, metadata_payment_id: str) -> Payment | None:
    payments = Payment.objects.filter(provider=Payment.Provider.YOOKASSA).only(
        "pk", "user_id", "provider", "status", "amount", "currency", "api_key_id"
    )
    payment = payments.filter(provider_payment_id=provider_payment_id).first()
    if payment is None and metadata_payment_id.isdigit() and len(metadata_payment_id) < 19:
        adopted = payments.filter(pk=int(metadata_payment_id), provider_payment_id__isnull=True).update(
            provider_payment_id=provider_payment_id
        )
        payment = payments.filter(pk=int(metadata_payment_id)).first() if adopted else None
    return payment


def _succeeded_apply(*, payment: Payment, amount: Decimal, currency: str, now) -> tuple[str, str]:
    if (amount, currency) != (payment.amount, payment.currency):
        return Outcome.MISMATCH, (
            f"notified {amount:.2f} {currency}, payment #{payment.pk} was created for "
            f"{payment.amount:.2f} {payment.currency}"
        )
    settled = Payment.objects.filter(pk=payment.pk, status=Payment.Status.PENDING).update(
        status=Payment.Status.SUCCEEDED, resolved_at=now, **RESOLVED_CLEARS
    )
    if not settled:
        current = Payment.objects.values_list("status", flat=True).get(pk=payment.pk)
        if current == Payment.Status.SUCCEEDED:
            return Outcome.DUPLICATE, "already credited"
        return Outcome.IGNORED, f"payment is {current}"
    payment.status = Payment.Status.SUCCEEDED
    _topup_credit(payment=payment)
    _payment_event_record(payment_id=payment.pk, api_key_id=payment.api_key_id,
                          event_type=BotEventType.PAYMENT_SUCCEEDED)  # fmt: skip
    return Outcome.CREDITED, f"credited {payment.amount:.2f} {payment.currency}"


def _canceled_apply(*, payment: Payment, now) -> tuple[str, str]:
    canceled = Payment.objects.filter(pk=payment.pk, status=Payment.Status.PENDING).update(
        status=Payment.Status.CANCELED, resolved_at=now, **RESOLVED_CLEARS
    )
    if canceled:
        payment.status = Payment.Status.CANCELED
        _payment_event_record(payment_id=payment.pk, api_key_id=payment.api_key_id,
                              event_type=BotEventType.PAYMENT_CANCELED)  # fmt: skip
        return Outcome.CANCELED, "canceled"
    current = Payment.objects.values_list("status", flat=True).get(pk=payment.pk)
    if current == Payment.Status.CANCELED:
        return Outcome.DUPLICATE, "already canceled"
    return Outcome.IGNORED, f"payment is {current}; a succeeded payment is undone by a refund, not a cancel"


def _payment_event_record(*, payment_id: int, api_key_id: int | None, event_type: str) -> None:
    """The bot's event, in the transaction that settled the payment; the row is read only if a webhook
    takes it."""

    def data() -> dict:
        return payment_out(Payment.objects.select_related("user").get(pk=payment_id))

    bot_event_record(api_key_id=api_key_id, event_type=event_type, data=data)


# --- Telegram Stars ---------------------------------------------------------------------------


def telegram_stars_credit(
    *, user: EndUser, charge_id: str, total_amount: int, invoice_payload: str, api_key_id: int | None = None
) -> tuple[Payment, bool]:
    """Credits a successful Stars payment once per charge id; returns (payment, credited_now).

    A concurrent duplicate blocks on the unique index until the first commits, then finds its row.
    The first credit is a `payment.succeeded` event like any other payment's (bot-api.md, events: every
    payment that succeeds is reported, whoever reported it to Botdesk); a replay records none.
    """
    if total_amount <= 0:
        raise BillingError(
            "total_amount must be positive.", code="validation_error", details={"total_amount": "> 0"}
        )
    currency = settings.DEFAULT_CURRENCY
    amount = (Decimal(total_amount) * settings.TELEGRAM_STARS_RATE).quantize(CENT)
    if amount <= 0:
        raise BillingError("These stars are worth nothing at the current rate.", code="validation_error")
    details = {"currency": "XTR", "total_amount": total_amount, "invoice_payload": invoice_payload}
    with transaction.atomic():
        user = end_user_current(user=user)
        try:
            with transaction.atomic():
                payment = Payment.objects.create(
                    user=user,
                    provider=Payment.Provider.TELEGRAM_STARS,
                    provider_payment_id=charge_id,
                    status=Payment.Status.SUCCEEDED,
                    amount=amount,
                    currency=currency,
                    details=details,
                    resolved_at=timezone.now(),
                    api_key_id=api_key_id,
                )
        except IntegrityError:
            existing = (
                Payment.objects.select_related("user")
                .filter(provider=Payment.Provider.TELEGRAM_STARS, provider_payment_id=charge_id)
                .first()
            )
            if existing is None:
                raise
            # The payer may have been merged since the first credit: a replay names the user it became.
            payer_id = end_user_current_id(user_id=existing.user_id)
            if payer_id != user.pk or existing.details.get("total_amount") != total_amount:
                raise BillingError(
                    "This telegram_payment_charge_id was already credited with other details.",
                    code="conflict",
                    details={"telegram_payment_charge_id": charge_id},
                ) from None
            return existing, False
        _topup_credit(payment=payment)
        _payment_event_record(payment_id=payment.pk, api_key_id=api_key_id,
                              event_type=BotEventType.PAYMENT_SUCCEEDED)  # fmt: skip
    payment.user = user
    return payment, True
