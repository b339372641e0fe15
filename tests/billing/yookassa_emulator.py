"""YooKassa as the live client sees it, over httpx.MockTransport: idempotence keys, receipts, refunds."""

import json
import threading
from decimal import Decimal

import httpx
import pytest

from billing.providers.yookassa import HttpYooKassaClient, receipt_problems


class YooKassaEmulator:
    """Remembers each Idempotence-Key like YooKassa does: the same key answers the same payment or refund."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: list[tuple[str, str, dict, str | None]] = []  # (method, path, body, idempotence key)
        self.payments: dict[str, dict] = {}  # idempotence key -> payment
        self.refunds: dict[str, dict] = {}  # idempotence key -> refund
        self.refund_status = "succeeded"
        self.refuse_next: int | None = None  # answer the next POST with this status once

    def client(self) -> HttpYooKassaClient:
        return HttpYooKassaClient(
            shop_id="shop-1",
            secret_key="sk-test",
            api_url="https://api.yookassa.test/v3",
            timeout=3,
            return_url="https://t.me/bot",
            transport=httpx.MockTransport(self.handle),
        )

    def posts(self, resource: str) -> list[tuple[str, str, dict, str | None]]:
        return [
            request for request in self.requests if request[0] == "POST" and request[1].endswith(resource)
        ]

    def handle(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else {}
        key = request.headers.get("Idempotence-Key")
        path = request.url.path
        with self.lock:
            self.requests.append((request.method, path, body, key))
            if request.method == "POST" and self.refuse_next is not None:
                status, self.refuse_next = self.refuse_next, None
                return httpx.Response(status, json={"type": "error", "description": "refused by the test"})
            if request.method == "POST" and "receipt" in body:
                amount = Decimal(body["amount"]["value"])
                problems = receipt_problems(
                    body["receipt"], amount=amount, currency=body["amount"]["currency"]
                )
                if problems:
                    return httpx.Response(
                        400, json={"type": "error", "code": "invalid_request", "description": str(problems)}
                    )
            if request.method == "POST" and path.endswith("/payments"):
                payment = self.payments.setdefault(
                    key,
                    {
                        "id": f"live-pay-{len(self.payments) + 1}",
                        "status": "pending",
                        "amount": body["amount"],
                    },
                )
                confirmation = {
                    "type": "redirect",
                    "confirmation_url": f"https://yoomoney.test/{payment['id']}",
                }
                return httpx.Response(200, json={**payment, "confirmation": confirmation})
            if request.method == "POST" and path.endswith("/refunds"):
                refund = self.refunds.setdefault(
                    key,
                    {
                        "id": f"live-refund-{len(self.refunds) + 1}",
                        "status": self.refund_status,
                        "amount": body["amount"],
                        "payment_id": body["payment_id"],
                    },
                )
                return httpx.Response(200, json=refund)
            if request.method == "GET" and "/refunds/" in path:
                wanted = path.rsplit("/", 1)[1]
                for refund in self.refunds.values():
                    if refund["id"] == wanted:
                        return httpx.Response(200, json=refund)
                return httpx.Response(404, json={"type": "error"})
            if request.method == "GET" and "/payments/" in path:
                wanted = path.rsplit("/", 1)[1]
                for payment in self.payments.values():
                    if payment["id"] == wanted:
                        return httpx.Response(200, json=payment)
                return httpx.Response(404, json={"type": "error"})
        return httpx.Response(404, json={"type": "error"})


@pytest.fixture
def yookassa_live(monkeypatch) -> YooKassaEmulator:
    emulator = YooKassaEmulator()
    for module in ("billing.services.payments", "billing.services.refunds"):
        monkeypatch.setattr(f"{module}.yookassa_client", emulator.client)
    return emulator
