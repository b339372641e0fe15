"""What the OpenAPI schema adds for client generators: readable operation ids and request examples.

Generators (openapi-python-client, openapi-generator, ...) name a client's methods after the operation
ids and show the examples in the docs they write, so both are set here, in one place, for every router.
"""

import re
from typing import Any

from ninja import NinjaAPI
from ninja.openapi.schema import OpenAPISchema
from ninja.operation import Operation

API_PREFIX = "/api/v1"
_PATH_PARAMETER = re.compile(r"\{[^}]+\}")

# Request bodies as a bot sends them, by "METHOD path" with the path parameters written `{}` (their names
# are the routers' business). A test requires one for every operation that takes a body.
REQUEST_EXAMPLES: dict[str, dict[str, Any]] = {
    "PUT /users/{}": {
        "username": "alice",
        "first_name": "Alice",
        "last_name": "",
        "language_code": "ru",
        "referrer": 987654321,
    },
    "POST /users/{}/identities": {"device_id": "web-3f2a9c"},
    "POST /users/{}/payments": {
        "amount": "100.00",
        "currency": "RUB",
        "provider": "yookassa",
    },
    "POST /payments/telegram-stars": {
        "user": 123456789,
        "telegram_payment_charge_id": "stxAbC123",
        "currency": "XTR",
        "total_amount": 50,
        "invoice_payload": "topup:50",
    },
    "POST /payments/{}/refunds": {"amount": "50.00", "reason": "requested by the user"},
    "POST /refunds/{}/status": {"status": "succeeded"},
    "POST /users/{}/promo-codes/redeem": {"code": "WELCOME50"},
    "POST /users/{}/subscription": {"plan": "pro", "auto_renew": True},
    "POST /generations": {
        "user": 123456789,
        "model": "flux-schnell",
        "prompt": "a red fox in the snow, watercolour",
        "parameters": {"size": "1024x1024"},
    },
    "POST /generations/{}/status": {"status": "succeeded", "result_url": "https://cdn.example.com/r/42.png"},
    "POST /generations/{}/refund": {"reason": "the image came out blank"},
    "POST /users/{}/projects": {"name": "Winter cards", "description": "New Year postcards"},
    "POST /projects/{}/items": {"generation": 42},
    "POST /users/{}/assistants": {"name": "Support", "instructions": "Answer from the knowledge base."},
    "POST /assistants/{}/documents": {
        "title": "Refund policy",
        "text": "Unused balance is refunded within 14 days of the top-up.",
    },
    "POST /assistants/{}/search": {"query": "how do I get a refund?", "limit": 5, "mode": "hybrid"},
    "POST /assistants/{}/dialogs": {"user": 123456789, "chat_id": 123456789},
    "POST /dialogs/{}/messages": {"role": "user", "content": "How do I get my money back?"},
    "POST /dialogs/{}/handoff": {"action": "take", "operator": "anna", "reason": "asked for a human"},
    "PUT /webhook": {"url": "https://bot.example.com/botdesk/events", "events": ["payment.succeeded"]},
    "POST /logs/provider": {
        "user": 123456789,
        "model": "flux-schnell",
        "prompt": "a red fox in the snow",
        "result_url": "https://cdn.example.com/r/42.png",
        "duration_ms": 5400,
    },
    "POST /logs/debug": {"level": "warning", "message": "provider timed out", "context": {"model": "flux"}},
}


def operation_key(method: str, path: str) -> str:
    """`POST /payments/{}/refunds` for POST /api/v1/payments/{payment_id}/refunds."""
    if path.startswith(API_PREFIX):
        path = path[len(API_PREFIX) :]
    return f"{method.upper()} {_PATH_PARAMETER.sub('{}', path)}"


class BotdeskNinjaAPI(NinjaAPI):
    def get_openapi_operation_id(self, operation: Operation) -> str:
        # The view's own name (`user_upsert`, `generation_create`), not its module path: generators turn
        # it into the client's method name. Names are unique across the API (tests/test_openapi.py).
        return operation.view_func.__name__

    def get_openapi_schema(self, *, path_prefix: str | None = None, path_params=None) -> OpenAPISchema:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        for path, operations in schema["paths"].items():
            for method, operation in operations.items():
                example = REQUEST_EXAMPLES.get(operation_key(method, path))
                content = operation.get("requestBody", {}).get("content", {}).get("application/json")
                if example is not None and content is not None:
                    content["example"] = example
        return schema
