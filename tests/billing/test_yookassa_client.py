"""The live YooKassa client against a mock transport: what it sends, and how it maps failures."""

import base64
import json
from decimal import Decimal

import httpx
import pytest
from django.core.exceptions import ImproperlyConfigured

from billing.errors import BillingError
from billing.providers.yookassa import FakeYooKassaClient, HttpYooKassaClient, yookassa_client


def make_client(handler) -> HttpYooKassaClient:
    return HttpYooKassaClient(
        shop_id="shop-1",
        secret_key="sk-test",
        api_url="https://api.yookassa.test/v3/",
        timeout=3,
        return_url="https://t.me/bot",
        transport=httpx.MockTransport(handler),
    )


def create(client: HttpYooKassaClient):
    return client.payment_create(
        amount=Decimal("150.50"),
        currency="RUB",
        description="Balance top-up for 42",
        metadata={"user_id": "7"},
        idempotence_key="idem-abc",
    )


def test_live_client_sends_auth_idempotence_key_and_amount():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200,
            json={
                "id": "2f9a-0001",
                "status": "pending",
                "confirmation": {"type": "redirect", "confirmation_url": "https://yoomoney.ru/checkout/x"},
            },
        )

    created = create(make_client(handler))

    assert (created.provider_payment_id, created.status, created.confirmation_url) == (
        "2f9a-0001",
        "pending",
        "https://yoomoney.ru/checkout/x",
    )
    (request,) = seen
    assert str(request.url) == "https://api.yookassa.test/v3/payments"
    assert request.headers["Idempotence-Key"] == "idem-abc"
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"shop-1:sk-test").decode()
    body = json.loads(request.content)
    assert body["amount"] == {"value": "150.50", "currency": "RUB"}
    assert body["capture"] is True
    assert body["confirmation"] == {"type": "redirect", "return_url": "https://t.me/bot"}
    assert body["metadata"] == {"user_id": "7"}


@pytest.mark.parametrize(
    ("response", "code"),
    [
        (httpx.Response(400, json={"description": "Invalid amount"}), "validation_error"),
        (httpx.Response(401, json={}), "service_unavailable"),
        (httpx.Response(500, text="oops"), "service_unavailable"),
        (httpx.Response(200, json={"id": "x"}), "service_unavailable"),
        (httpx.Response(200, text="<html>"), "service_unavailable"),
    ],
)
def test_live_client_maps_provider_failures(response, code):
    with pytest.raises(BillingError) as raised:
        create(make_client(lambda request: response))
    assert raised.value.code == code


def test_live_client_timeout_is_a_transient_503():
    def handler(request):
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(BillingError) as raised:
        create(make_client(handler))
    assert raised.value.status == 503
    assert raised.value.retry_after


def test_mode_selects_the_client(settings):
    settings.YOOKASSA_MODE = "fake"
    assert isinstance(yookassa_client(), FakeYooKassaClient)
    settings.YOOKASSA_MODE = "live"
    settings.YOOKASSA_SHOP_ID, settings.YOOKASSA_SECRET_KEY = "1", "s"
    assert isinstance(yookassa_client(), HttpYooKassaClient)
    settings.YOOKASSA_SECRET_KEY = ""
    with pytest.raises(ImproperlyConfigured):
        yookassa_client()
    settings.YOOKASSA_MODE = "sandbox"
    with pytest.raises(ImproperlyConfigured):
        yookassa_client()


def test_fake_client_names_the_same_payment_for_the_same_key():
    fake = FakeYooKassaClient()
    kwargs = {"amount": Decimal("1.00"), "currency": "RUB", "description": "", "metadata": {}}
    first = fake.payment_create(idempotence_key="k1", **kwargs)
    assert fake.payment_create(idempotence_key="k1", **kwargs) == first
    assert fake.payment_create(idempotence_key="k2", **kwargs) != first


def test_live_client_fetches_the_payment_state():
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.method == "GET"
        if request.url.path.endswith("/payments/known"):
            return httpx.Response(
                200,
                json={"id": "known", "status": "succeeded", "amount": {"value": "9.90", "currency": "RUB"}},
            )
        return httpx.Response(404, json={"type": "error", "code": "not_found"})

    client = make_client(handler)
    state = client.payment_fetch(provider_payment_id="known")
    assert (state.status, state.amount, state.currency) == ("succeeded", Decimal("9.90"), "RUB")
    assert client.payment_fetch(provider_payment_id="missing/../x").status == "not_found"
