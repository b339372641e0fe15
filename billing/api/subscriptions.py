from django.http import HttpRequest
from ninja import Router, Status

from accounts.selectors import end_user_get, end_user_get_active
from billing import presenters, selectors, services
from billing.api.docs import idempotency_key_doc
from billing.idempotency import idempotent_call
from billing.schemas import PlanOut, SubscriptionIn, SubscriptionOut
from core.schemas import ERROR_CODES_4XX, ErrorOut

router = Router(tags=["plans and subscriptions"])


@router.get("/plans", response={200: list[PlanOut], ERROR_CODES_4XX: ErrorOut})
def plans_list(request: HttpRequest):
    return [presenters.plan_out(plan) for plan in selectors.plans_active()]


@router.get("/users/{user}/subscription", response={200: SubscriptionOut, ERROR_CODES_4XX: ErrorOut})
def subscription_detail(request: HttpRequest, user: str):
    return presenters.subscription_out(selectors.subscription_current(user=end_user_get(ref=user)))


@router.post(
    "/users/{user}/subscription",
    response={201: SubscriptionOut, ERROR_CODES_4XX: ErrorOut},
    openapi_extra=idempotency_key_doc(required=False),
)
def subscription_purchase(request: HttpRequest, user: str, payload: SubscriptionIn):
    """Paid from the balance at once (402 when short); the same plan while active extends it by a period."""

    def handler() -> Status:
        subscription = services.subscription_purchase(
            user=end_user_get_active(ref=user),
            plan_code=payload.plan,
            auto_renew=payload.auto_renew,
            api_key_id=request.auth.pk,
        )
        return Status(201, presenters.subscription_out(subscription))

    return idempotent_call(request, required=False, handler=handler)
