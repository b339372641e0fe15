"""Helpers of the tests that drive the live app over real HTTP (the Python client, the example bot)."""

import re

import httpx
from django.conf import settings

from config.api import api
from config.openapi import operation_key


def schema_operations() -> dict[str, re.Pattern[str]]:
    """Each operation of the OpenAPI schema ("METHOD /path/{}") with a pattern matching its request path."""
    operations = {}
    for path, methods in api.get_openapi_schema()["paths"].items():
        pattern = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)) + "$")
        for method in methods:
            operations[operation_key(method, path)] = pattern
    return operations


class Recorder:
    """An httpx event hook that notes which schema operation each request was (in `seen`)."""

    def __init__(self) -> None:
        self.operations = schema_operations()
        self.seen: set[str] = set()

    def _note(self, method: str, path: str) -> None:
        for key, pattern in self.operations.items():
            if key.split(" ", 1)[0] == method and pattern.match(path):
                self.seen.add(key)

    def hook(self, request: httpx.Request) -> None:
        self._note(request.method, request.url.path)

    async def async_hook(self, request: httpx.Request) -> None:
        self._note(request.method, request.url.path)


def yookassa_succeed(base_url: str, payment) -> httpx.Response:
    """What YooKassa sends when the buyer paid (fake mode: nobody else will), posted to the live app."""
    return httpx.post(
        f"{base_url}/webhooks/yookassa/{settings.YOOKASSA_WEBHOOK_SECRET}",
        json={
            "type": "notification",
            "event": "payment.succeeded",
            "object": {
                "id": payment.provider_payment_id,
                "status": "succeeded",
                "paid": True,
                "amount": {"value": str(payment.amount), "currency": payment.currency},
                "metadata": {},
            },
        },
        timeout=30,
    )
