"""Botdesk Bot API v1.1 client: `BotdeskClient` (sync) and `AsyncBotdeskClient` (async), on httpx.

from botdesk_client import BotdeskClient, InsufficientFundsError

with BotdeskClient("https://botdesk.example.com", api_key) as botdesk:
    user = botdesk.user_upsert(message.from_user.id, language_code="ru")
    print(user.balance.available)
"""

from botdesk_client._async_client import AsyncBotdeskClient
from botdesk_client._base import OPERATIONS
from botdesk_client._sync_client import BotdeskClient
from botdesk_client.errors import (
    ERRORS_BY_CODE,
    BotdeskConnectionError,
    BotdeskError,
    ConflictError,
    ForbiddenError,
    GoneError,
    IdempotencyKeyReusedError,
    InsufficientFundsError,
    InternalError,
    MethodNotAllowedError,
    NotFoundError,
    PayloadTooLargeError,
    RateLimitedError,
    ServiceUnavailableError,
    SignatureVerificationError,
    UnauthorizedError,
    ValidationError,
)
from botdesk_client.models import *  # noqa: F403  (the contract's objects and enums)
from botdesk_client.signature import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    compute_signature,
    parse_event,
    sign_payload,
    verify_signature,
)

__all__ = [
    "ERRORS_BY_CODE",
    "EVENT_ID_HEADER",
    "OPERATIONS",
    "SIGNATURE_HEADER",
    "AsyncBotdeskClient",
    "BotdeskClient",
    "BotdeskConnectionError",
    "BotdeskError",
    "ConflictError",
    "ForbiddenError",
    "GoneError",
    "IdempotencyKeyReusedError",
    "InsufficientFundsError",
    "InternalError",
    "MethodNotAllowedError",
    "NotFoundError",
    "PayloadTooLargeError",
    "RateLimitedError",
    "ServiceUnavailableError",
    "SignatureVerificationError",
    "UnauthorizedError",
    "ValidationError",
    "compute_signature",
    "parse_event",
    "sign_payload",
    "verify_signature",
]
