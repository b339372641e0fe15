"""The error vocabulary of the bot API (bot-api.md, Conventions).

Every app raises its own subclass of `DomainError` from its services; `config.api` turns any of them
into the contract's envelope `{"error": {"code", "message", "details"}}` with the matching status.
"""

from typing import Any

ERROR_STATUS = {
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "validation_error": 422,
    "insufficient_funds": 402,
    "rate_limited": 429,
    "conflict": 409,
    "idempotency_key_reused": 409,
    "gone": 410,
    "service_unavailable": 503,
    "payload_too_large": 413,
    "method_not_allowed": 405,
    "internal_error": 500,
}

# Outcomes a client may retry with the same Idempotency-Key; they are never remembered.
TRANSIENT_STATUSES = frozenset({429, 500, 503})


class DomainError(Exception):
    code = "conflict"
    # A refusal that depends on state an operator may change (a blocked user): like a 429, an
    # Idempotency-Key does not remember it, so the same request can go through once it is lifted.
    transient = False

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: dict[str, Any] | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if self.code not in ERROR_STATUS:
            raise ValueError(f"unknown error code {self.code!r}")
        self.details = details or {}
        self.retry_after = retry_after

    @property
    def status(self) -> int:
        return ERROR_STATUS[self.code]


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}
