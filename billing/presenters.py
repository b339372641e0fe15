"""JSON shapes of billing objects shared by the API (and replayed verbatim by idempotency records)."""

from typing import Any

from billing.models import Payment, Plan, Refund, Subscription
from billing.selectors import FREE_PLAN_CODE, money


def payment_out(payment: Payment) -> dict[str, Any]:
    return {
        "id": payment.pk,
        "user": payment.user.display_ref,
        "provider": payment.provider,
        "provider_payment_id": payment.provider_payment_id,
        "status": payment.status,
        "amount": money(payment.amount),
        "currency": payment.currency,
        "confirmation_url": payment.confirmation_url or None,
        "created_at": payment.created_at,
        "resolved_at": payment.resolved_at,
    }


def plan_out(plan: Plan) -> dict[str, Any]:
    return {
        "code": plan.code,
        "name": plan.name,
        "price": money(plan.price),
        "currency": plan.currency,
        "period_days": plan.period_days,
        "limits": plan.limits,
    }


def subscription_out(subscription: Subscription | None) -> dict[str, Any]:
    if subscription is None:
        return {"plan": FREE_PLAN_CODE, "started_at": None, "expires_at": None, "auto_renew": False}
    return {
        "plan": subscription.plan.code,
        "started_at": subscription.started_at,
        "expires_at": subscription.expires_at,
        "auto_renew": subscription.auto_renew,
    }


def refund_out(refund: Refund) -> dict[str, Any]:
    return {
        "id": refund.pk,
        "payment": refund.payment_id,
        "provider": refund.provider,
        "provider_refund_id": refund.provider_refund_id,
        "amount": money(refund.amount),
        "currency": refund.currency,
        "status": refund.status,
        "reason": refund.reason,
        "error_message": refund.error_message,
        "created_at": refund.created_at,
        "resolved_at": refund.resolved_at,
    }
