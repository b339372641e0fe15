"""Subscriptions: bought from the balance, renewed by the scheduler when funds allow, else back to free.

Each paid period is one `subscription` entry whose reference names the user and the period's start,
so the same period can never be charged twice, whichever worker or request gets there first.
"""

from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.utils import timezone

from accounts.models import BotEventType, EndUser
from accounts.services import bot_event_record, end_user_current
from billing.errors import BillingError, InsufficientFunds
from billing.models import Account, EntryType, Plan, Subscription
from billing.presenters import subscription_out
from billing.services.ledger import entry_post, user_account_id

FREE_PLAN_CODE = "free"
# Renewal is tried this long before expiry (the task runs hourly), so a funded user never drops to free.
RENEW_AHEAD = timedelta(hours=2)


def _period_reference(*, user_id: int, period_start: datetime) -> str:
    return f"subscription:{user_id}:{period_start.astimezone(UTC).strftime('%Y%m%dT%H%M%S%f')}"


def _period_charge(*, subscription: Subscription, plan: Plan, period_start: datetime) -> None:
    if plan.price <= 0:
        return
    entry_post(
        account_id=user_account_id(user_id=subscription.user_id, currency=plan.currency),
        counter_kind=Account.Kind.REVENUE,
        currency=plan.currency,
        amount=-plan.price,
        entry_type=EntryType.SUBSCRIPTION,
        reference=_period_reference(user_id=subscription.user_id, period_start=period_start),
        description=f"Subscription {plan.name} for {plan.period_days} days",
    )


def _locked_subscription(*, user: EndUser, now: datetime) -> Subscription:
    """The user's row, created on first use as `free` and locked: purchases of one user are serialised."""
    free_plan_id = Plan.objects.values_list("pk", flat=True).get(code=FREE_PLAN_CODE)
    Subscription.objects.bulk_create(
        [Subscription(user=user, plan_id=free_plan_id, started_at=now, expires_at=None)],
        ignore_conflicts=True,
    )
    return Subscription.objects.select_for_update().select_related("plan").get(user=user)


def subscription_purchase(
    *, user: EndUser, plan_code: str, auto_renew: bool, api_key_id: int | None = None
) -> Subscription:
    """Buys `plan_code` from the balance (402 when short).

    The same plan while it is active extends it by one period from its current end; another plan
    replaces the current one from now. `free` ends any paid plan at once and has no end. The buying
    key's webhook (`api_key_id`) hears of the scheduler's renewals and of the expiry.
    """
    plan = Plan.objects.filter(code=plan_code, is_active=True).first()
    if plan is None:
        raise BillingError(f"No plan {plan_code[:32]!r}.", code="not_found", details={"plan": "unknown plan"})
    now = timezone.now()
    with transaction.atomic():
        user = end_user_current(user=user)
        subscription = _locked_subscription(user=user, now=now)
        if plan.code == FREE_PLAN_CODE:
            subscription.plan, subscription.started_at = plan, now
            subscription.expires_at, subscription.auto_renew = None, False
        else:
            extending = (
                subscription.plan_id == plan.pk
                and subscription.expires_at is not None
                and subscription.expires_at > now
            )
            period_start = subscription.expires_at if extending else now
            _period_charge(subscription=subscription, plan=plan, period_start=period_start)
            if not extending:
                subscription.plan, subscription.started_at = plan, now
            subscription.expires_at = period_start + timedelta(days=plan.period_days)
            subscription.auto_renew = auto_renew
        subscription.api_key_id = api_key_id
        subscription.save(
            update_fields=["plan", "started_at", "expires_at", "auto_renew", "api_key", "updated_at"]
        )
    return subscription


def subscription_renew(*, subscription_id: int, now: datetime | None = None) -> str:
    """Renews one due subscription, or returns it to free once expired; safe to run twice at once.

    Returns "renewed", "expired", "waiting" (due but short of money, not expired yet) or "skipped".
    """
    now = now or timezone.now()
    with transaction.atomic():
        subscription = (
            Subscription.objects.select_for_update().select_related("plan").filter(pk=subscription_id).first()
        )
        if (
            subscription is None
            or subscription.expires_at is None
            or subscription.expires_at > now + RENEW_AHEAD
        ):
            return "skipped"
        plan = subscription.plan
        if subscription.auto_renew and plan.is_active and plan.code != FREE_PLAN_CODE:
            period_start = subscription.expires_at
            try:
                with transaction.atomic():
                    _period_charge(subscription=subscription, plan=plan, period_start=period_start)
            except InsufficientFunds:
                pass
            else:
                # After a long scheduler outage the new period starts now: missed periods are not billed.
                subscription.expires_at = max(period_start, now) + timedelta(days=plan.period_days)
                subscription.save(update_fields=["expires_at", "updated_at"])
                _subscription_event_record(subscription, event_type=BotEventType.SUBSCRIPTION_RENEWED)
                return "renewed"
        if subscription.expires_at > now:
            return "waiting"
        expired_plan = plan.code
        subscription.plan = Plan.objects.get(code=FREE_PLAN_CODE)
        subscription.started_at, subscription.expires_at, subscription.auto_renew = now, None, False
        subscription.save(update_fields=["plan", "started_at", "expires_at", "auto_renew", "updated_at"])
        _subscription_event_record(
            subscription, event_type=BotEventType.SUBSCRIPTION_EXPIRED, extra={"expired_plan": expired_plan}
        )
        return "expired"


def _subscription_event_record(
    subscription: Subscription, *, event_type: str, extra: dict | None = None
) -> None:
    """The subscription object as the API shows it, plus whose it is (`user`) and, on expiry, the plan
    that ended (`expired_plan`); in the renewal's transaction."""

    def data() -> dict:
        user = EndUser.objects.only("telegram_id", "device_id", "external_id").get(pk=subscription.user_id)
        return {"user": user.display_ref, **subscription_out(subscription), **(extra or {})}

    bot_event_record(api_key_id=subscription.api_key_id, event_type=event_type, data=data)


def subscriptions_renew(*, now: datetime | None = None, batch_size: int = 500) -> dict[str, int]:
    """Every subscription due within RENEW_AHEAD: renewed when funds allow, else expired back to free."""
    now = now or timezone.now()
    counts = {"renewed": 0, "expired": 0, "waiting": 0, "skipped": 0}
    last_id = 0
    while True:
        ids = list(
            Subscription.objects.filter(
                expires_at__isnull=False, expires_at__lte=now + RENEW_AHEAD, pk__gt=last_id
            )
            .order_by("pk")
            .values_list("pk", flat=True)[:batch_size]
        )
        for subscription_id in ids:
            counts[subscription_renew(subscription_id=subscription_id, now=now)] += 1
        if len(ids) < batch_size:
            return counts
        last_id = ids[-1]
