from django.http import HttpRequest
from ninja import Router, Status

from core.schemas import ERROR_CODES_4XX, ErrorOut
from generations import services
from generations.schemas import AcceptedOut, ProviderLogIn

router = Router(tags=["logs"])


@router.post("/logs/provider", response={202: AcceptedOut, ERROR_CODES_4XX: ErrorOut})
def provider_log_create(request: HttpRequest, payload: ProviderLogIn):
    services.provider_log_create(
        user_ref=payload.user,
        model_code=payload.model,
        prompt=payload.prompt,
        result_url=payload.result_url or "",
        error_message=payload.error_message or "",
        duration_ms=payload.duration_ms,
    )
    return Status(202, {"status": "accepted"})
