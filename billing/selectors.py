"""Reads of the billing app."""

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import (
    BooleanField,
    Count,
    DecimalField,
    ExpressionWrapper,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from accounts.models import EndUser
from accounts.selectors import end_user_not_found, user_ref_params
from billing.errors import BillingError
from billing.models import (
    Account,
    EntryType,
    Hold,
    LedgerEntry,
    Payment,
    Plan,
    PromoRedemption,
    ReferralReward,
    Refund,
    Subscription,
)

# The ledger's and payments' date-to-id bounds (declared in billing.models), re-exported for billing.
from core.id_bounds import ID_BOUND_MARGIN as ID_BOUND_MARGIN
from core.id_bounds import first_id_at as first_id_at
from core.id_bounds import ids_within as ids_within
from core.pagination import decode_cursor, encode_cursor, page_newest_first

ZERO = Decimal("0.00")
FREE_PLAN_CODE = "free"


def money(value: Decimal) -> str:
    return f"{value:.2f}"


def balance_out(*, currency: str, balance: Decimal = ZERO, held: Decimal = ZERO) -> dict[str, str]:
    return {
        "currency": currency,
        "balance": money(balance),
        "held": money(held),
        "available": money(balance - held),
    }


def user_accounts(*, user: EndUser) -> QuerySet[Account]:
    return Account.objects.filter(kind=Account.Kind.USER, owner=user)


def balance_get(*, user: EndUser, currency: str) -> dict[str, str]:
    account = user_accounts(user=user).filter(currency=currency).only("balance", "held").first()
    if account is None:
        return balance_out(currency=currency)
    return balance_out(currency=currency, balance=account.balance, held=account.held)


# The user and their account in one statement (the balance read is the call bots make most): the user
# by the one identity the ref names (accounts.selectors.user_ref_params), the account by its unique
# (owner, currency) index; a user without an account in that currency has a zero balance.
BALANCE_FOR_REF_SQL = """
SELECT u.id, a.balance, a.held
FROM accounts_end_user u
LEFT JOIN billing_account a ON a.owner_id = u.id AND a.kind = 'user' AND a.currency = %(currency)s
WHERE u.telegram_id = %(telegram_id)s OR u.device_id = %(device_id)s OR u.external_id = %(external_id)s
"""


def balance_for_ref(*, ref: str, currency: str) -> dict[str, str]:
    """The balance object of the user `ref` names, in one round trip; 404 for an unknown user."""
    with connection.cursor() as cursor:
        cursor.execute(BALANCE_FOR_REF_SQL, {"currency": currency, **user_ref_params(ref)})
        row = cursor.fetchone()
    if row is None:
        raise end_user_not_found(ref)
    _, balance, held = row
    if balance is None:
        return balance_out(currency=currency)
    return balance_out(currency=currency, balance=balance, held=held)


def balances_for_users(users: Sequence[EndUser]) -> dict[int, dict[str, str]]:
    """The default-currency balance of many users in one query (the user object's `balance`)."""
    currency = settings.DEFAULT_CURRENCY
    rows = Account.objects.filter(
        kind=Account.Kind.USER, owner__in=[user.pk for user in users], currency=currency
    ).values_list("owner_id", "balance", "held")
    return {
        owner_id: balance_out(currency=currency, balance=balance, held=held)
        for owner_id, balance, held in rows
    }


def active_subscriptions() -> QuerySet[Subscription]:
    now = timezone.now()
    return Subscription.objects.select_related("plan").filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now)
    )


def subscriptions_for_users(users: Sequence[EndUser]) -> dict[int, dict[str, Any]]:
    rows = active_subscriptions().filter(user__in=[user.pk for user in users])
    return {row.user_id: {"plan": row.plan.code, "expires_at": row.expires_at} for row in rows}


# Hand-written: it runs on every paid job's admission, and compiling the ORM form of this OR, subquery
# and CASE ordering cost more than running it (bench/README.md, Generations).
PLAN_FOR_USER_SQL = """
SELECT p.* FROM billing_plan p
WHERE p.code = %(free)s
   OR p.id IN (SELECT s.plan_id FROM billing_subscription s
               WHERE s.user_id = %(user_id)s AND (s.expires_at IS NULL OR s.expires_at > %(now)s))
ORDER BY p.code = %(free)s
LIMIT 1
"""


def plan_for_user(*, user: EndUser) -> Plan:
    """The plan whose limits apply to the user now: the active subscription's, else `free`.

    One query: the candidates are `free` and the plan of an active subscription, and the
    subscription's wins (false sorts first).
    """
    params = {"free": FREE_PLAN_CODE, "user_id": user.pk, "now": timezone.now()}
    plan = next(iter(Plan.objects.raw(PLAN_FOR_USER_SQL, params)), None)
    if plan is None:
        raise Plan.DoesNotExist("the free plan is missing: run migrate")
    return plan


def plans_active() -> QuerySet[Plan]:
    return Plan.objects.filter(is_active=True).order_by("sort_order", "code")


def ledger_entries_for_user(
    *, user: EndUser, entry_type: EntryType | None, currency: str | None, limit: int, cursor: str | None
) -> tuple[list[LedgerEntry], str | None]:
    """Newest first, by keyset on the (account, id) index: cheap for a user with 100k entries.

    With several currencies, each account is read by its own index range and the pages are merged
    (UNION ALL of per-account LIMITs), so no query ever sorts a whole history.
    """
    accounts = user_accounts(user=user)
    if currency:
        accounts = accounts.filter(currency=currency)
    account_ids = list(accounts.order_by("pk").values_list("pk", flat=True))
    if not account_ids:
        return [], None
    base = LedgerEntry.objects.only(
        "pk", "type", "amount", "balance_after", "currency", "reference", "description", "created_at"
    )
    if entry_type is not None:
        base = base.filter(type=entry_type)
    if cursor:
        base = base.filter(pk__lt=decode_cursor(cursor))
    per_account = [
        base.filter(account_id=account_id).order_by("-pk")[: limit + 1] for account_id in account_ids
    ]
    if len(per_account) == 1:
        rows = list(per_account[0])
    else:
        rows = list(per_account[0].union(*per_account[1:], all=True).order_by("-pk")[: limit + 1])
    next_cursor = encode_cursor(rows[limit - 1].pk) if len(rows) > limit else None
    return rows[:limit], next_cursor


def payment_get(*, payment_id: str) -> Payment:
    """Ids are opaque to clients: anything that is not one of ours is simply not found."""
    payment = None
    if payment_id.isdigit() and len(payment_id) < 19:
        payment = Payment.objects.select_related("user").filter(pk=int(payment_id)).first()
    if payment is None:
        raise BillingError(
            f"No payment {payment_id[:40]}.", code="not_found", details={"payment": payment_id[:40]}
        )
    return payment


def refund_get(*, refund_id: str) -> Refund:
    refund = None
    if refund_id.isdigit() and len(refund_id) < 19:
        refund = Refund.objects.filter(pk=int(refund_id)).first()
    if refund is None:
        raise BillingError(
            f"No refund {refund_id[:40]}.", code="not_found", details={"refund": refund_id[:40]}
        )
    return refund


def subscription_current(*, user: EndUser) -> Subscription | None:
    return active_subscriptions().filter(user=user).first()


def _money_sum(queryset: QuerySet) -> Coalesce:
    return Coalesce(
        Subquery(queryset.order_by().values("referrer").annotate(total=Sum("amount")).values("total")[:1]),
        Value(ZERO),
        output_field=DecimalField(max_digits=14, decimal_places=2),
    )


def referrals_summary(*, user: EndUser, currency: str) -> tuple[int, Decimal]:
    """How many users this one referred and what their top-ups earned it, in one query."""
    referred = EndUser.objects.filter(referrer=OuterRef("pk")).order_by().values("referrer")
    row = (
        EndUser.objects.filter(pk=user.pk)
        .annotate(
            referred_count=Coalesce(Subquery(referred.annotate(n=Count("pk")).values("n")[:1]), Value(0)),
            rewards_total=_money_sum(
                ReferralReward.objects.filter(referrer=OuterRef("pk"), currency=currency)
            ),
        )
        .values_list("referred_count", "rewards_total")
        .get()
    )
    return row[0], row[1]


def referrals_page(
    *, user: EndUser, currency: str, limit: int, cursor: str | None
) -> tuple[list[EndUser], str | None]:
    """The referred users, newest first, each annotated with the rewards it earned (one query)."""
    queryset = (
        EndUser.objects.filter(referrer=user)
        .only("pk", "telegram_id", "device_id", "external_id", "created_at")
        .annotate(
            reward=_money_sum(
                ReferralReward.objects.filter(referrer=user, referred=OuterRef("pk"), currency=currency)
            )
        )
    )
    rows, next_cursor = page_newest_first(queryset, limit=limit, cursor=cursor)
    return list(rows), next_cursor


# --- The operator's user card and user list (admin) --------------------------------------------

SPENDING_TYPES = (EntryType.CHARGE, EntryType.SUBSCRIPTION)


def ledger_entries_newest_for_user(*, user: EndUser, limit: int) -> list[LedgerEntry]:
    """The newest entries of every currency: each account by its own (account, id) range, then merged."""
    account_ids = list(user_accounts(user=user).order_by("pk").values_list("pk", flat=True))
    if not account_ids:
        return []
    base = LedgerEntry.objects.select_related("operator")
    per_account = [base.filter(account_id=account_id).order_by("-pk")[:limit] for account_id in account_ids]
    if len(per_account) == 1:
        return list(per_account[0])
    return list(per_account[0].union(*per_account[1:], all=True).order_by("-pk")[:limit])


def payments_newest_for_user(*, user: EndUser, limit: int) -> list[Payment]:
    return list(Payment.objects.filter(user=user).order_by("-pk")[:limit])


def promo_redemptions_newest_for_user(*, user: EndUser, limit: int) -> list[PromoRedemption]:
    return list(PromoRedemption.objects.filter(user=user).select_related("promo").order_by("-pk")[:limit])


def user_list_facts(users: Sequence[EndUser], *, days: int = 30) -> dict[int, dict[str, Any]]:
    """For a page of users, in two queries: available balance (default currency), plan, spending over
    the last `days` (charges and subscriptions) and the time of the last ledger entry.

    Each user's figures come from correlated subqueries on the (account, id) index: a page reads its
    users' recent entries only, never the whole ledger.
    """
    user_ids = [user.pk for user in users]
    since = timezone.now() - timedelta(days=days)
    entries = LedgerEntry.objects.filter(account_id=OuterRef("pk"))
    spent = (
        entries.filter(created_at__gte=since, type__in=SPENDING_TYPES)
        .order_by()
        .values("account_id")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    accounts = (
        Account.objects.filter(
            kind=Account.Kind.USER, owner_id__in=user_ids, currency=settings.DEFAULT_CURRENCY
        )
        .annotate(
            spent=Subquery(spent, output_field=DecimalField(max_digits=14, decimal_places=2)),
            last_entry_at=Subquery(entries.order_by("-pk").values("created_at")[:1]),
        )
        .values_list("owner_id", "balance", "held", "spent", "last_entry_at")
    )
    facts: dict[int, dict[str, Any]] = {user_id: {"plan": FREE_PLAN_CODE} for user_id in user_ids}
    for owner_id, balance, held, spent_total, last_entry_at in accounts:
        facts[owner_id].update(
            available=f"{money(balance - held)} {settings.DEFAULT_CURRENCY}",
            spent_30d=money(-(spent_total or ZERO)),
            last_activity=last_entry_at,
        )
    for user_id, plan_code in (
        active_subscriptions().filter(user_id__in=user_ids).values_list("user_id", "plan__code")
    ):
        facts[user_id]["plan"] = plan_code
    return facts


# --- The operator dashboard (ops.dashboard panels) ------------------------------------------------

# Revenue is what users paid for: charges and subscriptions, less charge refunds. Top-ups less payment
# refunds are cash in, shown apart.
REVENUE_TYPES = (EntryType.CHARGE, EntryType.SUBSCRIPTION, EntryType.REFUND)


def ledger_daily_totals(*, since: str | datetime) -> QuerySet:
    """Per day, currency and type: a range scan of the ledger's created_at index over the window only."""
    return (
        LedgerEntry.objects.filter(created_at__gte=since, type__in=(*REVENUE_TYPES, EntryType.TOPUP))
        .annotate(
            day=TruncDate("created_at"),
            # A refund debit gives a payment back (cash out); a refund credit gives a charge back (revenue).
            cash_out=ExpressionWrapper(Q(type=EntryType.REFUND, amount__lt=0), output_field=BooleanField()),
        )
        .values("day", "currency", "type", "cash_out")
        .annotate(total=Sum("amount"))
        .order_by()
    )


def open_holds_by_currency(*, now: datetime) -> QuerySet:
    """Open holds per currency (the partial index on open holds): count, amount, oldest, overdue."""
    return (
        Hold.objects.filter(status=Hold.Status.OPEN)
        .values("account__currency")
        .annotate(
            count=Count("id"),
            amount=Sum("amount"),
            oldest=Min("created_at"),
            overdue=Count("id", filter=Q(expires_at__lt=now)),
            latest_expiry=Max("expires_at"),
        )
        .order_by("account__currency")
    )


def top_spenders(*, since: datetime, currency: str, limit: int = 10) -> list[dict[str, Any]]:
    """The users who spent most (charges and subscriptions, less charge refunds) since `since`, in one
    query: the ledger's created_at range grouped by account, joined to the account's owner. A payment
    refund (a negative refund entry) gives cash back, it is not spending."""
    spending = Q(type__in=SPENDING_TYPES) | Q(type=EntryType.REFUND, amount__gt=0)
    rows = (
        LedgerEntry.objects.filter(spending, created_at__gte=since, currency=currency)
        .values("account_id", "account__owner_id", "account__owner__telegram_id")
        .annotate(spent=Sum("amount"), entries=Count("id"))
        .filter(spent__lt=0)
        .order_by("spent")[:limit]
    )
    return [
        {
            "user_id": row["account__owner_id"],
            "telegram_id": row["account__owner__telegram_id"],
            "account_id": row["account_id"],
            "spent": -row["spent"],
            "entries": row["entries"],
        }
        for row in rows
    ]
