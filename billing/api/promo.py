from django.http import HttpRequest
from ninja import Router, Status

from accounts.selectors import end_user_get_active
from billing import selectors, services
from billing.api.docs import idempotency_key_doc
from billing.idempotency import idempotent_call
from billing.schemas import PromoRedeemIn, PromoRedeemOut
from core.schemas import ERROR_CODES_4XX, ErrorOut

router = Router(tags=["promo codes"])


@router.post(
    "/users/{user}/promo-codes/redeem",
    response={200: PromoRedeemOut, ERROR_CODES_4XX: ErrorOut},
    openapi_extra=idempotency_key_doc(required=False),
)
def promo_code_redeem(request: HttpRequest, user: str, payload: PromoRedeemIn):
    """404 unknown code, 410 expired, 409 already redeemed by this user or used up."""

    def handler() -> Status:
        end_user = end_user_get_active(ref=user)
        entry = services.promo_code_redeem(user=end_user, code=payload.code)
        return Status(
            200,
            {
                "amount": selectors.money(entry.amount),
                "currency": entry.currency,
                "balance": selectors.balance_get(user=end_user, currency=entry.currency),
            },
        )

    return idempotent_call(request, required=False, handler=handler)
