from django.http import HttpRequest
from ninja import Router, Status

from billing import presenters, selectors, services
from billing.api.docs import idempotency_key_doc
from billing.idempotency import ProviderSteps, idempotency_key_of, idempotent_call, idempotent_provider_call
from billing.models import Payment
from billing.schemas import RefundCreateIn, RefundOut, RefundStatusIn
from core.schemas import ERROR_CODES_4XX, ErrorOut

router = Router(tags=["refunds"])


@router.post(
    "/payments/{payment_id}/refunds",
    response={201: RefundOut, ERROR_CODES_4XX | {503}: ErrorOut},
    openapi_extra=idempotency_key_doc(required=True),
)
def refund_create(request: HttpRequest, payment_id: str, payload: RefundCreateIn):
    """Refunds a succeeded payment, all that is left of it by default.

    YooKassa: Botdesk asks YooKassa (no network in fake mode); the balance is debited when the refund
    succeeds. Telegram Stars: the refund is pending with its amount held; the bot calls
    refundStarPayment and reports the outcome to /refunds/{id}/status. 402 when the available balance
    is short, 409 when the payment is not succeeded or the amount is more than is left.
    """
    key = idempotency_key_of(request, required=True)
    provider_key = services.provider_idempotence_key(
        client_id=request.auth.pk, idempotency_key=f"refund:{key}"
    )

    def begin():
        refund = services.refund_open(
            payment_id=selectors.payment_get(payment_id=payment_id).pk,
            amount=payload.amount,
            reason=payload.reason,
            api_key=request.auth,
            provider_idempotence_key=provider_key,
        )
        if refund.provider != Payment.Provider.YOOKASSA:
            return Status(201, presenters.refund_out(refund))
        return refund

    steps = ProviderSteps(
        begin=begin,
        resume=lambda: services.refund_by_provider_key(provider_idempotence_key=provider_key),
        ask=lambda refund: services.refund_provider_ask(refund=refund),
        finish=lambda refund, answer: Status(
            201, presenters.refund_out(services.refund_provider_answer(refund=refund, answer=answer))
        ),
        refused=lambda refund, refusal: services.refund_provider_refused(
            refund=refund, error_message=refusal.message
        ),
    )
    return idempotent_provider_call(request, steps=steps)


@router.post(
    "/refunds/{refund_id}/status",
    response={200: RefundOut, ERROR_CODES_4XX: ErrorOut},
    openapi_extra=idempotency_key_doc(required=False),
)
def refund_status_set(request: HttpRequest, refund_id: str, payload: RefundStatusIn):
    """The outcome of a Telegram Stars refund, reported by the bot after refundStarPayment."""

    def handler() -> Status:
        refund = services.refund_status_set(
            refund_id=selectors.refund_get(refund_id=refund_id).pk,
            status=payload.status,
            error_message=payload.error_message,
        )
        return Status(200, presenters.refund_out(refund))

    return idempotent_call(request, required=False, handler=handler)


@router.get("/refunds/{refund_id}", response={200: RefundOut, ERROR_CODES_4XX: ErrorOut})
def refund_detail(request: HttpRequest, refund_id: str):
    return presenters.refund_out(selectors.refund_get(refund_id=refund_id))
