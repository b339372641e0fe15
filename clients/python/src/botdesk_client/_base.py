"""What the sync and async clients share: building calls, retry decisions, reading answers."""

import random
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx
from pydantic import TypeAdapter

from botdesk_client.errors import BotdeskError, error_from_response, retry_after_of

T = TypeVar("T")

API_PREFIX = "/api/v1"
DEFAULT_TIMEOUT_SECONDS = 15.0
RETRY_STATUSES = frozenset({429, 503})
USER_AGENT = "botdesk-client-python/1.1"

# Every operation of the contract: client method -> "METHOD path" (path parameters written `{}`).
# tests/clients/test_client_coverage.py fails when the live OpenAPI schema has an operation not here.
OPERATIONS: dict[str, str] = {
    "health": "GET /health",
    "user_upsert": "PUT /users/{}",
    "user_detail": "GET /users/{}",
    "user_identity_attach": "POST /users/{}/identities",
    "balance_detail": "GET /users/{}/balance",
    "transactions_list": "GET /users/{}/transactions",
    "payment_create": "POST /users/{}/payments",
    "payment_detail": "GET /payments/{}",
    "telegram_stars_credit": "POST /payments/telegram-stars",
    "payment_refund_create": "POST /payments/{}/refunds",
    "refund_status_set": "POST /refunds/{}/status",
    "refund_detail": "GET /refunds/{}",
    "generation_refund_create": "POST /generations/{}/refund",
    "promo_code_redeem": "POST /users/{}/promo-codes/redeem",
    "plans_list": "GET /plans",
    "subscription_detail": "GET /users/{}/subscription",
    "subscription_purchase": "POST /users/{}/subscription",
    "models_list": "GET /models",
    "generation_create": "POST /generations",
    "generation_status_set": "POST /generations/{}/status",
    "generation_detail": "GET /generations/{}",
    "generations_list": "GET /users/{}/generations",
    "projects_list": "GET /users/{}/projects",
    "project_create": "POST /users/{}/projects",
    "project_detail": "GET /projects/{}",
    "project_item_add": "POST /projects/{}/items",
    "referrals_list": "GET /users/{}/referrals",
    "assistant_list": "GET /users/{}/assistants",
    "assistant_create": "POST /users/{}/assistants",
    "assistant_detail": "GET /assistants/{}",
    "document_upload": "POST /assistants/{}/documents",
    "document_list": "GET /assistants/{}/documents",
    "document_delete": "DELETE /assistants/{}/documents/{}",
    "assistant_search": "POST /assistants/{}/search",
    "dialog_open": "POST /assistants/{}/dialogs",
    "dialog_detail": "GET /dialogs/{}",
    "message_create": "POST /dialogs/{}/messages",
    "message_list": "GET /dialogs/{}/messages",
    "dialog_handoff": "POST /dialogs/{}/handoff",
    "webhook_set": "PUT /webhook",
    "webhook_detail": "GET /webhook",
    "webhook_delete": "DELETE /webhook",
    "provider_log_create": "POST /logs/provider",
    "debug_log_post": "POST /logs/debug",
}


@dataclass(frozen=True)
class Call(Generic[T]):
    """One request. `idempotency` is "required" or "accepted" for the POSTs that take an Idempotency-Key;
    `retry_safe` marks the calls that may be sent twice (reads, PUT/DELETE, keyed POSTs, naturally
    idempotent POSTs such as opening a dialog)."""

    method: str
    path: str
    adapter: TypeAdapter[T] | None
    params: dict[str, Any] | None = None
    json: dict[str, Any] | None = None
    idempotency: str | None = None
    retry_safe: bool = False
    idempotency_key: str | None = field(default=None)
    # Error statuses whose body is this call's answer, not an error envelope (health's 503).
    answers_on_error: frozenset[int] = frozenset()


def segment(value: int | str) -> str:
    """A path parameter: `{user}` forms keep their ':' (device:<id>, ext:<id>)."""
    return quote(str(value), safe=":@")


def body(**fields: Any) -> dict[str, Any]:
    """A JSON body of the fields given (None means "not sent"); money goes as a decimal string."""
    return {name: _jsonable(value) for name, value in fields.items() if value is not None}


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    if hasattr(value, "model_dump"):
        return value.model_dump(exclude_none=True, mode="json")
    return value


def query(**params: Any) -> dict[str, Any]:
    return {name: str(value) for name, value in params.items() if value is not None}


def base_url_of(base_url: str) -> str:
    base = base_url.rstrip("/")
    return base if base.endswith(API_PREFIX) else base + API_PREFIX


class ClientBase:
    """Settings shared by `BotdeskClient` and `AsyncBotdeskClient`.

    `max_retries` extra attempts are made for retry-safe calls on 429/503 (after `Retry-After`, if it is at
    most `max_retry_wait` seconds) and on connection errors (exponential backoff from `backoff` seconds).
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        max_retries: int = 2,
        max_retry_wait: float = 30.0,
        backoff: float = 0.5,
    ) -> None:
        self.base_url = base_url_of(base_url)
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_retry_wait = max_retry_wait
        self.backoff = backoff
        self._default_headers = {
            "Authorization": f"Bearer {api_key}",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }

    def _headers_for(self, call: Call[Any]) -> dict[str, str]:
        if call.idempotency is None:
            return {}
        # One key per call, made once here: every retry of the call sends the same one.
        return {"Idempotency-Key": call.idempotency_key or uuid.uuid4().hex}

    def _retry_delay(self, call: Call[Any], attempt: int, response: httpx.Response | None) -> float | None:
        """Seconds to wait before the next attempt, or None to give up (and raise)."""
        if not call.retry_safe or attempt >= self.max_retries:
            return None
        backoff = self.backoff * 2.0**attempt
        if response is None:  # a connection error or timeout
            return backoff * (1 + random.random() / 2)
        if response.status_code not in RETRY_STATUSES or response.status_code in call.answers_on_error:
            return None
        retry_after = retry_after_of(response)
        delay = backoff if retry_after is None else retry_after
        return delay if delay <= self.max_retry_wait else None

    @staticmethod
    def _result(call: Call[T], response: httpx.Response) -> T:
        if response.status_code >= 400 and response.status_code not in call.answers_on_error:
            raise error_from_response(response)
        if call.adapter is None:
            return None  # type: ignore[return-value]  # 204 No Content
        try:
            return call.adapter.validate_json(response.content)
        except ValueError as exc:
            raise BotdeskError(
                f"unexpected answer to {call.method} {call.path}: {exc}",
                status=response.status_code,
                code="invalid_response",
                response=response,
            ) from exc
