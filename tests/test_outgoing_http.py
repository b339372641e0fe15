"""Outgoing HTTP calls (YooKassa, the embedding service): explicit timeouts, a POST is sent once."""

import socket
import threading
from decimal import Decimal

import httpx
import pytest

from assistants import embeddings
from assistants.errors import AssistantsError
from billing.errors import BillingError
from billing.providers.yookassa import HttpYooKassaClient
from core.http import outgoing_client


class DroppingServer:
    """Accepts connections and closes them without answering; counts how many arrived."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.recv(65536)
            conn.close()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def dropping_server():
    server = DroppingServer()
    yield server
    server.close()


def test_outgoing_client_has_every_timeout_explicit():
    with outgoing_client(timeout=20) as client:
        assert client.timeout == httpx.Timeout(20, connect=5)
        assert client.follow_redirects is False
    with outgoing_client(timeout=2) as client:
        assert client.timeout == httpx.Timeout(2, connect=2)


def yookassa_at(port: int, *, timeout: float) -> HttpYooKassaClient:
    return HttpYooKassaClient(
        shop_id="shop",
        secret_key="sk",
        api_url=f"http://127.0.0.1:{port}/v3",
        timeout=timeout,
        return_url="https://t.me/bot",
    )


def test_yookassa_payment_post_is_not_retried(dropping_server):
    client = yookassa_at(dropping_server.port, timeout=3)
    with pytest.raises(BillingError) as raised:
        client.payment_create(
            amount=Decimal("10.00"), currency="RUB", description="d", metadata={}, idempotence_key="k"
        )
    assert raised.value.code == "service_unavailable"
    assert dropping_server.connections == 1


def test_yookassa_live_fetch_times_out_quickly():
    # a server that accepts and never answers: the webhook's fetch gives up after its timeout
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        client = yookassa_at(silent.getsockname()[1], timeout=0.2)
        with pytest.raises(BillingError) as raised:
            client.payment_fetch(provider_payment_id="p-1")
    assert raised.value.code == "service_unavailable"


def test_embedding_post_is_not_retried(dropping_server, settings):
    settings.EMBEDDING_OPENAI_URL = f"http://127.0.0.1:{dropping_server.port}/v1"
    with pytest.raises(AssistantsError):
        embeddings.OpenAIEmbedder(384).embed(["x"])
    assert dropping_server.connections == 1
