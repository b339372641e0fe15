from django.http import HttpRequest
from ninja import Query, Router, Status

from accounts.selectors import end_user_get
from billing.idempotency import idempotent_call
from core.schemas import ERROR_CODES_4XX, ErrorOut
from generations import presenters, selectors, services
from generations.schemas import (
    GenerationCreateIn,
    GenerationOut,
    GenerationPage,
    GenerationRefundIn,
    GenerationRefundOut,
    GenerationsQuery,
    GenerationStatusIn,
)

router = Router(tags=["generations"])

IDEMPOTENCY_KEY_DOC = {
    "parameters": [
        {
            "name": "Idempotency-Key",
            "in": "header",
            "required": True,
            "schema": {"type": "string", "maxLength": 255},
            "description": "A repeat with the same key and body replays the first answer.",
        }
    ]
}


@router.post(
    "/generations",
    response={201: GenerationOut, ERROR_CODES_4XX: ErrorOut},
    openapi_extra=IDEMPOTENCY_KEY_DOC,
)
def generation_create(request: HttpRequest, payload: GenerationCreateIn):
    def handler() -> Status:
        generation = services.generation_create(
            user_ref=payload.user,
            model_code=payload.model,
            prompt=payload.prompt,
            parameters=payload.parameters,
            api_key_id=request.auth.pk,
        )
        return Status(201, presenters.generation_out(generation))

    return idempotent_call(request, required=True, handler=handler)


@router.post(
    "/generations/{generation_id}/status",
    response={200: GenerationOut, ERROR_CODES_4XX: ErrorOut},
    openapi_extra={"parameters": [{**IDEMPOTENCY_KEY_DOC["parameters"][0], "required": False}]},
)
def generation_status_set(request: HttpRequest, generation_id: int, payload: GenerationStatusIn):
    def handler() -> Status:
        generation = services.generation_status_set(
            generation_id=generation_id,
            status=payload.status,
            task_id=payload.task_id,
            result_url=payload.result_url,
            error_code=payload.error_code,
            error_message=payload.error_message,
            duration_ms=payload.duration_ms,
        )
        return Status(200, presenters.generation_out(generation))

    return idempotent_call(request, required=False, handler=handler)


@router.post(
    "/generations/{generation_id}/refund",
    response={200: GenerationRefundOut, 201: GenerationRefundOut, ERROR_CODES_4XX: ErrorOut},
    openapi_extra={"parameters": [{**IDEMPOTENCY_KEY_DOC["parameters"][0], "required": False}]},
)
def generation_refund(request: HttpRequest, generation_id: int, payload: GenerationRefundIn):
    """Credits back what the generation was charged: 201 the first time, 200 with the same body later;
    409 if it was never charged (not succeeded, or free)."""

    def handler() -> Status:
        refund, created = services.generation_refund(
            generation_id=generation_id, reason=payload.reason, api_key=request.auth
        )
        return Status(
            201 if created else 200,
            presenters.generation_refund_out(generation_id=generation_id, refund=refund),
        )

    return idempotent_call(request, required=False, handler=handler)


@router.get("/generations/{generation_id}", response={200: GenerationOut, ERROR_CODES_4XX: ErrorOut})
def generation_detail(request: HttpRequest, generation_id: int):
    return presenters.generation_out(selectors.generation_get(generation_id=generation_id))


@router.get("/users/{user}/generations", response={200: GenerationPage, ERROR_CODES_4XX: ErrorOut})
def generations_list(request: HttpRequest, user: str, filters: Query[GenerationsQuery]):
    rows, next_cursor = selectors.generations_page_for_user(
        user=end_user_get(ref=user), status=filters.status, limit=filters.limit, cursor=filters.cursor
    )
    return {"items": [presenters.generation_out(row) for row in rows], "next_cursor": next_cursor}
