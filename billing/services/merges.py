"""What a merge of an anonymous user into another does to billing: money, subscription, promo codes.

Runs in accounts' merge transaction (EndUsersMerged), both users' rows locked by the merge.
"""

from django.db.models import Q
from django.utils import timezone

from accounts.models import EndUser
from billing.models import Plan, PromoRedemption, Subscription
from billing.services.ledger import balances_user_merge
from billing.services.subscriptions import FREE_PLAN_CODE


def billing_user_merge(*, source: EndUser, target: EndUser) -> None:
    balances_user_merge(source=source, target=target)
    _subscription_user_merge(source=source, target=target)
    _promo_redemptions_user_merge(source=source, target=target)


def _is_paid_and_active(subscription: Subscription | None, now) -> bool:
    return (
        subscription is not None
        and subscription.plan.code != FREE_PLAN_CODE
        and subscription.expires_at is not None
        and subscription.expires_at > now
    )


def _subscription_user_merge(*, source: EndUser, target: EndUser) -> None:
    """A paid subscription of the source moves to the target; of two paid ones the later expiry wins."""
    now = timezone.now()
    rows = {
        row.user_id: row
        for row in Subscription.objects.select_for_update(of=("self",))
        .select_related("plan")
        .filter(user__in=[source.pk, target.pk])
        .order_by("pk")
    }
    moving, staying = rows.get(source.pk), rows.get(target.pk)
    if not _is_paid_and_active(moving, now):
        return
    if staying is None:
        Subscription.objects.filter(pk=moving.pk).update(user=target, updated_at=now)
        return
    if not _is_paid_and_active(staying, now) or moving.expires_at > staying.expires_at:
        staying.plan, staying.started_at = moving.plan, moving.started_at
        staying.expires_at, staying.auto_renew = moving.expires_at, moving.auto_renew
        staying.save(update_fields=["plan", "started_at", "expires_at", "auto_renew", "updated_at"])
    # The merged-away row is closed, so the renewal task never bills the empty account behind it.
    moving.plan = Plan.objects.get(code=FREE_PLAN_CODE)
    moving.expires_at, moving.auto_renew = None, False
    moving.save(update_fields=["plan", "expires_at", "auto_renew", "updated_at"])


def _promo_redemptions_user_merge(*, source: EndUser, target: EndUser) -> None:
    """Codes both had redeemed are flagged on the source's row; the credits stay (see PromoRedemption)."""
    redeemed_by_target = (
        PromoRedemption.objects.filter(Q(user=target) | Q(user__merged_into=target))
        .exclude(user=source)
        .values("promo_id")
        .order_by()
    )
    PromoRedemption.objects.filter(user=source, promo__in=redeemed_by_target).update(merged_duplicate=True)
