"""The bot API at /api/v1: one NinjaAPI, the contract's error envelope for every failure."""

import json
import logging
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.db import DataError, InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.parser import Parser

from accounts.api import router as accounts_router
from accounts.auth import ApiKeyAuth
from assistants.api import router as assistants_router
from billing.api import router as billing_router
from config.openapi import BotdeskNinjaAPI
from core.errors import ERROR_STATUS, DomainError, error_body
from generations.api import router as generations_router
from ops.api import router as ops_router

logger = logging.getLogger(__name__)

STATUS_CODES = {status: code for code, status in ERROR_STATUS.items()}
DATABASE_RETRY_AFTER_SECONDS = 5


class StrictJsonParser(Parser):
    """JSON object bodies only, and no NUL characters, which PostgreSQL text columns cannot hold.

    Every body the API takes is an object. Anything else (`[]`, `"x"`, `1`, `null`) is refused here:
    ninja's Schema would read the attributes of a list or a string as missing, so a body of all-optional
    fields would silently pass as `{}`.
    """

    def parse_body(self, request: HttpRequest) -> Any:
        data = super().parse_body(request)
        if not isinstance(data, dict):
            raise DomainError(
                "The body must be a JSON object.",
                code="validation_error",
                details={"body": f"expected a JSON object, got {_json_type(data)}"},
            )
        _reject_nul(data, path="")
        return data


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array"


def _reject_nul(value: Any, *, path: str) -> None:
    """Refuses NUL anywhere; the details name the field as validation errors do ("context.note")."""
    if isinstance(value, str):
        if "\x00" in value:
            raise DomainError(
                "Text must not contain NUL characters.",
                code="validation_error",
                details={path or "body": "NUL character"},
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            _reject_nul(key, path=path)
            _reject_nul(item, path=f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _reject_nul(item, path=f"{path}[{index}]")


api = BotdeskNinjaAPI(
    title="Botdesk Bot API",
    version="1",
    description="The JSON API that Telegram bots use: users, money, generations, assistants.",
    auth=ApiKeyAuth(),
    urls_namespace="api-v1",
    openapi_url="/openapi.json",
    docs_url="/docs",
    parser=StrictJsonParser(),
)


def error_response(request: HttpRequest, status: int, code: str, message: str, details=None, headers=None):
    response = api.create_response(request, error_body(code, message, details), status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


@api.exception_handler(DomainError)
def on_domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
    return error_response(request, exc.status, exc.code, exc.message, exc.details, headers)


def _field_path(location: list[Any] | tuple[Any, ...]) -> str:
    parts = [str(part) for part in location]
    # ninja prefixes the source ("body", "query", "path") and the parameter name ("payload").
    if parts and parts[0] in {"body", "query", "path", "header", "cookie", "form"}:
        parts = parts[1:]
    if len(parts) > 1 and parts[0] in {"payload", "filters", "page", "params"}:
        parts = parts[1:]
    return ".".join(parts) or "body"


@api.exception_handler(NinjaValidationError)
def on_validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    details: dict[str, str] = {}
    for error in exc.errors:
        details.setdefault(_field_path(error.get("loc", ())), str(error.get("msg", "invalid")))
    return error_response(request, 422, "validation_error", "The request is not valid.", details)


@api.exception_handler(AuthenticationError)
def on_auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return error_response(
        request,
        401,
        "unauthorized",
        "A valid API key is required: Authorization: Bearer <key>.",
        headers={"WWW-Authenticate": "Bearer"},
    )


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_response(request, 404, "not_found", str(exc) or "Not found.")


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    code = STATUS_CODES.get(
        exc.status_code, "validation_error" if exc.status_code < 500 else "internal_error"
    )
    if exc.status_code == 400:
        # ninja wraps whatever the parser raised in a 400 "Cannot parse request body"; answer the cause.
        cause = exc.__cause__
        if isinstance(cause, DomainError):
            return on_domain_error(request, cause)
        if isinstance(cause, ValueError):  # json.JSONDecodeError, UnicodeDecodeError
            return on_bad_json(request, cause)
        return error_response(request, 422, "validation_error", str(exc), {"body": str(exc)})
    return error_response(request, exc.status_code, code, str(exc))


@api.exception_handler(RequestDataTooBig)
def on_too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return error_response(request, 413, "payload_too_large", "The request body is too large.")


@api.exception_handler(DataError)
def on_data_error(request: HttpRequest, exc: DataError) -> HttpResponse:
    # Schemas bound every field; this is the backstop so bad input can never surface as a 500.
    logger.warning("DataError reached the API: %s", exc)
    return error_response(request, 422, "validation_error", "A value is out of range for its field.")


@api.exception_handler(OperationalError)
@api.exception_handler(InterfaceError)
def on_database_down(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.error("database unavailable: %s", exc)
    return error_response(
        request,
        503,
        "service_unavailable",
        "The database is unavailable; retry shortly.",
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
    )


@api.exception_handler(json.JSONDecodeError)
def on_bad_json(request: HttpRequest, exc: ValueError) -> HttpResponse:
    return error_response(request, 422, "validation_error", "The body is not valid JSON.", {"body": str(exc)})


@api.exception_handler(Exception)
def on_unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.exception("unhandled error in %s %s", request.method, request.path)
    return error_response(request, 500, "internal_error", "Something went wrong on our side.")


api.add_router("/", ops_router)
api.add_router("/", accounts_router)
api.add_router("/", billing_router)
api.add_router("/", generations_router)
api.add_router("/", assistants_router)
