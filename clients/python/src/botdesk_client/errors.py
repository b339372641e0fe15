"""One exception class per error code of the contract; `BotdeskError` is the base of them all.

try:
    client.generation_create(user=tg_id, model="flux", prompt=text)
except InsufficientFundsError:
    ...  # offer a top-up
except RateLimitedError as exc:
    ...  # exc.retry_after seconds
"""

from typing import Any

import httpx


class BotdeskError(Exception):
    """An error answer of the API: `{"error": {"code", "message", "details"}}` with its status."""

    code: str = "unknown"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        details: dict[str, Any] | None = None,
        retry_after: float | None = None,
        response: httpx.Response | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        if code is not None:
            self.code = code
        self.details: dict[str, Any] = details or {}
        self.retry_after = retry_after
        self.response = response

    def __str__(self) -> str:
        details = f" {self.details}" if self.details else ""
        return f"{self.status} {self.code}: {self.message}{details}"


class BotdeskConnectionError(BotdeskError):
    """No answer: the connection failed or timed out (after the retries an idempotent call allows)."""

    code = "connection_error"


class UnauthorizedError(BotdeskError):
    code = "unauthorized"


class ForbiddenError(BotdeskError):
    """Also a blocked user: `details == {"user": "blocked"}`."""

    code = "forbidden"


class NotFoundError(BotdeskError):
    code = "not_found"


class ValidationError(BotdeskError):
    """`details` name the fields."""

    code = "validation_error"


class InsufficientFundsError(BotdeskError):
    code = "insufficient_funds"


class RateLimitedError(BotdeskError):
    """`retry_after` says when to try again."""

    code = "rate_limited"


class ConflictError(BotdeskError):
    code = "conflict"


class IdempotencyKeyReusedError(ConflictError):
    code = "idempotency_key_reused"


class GoneError(BotdeskError):
    code = "gone"


class ServiceUnavailableError(BotdeskError):
    code = "service_unavailable"


class PayloadTooLargeError(BotdeskError):
    code = "payload_too_large"


class MethodNotAllowedError(BotdeskError):
    code = "method_not_allowed"


class InternalError(BotdeskError):
    code = "internal_error"


class SignatureVerificationError(Exception):
    """An event whose `Botdesk-Signature` is missing, malformed, wrong or outside the tolerance window."""


ERRORS_BY_CODE: dict[str, type[BotdeskError]] = {
    cls.code: cls
    for cls in (
        UnauthorizedError,
        ForbiddenError,
        NotFoundError,
        ValidationError,
        InsufficientFundsError,
        RateLimitedError,
        ConflictError,
        IdempotencyKeyReusedError,
        GoneError,
        ServiceUnavailableError,
        PayloadTooLargeError,
        MethodNotAllowedError,
        InternalError,
    )
}


def error_from_response(response: httpx.Response) -> BotdeskError:
    """The exception for an error answer; an unknown code (or a body that is not the envelope) is the base class."""
    try:
        error = response.json()["error"]
        code, message, details = str(error["code"]), str(error["message"]), error.get("details") or {}
    except (ValueError, KeyError, TypeError):
        code, message, details = "unknown", response.text[:500] or response.reason_phrase, {}
    return ERRORS_BY_CODE.get(code, BotdeskError)(
        message,
        status=response.status_code,
        code=code,
        details=details if isinstance(details, dict) else {"details": details},
        retry_after=retry_after_of(response),
        response=response,
    )


def retry_after_of(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: rare from Botdesk; the client falls back to its own backoff
