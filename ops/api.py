"""Health, and the bots' debug log."""

from django.http import HttpRequest
from ninja import Router, Status

from core.schemas import ERROR_CODES_4XX, ErrorOut
from ops import selectors, services
from ops.schemas import LEVELS, DebugLogAccepted, DebugLogIn, HealthOut

router = Router(tags=["health"])


@router.get("/health", auth=None, response={200: HealthOut, 503: HealthOut})
def health(request: HttpRequest):
    report = selectors.health_report()
    return Status(200 if report["database"] == "ok" else 503, report)


@router.post("/logs/debug", response={202: DebugLogAccepted, ERROR_CODES_4XX: ErrorOut}, tags=["logs"])
def debug_log_post(request: HttpRequest, payload: DebugLogIn):
    entry = services.debug_log_create(
        level=LEVELS[payload.level],
        message=payload.message,
        context=payload.context,
        source=f"bot:{request.auth.name}",
    )
    return Status(202, {"id": entry.pk})
