from django.conf import settings
from django.http import HttpRequest
from ninja import Router, Status

from accounts.selectors import end_user_get, end_user_get_active
from billing import presenters, selectors, services
from billing.api.docs import idempotency_key_doc
from billing.idempotency import ProviderSteps, idempotency_key_of, idempotent_call, idempotent_provider_call
from billing.schemas import PaymentCreateIn, PaymentOut, TelegramStarsIn
from core.schemas import ERROR_CODES_4XX, ErrorOut

router = Router(tags=["payments"])


def _customer(payload: PaymentCreateIn) -> dict[str, str]:
    customer = {}
    if payload.customer_email:
        customer["email"] = payload.customer_email
    if payload.customer_phone:
        customer["phone"] = payload.customer_phone.removeprefix("+")
    return customer


@router.post(
    "/users/{user}/payments",
    response={201: PaymentOut, ERROR_CODES_4XX | {503}: ErrorOut},
    openapi_extra=idempotency_key_doc(required=True),
)
def payment_create(request: HttpRequest, user: str, payload: PaymentCreateIn):
    """Opens a YooKassa payment; the balance is credited when its webhook reports success.

    Requires an Idempotency-Key: a retry returns the same payment. With YOOKASSA_RECEIPTS=true one of
    customer_email / customer_phone is required and a 54-FZ receipt goes with the payment.
    """
    key = idempotency_key_of(request, required=True)
    provider_key = services.provider_idempotence_key(client_id=request.auth.pk, idempotency_key=key)

    def begin():
        return services.payment_open(
            user=end_user_get_active(ref=user),
            amount=payload.amount,
            currency=payload.currency or settings.DEFAULT_CURRENCY,
            provider=payload.provider,
            idempotence_key=provider_key,
            customer=_customer(payload),
            description=payload.description or "",
            api_key_id=request.auth.pk,
        )

    steps = ProviderSteps(
        begin=begin,
        resume=lambda: services.payment_by_provider_key(provider_idempotence_key=provider_key),
        ask=lambda payment: services.payment_provider_ask(payment=payment),
        finish=lambda payment, answer: Status(
            201, presenters.payment_out(services.payment_provider_answer(payment=payment, answer=answer))
        ),
        refused=lambda payment, refusal: services.payment_provider_refused(
            payment=payment, error_message=refusal.message
        ),
    )
    return idempotent_provider_call(request, steps=steps)


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
