from django.conf import settings
from django.http import HttpRequest
from ninja import Router, Status

from accounts.selectors import end_user_get
from billing import presenters, selectors, services
from billing.api.docs import idempotency_key_doc
from billing.idempotency import idempotency_key_of, idempotent_call
from billing.schemas import PaymentCreateIn, PaymentOut, TelegramStarsIn
from config.schemas import ERROR_CODES_4XX, ErrorOut

router = Router(tags=["payments"])


@router.post(
    "/users/{user}/payments",
    response={201: PaymentOut, ERROR_CODES_4XX | {503}: ErrorOut},
    openapi_extra=idempotency_key_doc(required=True),
)
def payment_create(request: HttpRequest, user: str, payload: PaymentCreateIn):
    """Opens a YooKassa payment; the balance is credited when its webhook reports success.

    Requires an Idempotency-Key: a retry returns the same payment.
    """
    key = idempotency_key_of(request, required=True)

    def handler() -> Status:
        payment = services.payment_create(
            user=end_user_get(ref=user),
            amount=payload.amount,
            currency=payload.currency or settings.DEFAULT_CURRENCY,
            provider=payload.provider,
            idempotence_key=services.provider_idempotence_key(client_id=request.auth.pk, idempotency_key=key),
            api_key_id=request.auth.pk,
        )
        return Status(201, presenters.payment_out(payment))

    return idempotent_call(request, required=True, handler=handler)


@router.post(
    "/payments/telegram-stars",
    response={200: PaymentOut, 201: PaymentOut, ERROR_CODES_4XX: ErrorOut},
    openapi_extra=idempotency_key_doc(required=False),
)
def telegram_stars_credit(request: HttpRequest, payload: TelegramStarsIn):
    """Credits a successful Telegram Stars payment once per telegram_payment_charge_id (201, then 200)."""

    def handler() -> Status:
        payment, credited = services.telegram_stars_credit(
            user=end_user_get(ref=payload.user),
            charge_id=payload.telegram_payment_charge_id,
            total_amount=payload.total_amount,
            invoice_payload=payload.invoice_payload,
            api_key_id=request.auth.pk,
        )
        return Status(201 if credited else 200, presenters.payment_out(payment))

    return idempotent_call(request, required=False, handler=handler)


# After telegram-stars: the first URL pattern that matches wins, whatever the method.
@router.get("/payments/{payment_id}", response={200: PaymentOut, ERROR_CODES_4XX: ErrorOut})
def payment_detail(request: HttpRequest, payment_id: str):
    return presenters.payment_out(selectors.payment_get(payment_id=payment_id))
