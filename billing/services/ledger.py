"""The money kernel: accounts, ledger postings and holds.

Every movement is one short transaction of conditional UPDATEs and one INSERT. The UPDATE decides
(`... WHERE balance - held >= amount`), so two concurrent requests can never both spend the same
money, and no SERIALIZABLE retry loop is needed. `UPDATE ... RETURNING` gives the new balance for the
entry's `balance_after` in the same round trip (the ORM's update() cannot return it).
System accounts are never updated: their balance is derived from the ledger.
"""

from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import EndUser, Operator
from accounts.services import end_user_current
from billing.errors import BillingError, InsufficientFunds
from billing.models import Account, EntryType, Hold, LedgerEntry

_system_account_ids: dict[tuple[str, str], int] = {}


def system_account_cache_clear() -> None:
    """Test databases are flushed between tests; production never deletes accounts."""
    _system_account_ids.clear()


def currency_validate(currency: str) -> str:
    if currency not in settings.CURRENCIES:
        raise BillingError(
            f"Unknown currency {currency!r}.",
            code="validation_error",
            details={"currency": f"one of {', '.join(settings.CURRENCIES)}"},
        )
    return currency


def system_account_id(*, kind: str, currency: str) -> int:
    key = (kind, currency)
    if key in _system_account_ids:
        return _system_account_ids[key]
    Account.objects.bulk_create([Account(kind=kind, currency=currency)], ignore_conflicts=True)
    account_id = Account.objects.values_list("pk", flat=True).get(kind=kind, currency=currency)
    # Remember the id only once the row is surely committed: a row created in a transaction that
    # later rolls back would otherwise poison every posting of this process.
    transaction.on_commit(lambda: _system_account_ids.__setitem__(key, account_id))
    return account_id


def user_account_id(*, user_id: int, currency: str) -> int:
    """The user's account in `currency`, created on first use (concurrent-safe through the unique index)."""
    lookup = {"kind": Account.Kind.USER, "owner_id": user_id, "currency": currency}
    account_id = Account.objects.filter(**lookup).values_list("pk", flat=True).first()
    if account_id is None:
        Account.objects.bulk_create([Account(**lookup)], ignore_conflicts=True)
        account_id = Account.objects.values_list("pk", flat=True).get(**lookup)
    return account_id


def _available(account_id: int) -> Decimal:
    account = Account.objects.only("balance", "held").get(pk=account_id)
    return account.balance - account.held


def entry_post(
    *,
    account_id: int,
    counter_kind: str,
    currency: str,
    amount: Decimal,
    entry_type: EntryType,
    reference: str = "",
    description: str = "",
    operator: Operator | None = None,
) -> LedgerEntry:
    """Moves `amount` into (positive) or out of (negative) a user account, against a system account.

    Must run inside the caller's transaction. A debit larger than the available balance is refused by
    the conditional UPDATE (and would be by the CHECK constraint too).
    """
    if amount == 0:
        raise BillingError("A movement of zero is not a movement.", code="validation_error")
    counter_id = system_account_id(kind=counter_kind, currency=currency)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE billing_account SET balance = balance + %s "
            "WHERE id = %s AND currency = %s AND balance + %s - held >= 0 RETURNING balance",
            [amount, account_id, currency, amount],
        )
        row = cursor.fetchone()
    if row is None:
        raise InsufficientFunds(
            "Not enough money on the balance.",
            details={"required": f"{-amount:.2f}", "available": f"{_available(account_id):.2f}"},
        )
    return LedgerEntry.objects.create(
        type=entry_type,
        account_id=account_id,
        counter_account_id=counter_id,
        currency=currency,
        amount=amount,
        balance_after=row[0],
        reference=reference,
        description=description[:255],
        operator=operator,
    )


def credit_grant(
    *,
    user: EndUser,
    amount: Decimal,
    currency: str,
    entry_type: EntryType,
    counter_kind: str,
    reference: str,
    description: str = "",
) -> LedgerEntry:
    """A one-time credit (bonus, promo, referral reward, top-up): its own transaction, once per reference."""
    currency_validate(currency)
    with transaction.atomic():
        account_id = user_account_id(user_id=end_user_current(user=user).pk, currency=currency)
        return entry_post(
            account_id=account_id,
            counter_kind=counter_kind,
            currency=currency,
            amount=amount,
            entry_type=entry_type,
            reference=reference,
            description=description,
        )


def welcome_bonus_grant(*, user: EndUser) -> LedgerEntry | None:
    amount = settings.WELCOME_BONUS_ANONYMOUS if user.is_anonymous_user else settings.WELCOME_BONUS
    if amount <= 0:
        return None
    return credit_grant(
        user=user,
        amount=amount,
        currency=settings.DEFAULT_CURRENCY,
        entry_type=EntryType.BONUS,
        counter_kind=Account.Kind.BONUSES,
        reference=f"welcome:{user.pk}",
        description="Welcome bonus",
    )


def balance_adjust(
    *, user: EndUser, amount: Decimal, currency: str, reason: str, operator: Operator
) -> LedgerEntry:
    """A manual correction by an operator, written as an `adjustment` entry carrying who and why.

    Support may move at most SUPPORT_ADJUSTMENT_LIMIT per adjustment (either sign); larger ones need
    the permission billing.adjust_above_limit (Finance, Administrator).
    """
    currency_validate(currency)
    limit = settings.SUPPORT_ADJUSTMENT_LIMIT
    if abs(amount) > limit and not operator.has_perm("billing.adjust_above_limit"):
        raise BillingError(
            _("An adjustment above %(limit)s needs the Finance role.") % {"limit": limit},
            code="forbidden",
            details={"amount": f"at most {limit} without billing.adjust_above_limit"},
        )
    if not reason.strip():
        raise BillingError(
            "An adjustment needs a reason.", code="validation_error", details={"reason": "required"}
        )
    with transaction.atomic():
        account_id = user_account_id(user_id=end_user_current(user=user).pk, currency=currency)
        return entry_post(
            account_id=account_id,
            counter_kind=Account.Kind.ADJUSTMENTS,
            currency=currency,
            amount=amount,
            entry_type=EntryType.ADJUSTMENT,
            description=reason.strip(),
            operator=operator,
        )


def balances_user_merge(*, source: EndUser, target: EndUser) -> list[LedgerEntry]:
    """Moves all of the source's money to the target through the merge clearing account.

    Runs inside the merge transaction (accounts' EndUsersMerged event). Open holds move with the money:
    they are re-pointed to the target's account and their amount moves from the source's `held` to the
    target's, so a job the anonymous user started is later captured or released on the account that
    owns the money now, and nothing is stranded on the merged-away account.
    """
    source_accounts = list(
        Account.objects.filter(kind=Account.Kind.USER, owner=source)
        .order_by("pk")
        .values_list("pk", "currency")
    )
    if not source_accounts:
        return []
    # The lock order of a capture (hold, then account), so a job finishing mid-merge waits, not deadlocks.
    list(
        Hold.objects.select_for_update()
        .filter(account_id__in=[pk for pk, _ in source_accounts], status=Hold.Status.OPEN)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    reference = f"merge:{source.pk}:{target.pk}"
    description = f"Merged from user {source.pk} into {target.pk}"
    entries: list[LedgerEntry] = []
    for source_account_id, currency in source_accounts:
        target_account_id = user_account_id(user_id=target.pk, currency=currency)
        locked = Account.objects.select_for_update().filter(pk__in=[source_account_id, target_account_id])
        balance, held = {row.pk: (row.balance, row.held) for row in locked.order_by("pk")}[source_account_id]
        Hold.objects.filter(account_id=source_account_id, status=Hold.Status.OPEN).update(
            account_id=target_account_id
        )
        if balance == 0:
            continue
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE billing_account SET balance = balance - %s, held = held - %s WHERE id = %s RETURNING balance",
                [balance, held, source_account_id],
            )
            (source_after,) = cursor.fetchone()
            cursor.execute(
                "UPDATE billing_account SET balance = balance + %s, held = held + %s WHERE id = %s RETURNING balance",
                [balance, held, target_account_id],
            )
            (target_after,) = cursor.fetchone()
        clearing_id = system_account_id(kind=Account.Kind.MERGE_CLEARING, currency=currency)
        entries += LedgerEntry.objects.bulk_create(
            [
                LedgerEntry(
                    type=EntryType.MERGE,
                    account_id=account_id,
                    counter_account_id=clearing_id,
                    currency=currency,
                    amount=amount,
                    balance_after=after,
                    reference=reference,
                    description=description,
                )
                for account_id, amount, after in (
                    (source_account_id, -balance, source_after),
                    (target_account_id, balance, target_after),
                )
            ]
        )
    return entries


# --- Holds -----------------------------------------------------------------------------------


def _single_statement(sql: str, params: dict, *, savepoint: bool) -> tuple | None:
    """Runs one self-contained money statement and returns its row.

    Outside a transaction it runs in autocommit: one statement is atomic by itself, so BEGIN and COMMIT
    would only add two round trips (and the account row's lock would be held across them). Inside the
    caller's transaction it runs in a savepoint when `savepoint` is set, so an expected error (a
    duplicate hold reference) can be answered without breaking that transaction; otherwise any error
    propagates and the caller's transaction undoes everything.
    """
    in_savepoint = transaction.atomic() if connection.in_atomic_block and savepoint else nullcontext()
    with in_savepoint, connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


# One statement reserves and records: the conditional UPDATE decides, and the INSERT only happens
# for the row it returned. A single round trip keeps a paid job's hold as cheap as a raw UPDATE.
HOLD_CREATE_SQL = """
WITH reserved AS (
    UPDATE billing_account SET held = held + %(amount)s
    WHERE kind = 'user' AND owner_id = %(user_id)s AND currency = %(currency)s AND balance - held >= %(amount)s
    RETURNING id
)
INSERT INTO billing_hold (account_id, amount, status, reference, created_at, expires_at)
SELECT id, %(amount)s, 'open', %(reference)s, now(), %(expires_at)s FROM reserved
RETURNING id, account_id, created_at
"""


def hold_create(
    *,
    user: EndUser,
    amount: Decimal,
    currency: str,
    reference: str,
    expires_at: datetime | None = None,
    reference_is_new: bool = False,
) -> Hold:
    """Reserves `amount` for a paid job; 402 when the available balance is short.

    `reference` names what the hold is for (e.g. "generation:42") and is unique: billing knows nothing
    of jobs, it holds and captures by reference. A second hold for the same reference is a conflict.
    A caller whose reference cannot exist yet (it names an id the caller just drew from a sequence) sets
    `reference_is_new`: inside its transaction the hold then takes no savepoint (two round trips fewer),
    and a duplicate, which would be a bug, fails the caller's transaction instead of answering 409.
    """
    currency_validate(currency)
    if amount <= 0:
        raise BillingError(
            "A hold must be positive.", code="validation_error", details={"amount": "must be > 0"}
        )
    expires_at = expires_at or timezone.now() + timedelta(seconds=settings.HOLD_TTL_SECONDS)
    params = {
        "amount": amount,
        "user_id": user.pk,
        "currency": currency,
        "reference": reference,
        "expires_at": expires_at,
    }
    try:
        row = _single_statement(HOLD_CREATE_SQL, params, savepoint=not reference_is_new)
    except IntegrityError as exc:
        if not reference_is_new and Hold.objects.filter(reference=reference).exists():
            raise BillingError(
                f"A hold for {reference} exists already.", code="conflict", details={"reference": reference}
            ) from exc
        raise
    if row is None:
        account = Account.objects.filter(kind=Account.Kind.USER, owner=user, currency=currency).first()
        available = account.available if account else Decimal("0.00")
        raise InsufficientFunds(
            "Not enough money on the balance.",
            details={"required": f"{amount:.2f}", "available": f"{available:.2f}"},
        )
    hold_id, account_id, created_at = row
    return Hold(
        pk=hold_id,
        account_id=account_id,
        amount=amount,
        status=Hold.Status.OPEN,
        reference=reference,
        created_at=created_at,
        expires_at=expires_at,
    )


@dataclass(frozen=True)
class HoldResolution:
    """What a capture or release did; `changed` is False for a repeat of an earlier resolution."""

    hold_id: int
    status: str
    amount: Decimal
    captured_amount: Decimal | None
    reference: str
    changed: bool


def _resolution_of_existing(*, hold_id: int, accepted: tuple[str, ...]) -> HoldResolution:
    hold = Hold.objects.filter(pk=hold_id).first()
    if hold is None:
        raise BillingError(f"No hold {hold_id}.", code="not_found", details={"hold": hold_id})
    if hold.status not in accepted:
        raise BillingError(
            f"Hold {hold_id} is already {hold.status}.", code="conflict", details={"hold": hold.status}
        )
    return HoldResolution(
        hold.pk, hold.status, hold.amount, hold.captured_amount, hold.reference, changed=False
    )


# Capture in one statement: resolve the hold (only if still open), move the money, write the charge.
# Data-modifying CTEs run exactly once whether or not the outer SELECT reads them. The hold is resolved
# only together with the currency's revenue account it is charged to, so without that account the
# statement does nothing (it may run in autocommit, where there is no transaction to roll back).
HOLD_CAPTURE_SQL = """
WITH captured AS (
    UPDATE billing_hold hold SET status = 'captured', resolved_at = now(),
                                 captured_amount = COALESCE(%(amount)s, hold.amount)
    FROM billing_account account, billing_account revenue
    WHERE hold.id = %(hold_id)s AND hold.status = 'open' AND COALESCE(%(amount)s, hold.amount) <= hold.amount
      AND account.id = hold.account_id AND revenue.kind = 'revenue' AND revenue.currency = account.currency
    RETURNING hold.account_id, hold.amount, hold.captured_amount, hold.reference, revenue.id AS revenue_id
), charged AS (
    UPDATE billing_account account SET balance = account.balance - captured.captured_amount,
                                        held = account.held - captured.amount
    FROM captured WHERE account.id = captured.account_id
    RETURNING account.id, account.balance, account.currency, captured.amount, captured.captured_amount,
              captured.reference, captured.revenue_id
), charge AS (
    INSERT INTO billing_ledger_entry
        (type, account_id, counter_account_id, currency, amount, balance_after, reference, description, created_at)
    SELECT %(charge_type)s, charged.id, charged.revenue_id, charged.currency, -charged.captured_amount,
           charged.balance, charged.reference, %(description)s, now()
    FROM charged
    WHERE charged.captured_amount > 0
)
SELECT charged.amount, charged.captured_amount, charged.reference FROM charged
"""


def hold_capture(*, hold_id: int, amount: Decimal | None = None, description: str = "") -> HoldResolution:
    """Charges the hold (all of it, or `amount` of it with the rest released). Capturing twice is a no-op."""
    params = {
        "hold_id": hold_id,
        "amount": amount,
        "description": description[:255],
        "charge_type": EntryType.CHARGE,
    }
    row = _single_statement(HOLD_CAPTURE_SQL, params, savepoint=False)
    if row is None:
        hold = Hold.objects.filter(pk=hold_id, status=Hold.Status.OPEN).select_related("account").first()
        if hold is None:
            return _resolution_of_existing(hold_id=hold_id, accepted=(Hold.Status.CAPTURED,))
        if amount is not None and amount > hold.amount:
            raise BillingError(
                "Cannot capture more than was held.",
                code="validation_error",
                details={"amount": f"at most {hold.amount:.2f}"},
            )
        # Open and within its amount: the first charge ever in this currency. Create the revenue
        # account, then capture (a concurrent resolution in between makes this a repeat or a conflict).
        system_account_id(kind=Account.Kind.REVENUE, currency=hold.account.currency)
        row = _single_statement(HOLD_CAPTURE_SQL, params, savepoint=False)
        if row is None:
            return _resolution_of_existing(hold_id=hold_id, accepted=(Hold.Status.CAPTURED,))
    held_amount, captured, reference = row
    return HoldResolution(hold_id, Hold.Status.CAPTURED, held_amount, captured, reference, changed=True)


def hold_release(*, hold_id: int, expired: bool = False) -> HoldResolution:
    """Gives the held money back. Releasing twice is a no-op; releasing a captured hold is a conflict.

    With `expired=True` (the scheduler) only a hold past its expiry is released, marked `expired`.
    """
    status = Hold.Status.EXPIRED if expired else Hold.Status.RELEASED
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE billing_hold SET status = %s, resolved_at = now() "
            "WHERE id = %s AND status = 'open' AND (NOT %s OR expires_at <= now()) "
            "RETURNING account_id, amount, reference",
            [status, hold_id, expired],
        )
        row = cursor.fetchone()
        if row is None:
            accepted = (Hold.Status.RELEASED, Hold.Status.EXPIRED, *((Hold.Status.OPEN,) if expired else ()))
            return _resolution_of_existing(hold_id=hold_id, accepted=accepted)
        account_id, held_amount, reference = row
        cursor.execute("UPDATE billing_account SET held = held - %s WHERE id = %s", [held_amount, account_id])
    return HoldResolution(hold_id, status, held_amount, None, reference, changed=True)


def holds_expire(*, batch_size: int = 500) -> int:
    """Releases every open hold past its expiry; safe on two workers at once (each hold resolves once).

    Returns how many holds this call expired (a hold another worker got first is not counted).
    """
    expired = 0
    while True:
        hold_ids = list(
            Hold.objects.filter(status=Hold.Status.OPEN, expires_at__lte=timezone.now())
            .order_by("expires_at")
            .values_list("pk", flat=True)[:batch_size]
        )
        for hold_id in hold_ids:
            expired += hold_release(hold_id=hold_id, expired=True).changed
        if len(hold_ids) < batch_size:
            return expired


# A refund's hold becomes the `refund` debit in one statement, like a capture: only while the hold is open.
HOLD_REFUND_SQL = """
WITH captured AS (
    UPDATE billing_hold SET status = 'captured', resolved_at = now(), captured_amount = amount
    WHERE id = %(hold_id)s AND status = 'open'
    RETURNING account_id, amount, reference
), debited AS (
    UPDATE billing_account account SET balance = account.balance - captured.amount,
                                        held = account.held - captured.amount
    FROM captured WHERE account.id = captured.account_id
    RETURNING account.id, account.balance, account.currency, captured.amount, captured.reference
)
INSERT INTO billing_ledger_entry
    (type, account_id, counter_account_id, currency, amount, balance_after, reference, description, created_at)
SELECT %(refund_type)s, debited.id, %(counter_id)s, debited.currency, -debited.amount, debited.balance,
       debited.reference, %(description)s, now()
FROM debited
RETURNING id
"""


def hold_capture_refund(*, hold_id: int, currency: str, description: str = "") -> bool:
    """Turns a pending refund's hold into its `refund` debit (against payments received).

    Returns False when the hold was not open any more (a repeat). The entry's reference is the hold's
    (`refund:<id>`), and the ledger's unique index on refund references backs the at-most-once.
    """
    params = {
        "hold_id": hold_id,
        "refund_type": EntryType.REFUND,
        "counter_id": system_account_id(kind=Account.Kind.PAYMENTS, currency=currency),
        "description": description[:255],
    }
    return _single_statement(HOLD_REFUND_SQL, params, savepoint=False) is not None
