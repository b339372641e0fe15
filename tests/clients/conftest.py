"""The client against the live app: a real HTTP server (pytest-django's live_server) and a real API key."""

import re
from collections.abc import Iterator
from decimal import Decimal
from itertools import count

import httpx
import pytest
from django.conf import settings

from accounts.services import api_key_create
from config.api import api
from config.openapi import operation_key
from generations.models import AIModel

_ids = count(8_800_000)


def schema_operations() -> dict[str, re.Pattern[str]]:
    """Each operation of the OpenAPI schema ("METHOD /path/{}") with a pattern matching its request path."""
    operations = {}
    for path, methods in api.get_openapi_schema()["paths"].items():
        pattern = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)) + "$")
        for method in methods:
            operations[operation_key(method, path)] = pattern
    return operations


def in_schema(key: str) -> bool:
    return key in schema_operations()


class Recorder:
    """An httpx event hook that notes which schema operation each request was."""

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


@pytest.fixture
def live_key(transactional_db) -> str:
    _api_key, raw_key = api_key_create(name=f"client-test-{next(_ids)}")
    return raw_key


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def botdesk(live_server, live_key, recorder, settings) -> Iterator:
    from botdesk_client import BotdeskClient

    settings.RATE_LIMITS_ENABLED = False
    http = httpx.Client(timeout=30, event_hooks={"request": [recorder.hook]})
    with BotdeskClient(live_server.url, live_key, http_client=http) as client:
        yield client
    http.close()


@pytest.fixture
def paid_model(transactional_db) -> AIModel:
    model, _ = AIModel.objects.get_or_create(
        code="client-flux",
        defaults={
            "name": "Client Flux",
            "category": AIModel.Category.IMAGE,
            "provider": "test",
            "price": Decimal("6.00"),
            "currency": "RUB",
            "is_free": False,
            "is_active": True,
        },
    )
    return model


def new_telegram_id() -> int:
    return next(_ids)


def yookassa_succeed(base_url: str, payment) -> httpx.Response:
    """What YooKassa sends when the buyer paid (fake mode: nobody else will)."""
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
