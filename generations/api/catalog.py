from django.http import HttpRequest
from ninja import Router

from core.schemas import ERROR_CODES_4XX, ErrorOut
from generations import selectors
from generations.schemas import AIModelOut

router = Router(tags=["generations"])


@router.get("/models", response={200: list[AIModelOut], ERROR_CODES_4XX: ErrorOut})
def models_list(request: HttpRequest):
    return list(selectors.ai_models_active())
