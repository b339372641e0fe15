"""Refunds: money of a succeeded payment given back through its provider, and charges given back.

Payment refunds (bot-api.md, Refunds). The refunds of a payment never add up to more than it credited
(invariant 8): `Payment.refunded_amount` counts what pending and succeeded refunds have taken, moved by
one conditional UPDATE under the payment's row lock and backed by a CHECK. While a refund is pending,
its amount is held on the payer's balance (hold `refund:<id>`), so it cannot be spent meanwhile and the
debit cannot fail later; success turns the hold into the ledger `refund` debit, failure releases it and
gives the amount back to what is left to refund.

YooKassa refunds are asked of YooKassa outside any transaction (the API's provider-call protocol,
billing.idempotency.idempotent_provider_call): `refund_open` commits the intent and the hold,
`refund_provider_answer` stores YooKassa's answer; `refund.succeeded` reaches the webhook through
`yookassa_refund_notification_apply`. Telegram Stars refunds are reported by the bot after it called
`refundStarPayment` (`refund_status_set`).

Charge refunds give a captured hold's charge back (a bad generation), at most once per hold; once the
resolved hold was deleted by retention, from the ledger's charge of the hold's reference.
"""

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import ApiKey, BotEventType, EndUser, Operator
from accounts.services import bot_event_record, end_user_current_id
from billing.errors import BillingError
from billing.models import Account, ChargeRefund, EntryType, Hold, LedgerEntry, Payment, ProviderEvent, Refund
from billing.presenters import refund_out
from billing.providers.yookassa import ProviderRefund, yookassa_client
from billing.services.ledger import (
    entry_post,
    hold_capture_refund,
    hold_create,
    hold_release,
    user_account_id,
)
from billing.services.payments import payment_receipt

logger = logging.getLogger(__name__)
Outcome = ProviderEvent.Outcome
REASON_MAX_LENGTH = 255


def _refund_not_allowed(message: str, **details) -> BillingError:
    return BillingError(message, code="conflict", details=details)


def refund_open(
    *,
    payment_id: int,
    amount: Decimal | None,
    reason: str = "",
    api_key: ApiKey | None = None,
    operator: Operator | None = None,
    provider_idempotence_key: str | None = None,
) -> Refund:
    """Records a pending refund and holds its amount on the payer's balance (committed before any provider call).

    `amount` defaults to what is left to refund. 404 unknown payment; 409 when the payment is not
    succeeded or the amount is more than is left; 402 when the payer's available balance is short.
    Concurrent refunds of one payment wait for each other on the payment's row, so they never add up
    to more than it credited.
    """
    if amount is not None and amount <= 0:
        raise BillingError("A refund must be positive.", code="validation_error", details={"amount": "> 0"})
    with transaction.atomic():
        payment = (
            Payment.objects.select_for_update(no_key=True)
            .only(
                "pk",
                "user_id",
                "provider",
                "provider_payment_id",
                "status",
                "amount",
                "currency",
                "refunded_amount",
                "details",
            )
            .filter(pk=payment_id)
            .first()
        )
        if payment is None:
            raise BillingError(f"No payment {payment_id}.", code="not_found", details={"payment": payment_id})
        if payment.status != Payment.Status.SUCCEEDED:
            raise _refund_not_allowed(f"Payment {payment_id} is {payment.status}.", payment=payment.status)
        left = payment.amount - payment.refunded_amount
        amount = left if amount is None else amount
        if left <= 0 or amount > left:
            raise _refund_not_allowed(
                f"Only {left:.2f} {payment.currency} of payment {payment_id} is left to refund.",
                amount=f"at most {left:.2f}",
            )
        if payment.provider == Payment.Provider.TELEGRAM_STARS and amount != payment.amount:
            # refundStarPayment gives the whole charge back; a part of it cannot be refunded.
            raise BillingError(
                "A Telegram Stars payment is refunded whole.",
                code="validation_error",
                details={"amount": f"{payment.amount:.2f} (the whole payment) or omitted"},
            )
        Payment.objects.filter(pk=payment.pk).update(refunded_amount=F("refunded_amount") + amount)
        payer_id = end_user_current_id(user_id=payment.user_id)
        refund = Refund.objects.create(
            payment=payment,
            provider=payment.provider,
            provider_idempotence_key=provider_idempotence_key,
            amount=amount,
            currency=payment.currency,
            reason=reason.strip()[:REASON_MAX_LENGTH],
            api_key=api_key,
            operator=operator,
        )
        hold = hold_create(
            user=EndUser(pk=payer_id),
            amount=amount,
            currency=payment.currency,
            reference=refund.ledger_reference,
            expires_at=timezone.now() + timedelta(seconds=settings.REFUND_HOLD_TTL_SECONDS),
        )
        refund.hold = hold
        refund.save(update_fields=["hold"])
    refund.payment = payment
    return refund


def refund_by_provider_key(*, provider_idempotence_key: str) -> Refund:
    """The refund an earlier attempt of the same request committed (the provider-call protocol's resume)."""
    refund = (
        Refund.objects.select_related("payment")
        .filter(provider_idempotence_key=provider_idempotence_key)
        .first()
    )
    if refund is None:
        raise BillingError("The refund of this request is gone; use a new key.", code="conflict")
    return refund


def refund_provider_ask(*, refund: Refund) -> ProviderRefund:
    """Asks YooKassa for the refund, outside any transaction, with the refund's own Idempotence-Key."""
    payment = refund.payment
    return yookassa_client().refund_create(
        provider_payment_id=payment.provider_payment_id,
        amount=refund.amount,
        currency=refund.currency,
        description=refund.reason or f"Refund of payment #{payment.pk}",
        idempotence_key=refund.provider_idempotence_key,
        receipt=payment_receipt(payment, amount=refund.amount),
    )


def refund_provider_answer(*, refund: Refund, answer: ProviderRefund) -> Refund:
    """Stores YooKassa's answer: its refund id, and the outcome when it decided at once."""
    with transaction.atomic():
        Refund.objects.filter(pk=refund.pk, provider_refund_id__isnull=True).update(
            provider_refund_id=answer.provider_refund_id
        )
        if answer.status == "succeeded":
            _refund_succeed(refund_id=refund.pk)
        elif answer.status == "canceled":
            _refund_fail(refund_id=refund.pk, error_message="YooKassa canceled the refund")
    return refund_get_fresh(refund_id=refund.pk)


def refund_provider_refused(*, refund: Refund, error_message: str) -> None:
    """YooKassa refused the refund outright (400): it failed, the hold and the refundable amount come back."""
    with transaction.atomic():
        _refund_fail(refund_id=refund.pk, error_message=error_message)


def refund_get_fresh(*, refund_id: int) -> Refund:
    return Refund.objects.select_related("payment").get(pk=refund_id)


def _refund_succeed(*, refund_id: int) -> bool:
    """pending -> succeeded and the hold becomes the `refund` debit; False when it was not pending."""
    now = timezone.now()
    moved = Refund.objects.filter(pk=refund_id, status=Refund.Status.PENDING).update(
        status=Refund.Status.SUCCEEDED, resolved_at=now
    )
    if not moved:
        return False
    refund = Refund.objects.only("pk", "hold_id", "currency", "payment_id", "amount", "api_key_id").get(
        pk=refund_id
    )
    description = f"Refund #{refund.pk} of payment #{refund.payment_id}"
    if not hold_capture_refund(hold_id=refund.hold_id, currency=refund.currency, description=description):
        # The hold outlived REFUND_HOLD_TTL_SECONDS and was released: the provider has paid the money
        # back all the same, so the debit is written now (402 if the payer spent it meanwhile).
        account_id = Hold.objects.values_list("account_id", flat=True).get(pk=refund.hold_id)
        logger.error("Refund %s succeeded after its hold expired; debiting directly", refund.pk)
        entry_post(
            account_id=account_id,
            counter_kind=Account.Kind.PAYMENTS,
            currency=refund.currency,
            amount=-refund.amount,
            entry_type=EntryType.REFUND,
            reference=f"refund-late:{refund.pk}",
            description=description,
        )
    # The bot that asked for the refund hears of it in this transaction (an outbox row), whichever of the
    # three ways it succeeded: YooKassa at once, its refund.succeeded notification, or the bot's report.
    bot_event_record(
        api_key_id=refund.api_key_id,
        event_type=BotEventType.REFUND_SUCCEEDED,
        data=lambda: refund_out(Refund.objects.get(pk=refund_id)),
    )
    return True


def _refund_fail(*, refund_id: int, error_message: str) -> bool:
    """pending -> failed: the hold is released and the amount is refundable again."""
    moved = Refund.objects.filter(pk=refund_id, status=Refund.Status.PENDING).update(
        status=Refund.Status.FAILED, resolved_at=timezone.now(), error_message=error_message[:500]
    )
    if not moved:
        return False
    refund = Refund.objects.only("pk", "hold_id", "payment_id", "amount").get(pk=refund_id)
    hold_release(hold_id=refund.hold_id)
    Payment.objects.filter(pk=refund.payment_id).update(refunded_amount=F("refunded_amount") - refund.amount)
    return True


def refund_status_set(*, refund_id: int, status: str, error_message: str = "") -> Refund:
    """The bot reports a Telegram Stars refund: `succeeded` debits the held amount, `failed` releases it.

    The same final status again is a no-op; a different one is 409. YooKassa refunds are settled by
    YooKassa (the webhook), not by the bot.
    """
    if status not in (Refund.Status.SUCCEEDED, Refund.Status.FAILED):
        raise BillingError(
            f"Cannot set status {status!r}.",
            code="validation_error",
            details={"status": "succeeded or failed"},
        )
    with transaction.atomic():
        refund = Refund.objects.select_for_update().filter(pk=refund_id).first()
        if refund is None:
            raise BillingError(f"No refund {refund_id}.", code="not_found", details={"refund": refund_id})
        if refund.provider != Payment.Provider.TELEGRAM_STARS and refund.status == Refund.Status.PENDING:
            raise _refund_not_allowed(
                "YooKassa reports this refund's outcome itself.", provider=refund.provider
            )
        if refund.status == Refund.Status.PENDING:
            if status == Refund.Status.SUCCEEDED:
                _refund_succeed(refund_id=refund.pk)
            else:
                _refund_fail(refund_id=refund.pk, error_message=error_message or "refundStarPayment failed")
        elif refund.status != status:
            raise _refund_not_allowed(f"Refund {refund_id} is already {refund.status}.", status=refund.status)
    return refund_get_fresh(refund_id=refund_id)


def yookassa_refund_notification_apply(
    *, event_id: int, provider_refund_id: str, amount: Decimal, currency: str
) -> tuple[str, Refund | None]:
    """Applies `refund.succeeded` once; returns the outcome recorded on the event."""
    now = timezone.now()
    with transaction.atomic():
        refund = (
            Refund.objects.select_for_update()
            .filter(provider=Payment.Provider.YOOKASSA, provider_refund_id=provider_refund_id)
            .first()
        )
        if refund is None:
            outcome, detail = Outcome.UNKNOWN_PAYMENT, f"no refund {provider_refund_id}"
        elif (amount, currency) != (refund.amount, refund.currency):
            outcome = Outcome.MISMATCH
            detail = f"notified {amount:.2f} {currency}, refund #{refund.pk} is {refund.amount:.2f} {refund.currency}"
        elif _refund_succeed(refund_id=refund.pk):
            outcome, detail = Outcome.REFUNDED, f"refunded {refund.amount:.2f} {refund.currency}"
        elif refund.status == Refund.Status.SUCCEEDED:
            outcome, detail = Outcome.DUPLICATE, "already refunded"
        else:
            outcome, detail = Outcome.IGNORED, f"refund is {refund.status}"
        ProviderEvent.objects.filter(pk=event_id).update(
            outcome=outcome,
            detail=detail[:255],
            event_type="refund.succeeded",
            provider_payment_id=provider_refund_id[:128],
            payment_id=refund.payment_id if refund else None,
            processed_at=now,
        )
    if outcome == Outcome.MISMATCH:
        logger.warning("YooKassa refund notification %s not applied: %s", event_id, detail)
    return outcome, refund


# --- Charge refunds ----------------------------------------------------------------------------


# A charge's time as the caller knows it (a job's completion, the app server's clock) and the ledger's
# (the database's clock) differ by the request's own latency plus any clock drift between the two hosts:
# the ledger is searched this far either side, a few BRIN block ranges of ledger_entry_created_brin.
CHARGE_LOOKUP_MARGIN = timedelta(hours=6)


@dataclass(frozen=True)
class ChargeRef:
    """What the caller knows of a charge whose hold may be gone: its reference and about when it was made."""

    reference: str
    charged_at: datetime


@dataclass(frozen=True)
class _Charge:
    account_id: int
    owner_id: int
    currency: str
    amount: Decimal
    reference: str


def _charge_of_hold(hold_id: int) -> tuple[bool, _Charge | None]:
    """(hold kept, its charge): the hold is locked, so a concurrent refund of it waits for this one."""
    hold = Hold.objects.select_for_update(of=("self",)).select_related("account").filter(pk=hold_id).first()
    if hold is None:
        return False, None
    if hold.status != Hold.Status.CAPTURED or not hold.captured_amount:
        return True, None
    charge = _Charge(
        hold.account_id, hold.account.owner_id, hold.account.currency, hold.captured_amount, hold.reference
    )
    return True, charge


def _charge_in_ledger(charge: ChargeRef) -> _Charge | None:
    """The ledger's charge of a deleted hold: one by its reference, in a window the BRIN index narrows."""
    entries = list(
        LedgerEntry.objects.filter(
            type=EntryType.CHARGE,
            reference=charge.reference,
            created_at__gte=charge.charged_at - CHARGE_LOOKUP_MARGIN,
            created_at__lte=charge.charged_at + CHARGE_LOOKUP_MARGIN,
        ).values_list("account_id", "account__owner_id", "currency", "amount", "reference")[:2]
    )
    if len(entries) != 1:  # none, or a second charge of one hold, which ledger_check reports (5a)
        return None
    account_id, owner_id, currency, amount, reference = entries[0]
    return _Charge(account_id, owner_id, currency, -amount, reference)


def charge_refund(
    *,
    hold_id: int | None,
    charge: ChargeRef | None = None,
    reason: str = "",
    api_key: ApiKey | None = None,
    operator: Operator | None = None,
) -> tuple[ChargeRefund, bool]:
    """Gives a captured charge back as a `refund` credit, at most once; returns (refund, created now).

    409 when the hold was never charged. A repeat returns the first refund. The credit goes to the
    user the payer is now (following merged_into). A resolved hold is deleted after HOLD_RETENTION_DAYS;
    its charge is then found in the ledger through `charge` (without it, such a charge is 409 as never
    charged). At most once either way: the refund's hold id is unique, and so is its ledger reference
    `charge-refund:<hold id>`.
    """
    if hold_id is None:
        raise _refund_not_allowed("It was never charged, so there is nothing to refund.", charge="none")
    with transaction.atomic():
        kept, found = _charge_of_hold(hold_id)
        existing = ChargeRefund.objects.filter(hold_id=hold_id).first()
        if existing is not None:
            return existing, False
        if not kept and charge is not None:
            found = _charge_in_ledger(charge)
        if found is None:
            raise _refund_not_allowed("It was never charged, so there is nothing to refund.", charge="none")
        user_id = end_user_current_id(user_id=found.owner_id)
        try:
            # A savepoint: two refunds of a deleted hold have no row to lock, and the second one's INSERT
            # waits on the unique hold id until the first commits, then finds its refund.
            with transaction.atomic():
                refund = ChargeRefund.objects.create(
                    hold_id=hold_id,
                    reference=found.reference,
                    user_id=user_id,
                    amount=found.amount,
                    currency=found.currency,
                    reason=reason.strip()[:REASON_MAX_LENGTH],
                    api_key=api_key,
                    operator=operator,
                )
        except IntegrityError:
            existing = ChargeRefund.objects.filter(hold_id=hold_id).first()
            if existing is None:
                raise
            return existing, False
        entry_post(
            account_id=user_account_id(user_id=user_id, currency=found.currency),
            counter_kind=Account.Kind.REVENUE,
            currency=found.currency,
            amount=found.amount,
            entry_type=EntryType.REFUND,
            reference=refund.ledger_reference,
            description=f"Refund of {found.reference}" + (f": {refund.reason}" if refund.reason else ""),
            operator=operator,
        )
    return refund, True


def refund_by_operator(
    *, payment_id: int, operator: Operator, reason: str, amount: Decimal | None = None
) -> Refund:
    """An operator's refund from the admin: the API's three steps in a row (intent, YooKassa, answer).

    Telegram Stars refunds stay pending until the bot reports refundStarPayment's outcome.
    """
    if not reason.strip():
        raise BillingError("A refund by an operator needs a reason.", code="validation_error")
    refund = refund_open(
        payment_id=payment_id,
        amount=amount,
        reason=reason,
        operator=operator,
        provider_idempotence_key=f"operator-{uuid.uuid4().hex}",
    )
    if refund.provider != Payment.Provider.YOOKASSA:
        return refund
    return _refund_ask_and_store(refund)


def refund_provider_retry(*, refund_id: int) -> Refund:
    """Asks YooKassa again for a refund whose first ask failed transiently (same Idempotence-Key)."""
    refund = refund_get_fresh(refund_id=refund_id)
    if (
        refund.provider != Payment.Provider.YOOKASSA
        or refund.status != Refund.Status.PENDING
        or refund.provider_refund_id
    ):
        raise _refund_not_allowed(f"Refund {refund_id} is not waiting for YooKassa.", refund=refund.status)
    return _refund_ask_and_store(refund)


def _refund_ask_and_store(refund: Refund) -> Refund:
    try:
        answer = refund_provider_ask(refund=refund)
    except BillingError as refusal:
        if refusal.status < 500:
            refund_provider_refused(refund=refund, error_message=refusal.message)
        raise  # transient: the refund stays pending with its hold; refund_provider_retry asks again
    return refund_provider_answer(refund=refund, answer=answer)
