"""Promo codes: a fixed credit, once per user, within an expiry and a total usage cap."""

import secrets
from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import EndUser, Operator
from accounts.services import end_user_current
from billing.errors import BillingError
from billing.models import Account, EntryType, LedgerEntry, PromoCode, PromoRedemption
from billing.services.ledger import currency_validate, entry_post, user_account_id

# No 0/O or 1/I/L: codes are read aloud and typed from screenshots.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
MAX_BATCH = 10_000


def promo_code_normalize(code: str) -> str:
    return code.strip().upper()


def promo_code_redeem(*, user: EndUser, code: str) -> LedgerEntry:
    """Credits the promo's amount; 404 unknown, 410 expired, 409 already redeemed or used up.

    The unique (promo, user) redemption makes a second attempt by the same user wait for the first and
    fail; the usage cap is taken by a conditional UPDATE of the counter, so concurrent users can never
    push it past `max_uses`.
    """
    normalized = promo_code_normalize(code)
    promo = PromoCode.objects.filter(code=normalized, is_active=True).first()
    if promo is None:
        raise BillingError(
            f"No promo code {code.strip()[:32]!r}.", code="not_found", details={"code": "unknown"}
        )
    now = timezone.now()
    if promo.expires_at is not None and promo.expires_at <= now:
        raise BillingError("This promo code has expired.", code="gone", details={"code": "expired"})
    with transaction.atomic():
        user = end_user_current(user=user)
        try:
            with transaction.atomic():
                PromoRedemption.objects.create(promo=promo, user=user, amount=promo.amount)
        except IntegrityError:
            raise _already_redeemed() from None
        # Once per person: an identity merged into this user may have redeemed it (its row stays its own).
        if PromoRedemption.objects.filter(promo=promo, user__merged_into=user).exists():
            raise _already_redeemed()
        taken = (
            PromoCode.objects.filter(pk=promo.pk, is_active=True)
            .filter(Q(max_uses__isnull=True) | Q(used_count__lt=F("max_uses")))
            .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
            .update(used_count=F("used_count") + 1)
        )
        if not taken:
            _refuse_unavailable(promo_id=promo.pk, now=now)
        return entry_post(
            account_id=user_account_id(user_id=user.pk, currency=promo.currency),
            counter_kind=Account.Kind.PROMO,
            currency=promo.currency,
            amount=promo.amount,
            entry_type=EntryType.PROMO,
            reference=f"promo:{promo.pk}:{user.pk}",
            description=f"Promo code {promo.code}",
        )


def _already_redeemed() -> BillingError:
    return BillingError(
        "You have already redeemed this promo code.", code="conflict", details={"code": "already redeemed"}
    )


def _refuse_unavailable(*, promo_id: int, now: datetime) -> None:
    current = PromoCode.objects.only("expires_at", "is_active").get(pk=promo_id)
    if current.expires_at is not None and current.expires_at <= now:
        raise BillingError("This promo code has expired.", code="gone", details={"code": "expired"})
    if not current.is_active:
        raise BillingError("No such promo code.", code="not_found", details={"code": "unknown"})
    raise BillingError("This promo code has been used up.", code="conflict", details={"code": "used up"})


def _random_code(*, prefix: str, length: int) -> str:
    return prefix + "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


def promo_codes_create_batch(
    *,
    count: int,
    amount: Decimal,
    currency: str,
    expires_at: datetime | None,
    max_uses: int | None,
    prefix: str = "",
    length: int = 10,
    batch: str,
    created_by: Operator | None,
) -> list[PromoCode]:
    """Creates `count` random codes labelled `batch` in one transaction (all or none)."""
    currency_validate(currency)
    prefix = promo_code_normalize(prefix)
    if not 1 <= count <= MAX_BATCH:
        raise BillingError(
            f"count must be 1..{MAX_BATCH}.", code="validation_error", details={"count": count}
        )
    if amount <= 0:
        raise BillingError("amount must be positive.", code="validation_error", details={"amount": "> 0"})
    if len(prefix) + length > PromoCode._meta.get_field("code").max_length or length < 6:
        raise BillingError("prefix plus length must fit 32 characters, length >= 6.", code="validation_error")
    for _attempt in range(3):
        codes: set[str] = set()
        while len(codes) < count:
            codes.add(_random_code(prefix=prefix, length=length))
        rows = [
            PromoCode(
                code=code,
                amount=amount,
                currency=currency,
                expires_at=expires_at,
                max_uses=max_uses,
                batch=batch,
                created_by=created_by,
            )
            for code in sorted(codes)
        ]
        try:
            with transaction.atomic():
                return PromoCode.objects.bulk_create(rows, batch_size=1000)
        except IntegrityError:
            # A collision with an existing code (31^10 makes it rare): draw the whole batch again.
            continue
    raise BillingError("Could not generate unique codes; use a longer length.", code="conflict")


def promo_codes_deactivate(*, promo_ids: list[int]) -> int:
    """Stops further redemptions; past redemptions and their credits stay."""
    return PromoCode.objects.filter(pk__in=promo_ids, is_active=True).update(is_active=False)
