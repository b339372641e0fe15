"""PUT/GET/DELETE /api/v1/webhook (bot-api.md, "Events sent to the bot"): one webhook per API key."""

import pytest

from accounts.models import WebhookEndpoint
from accounts.services import api_key_create
from accounts.webhooks import EVENT_TYPES, webhook_secret_reveal
from tests.support.api import ApiClient
from tests.support.processes import PRODUCTION_ENV, manage

pytestmark = pytest.mark.django_db

URL = "https://bot.example.com/botdesk"


def test_put_answers_url_events_and_a_new_secret_shown_once(api):
    first = api.put("/api/v1/webhook", {"url": URL})
    assert first.status_code == 200, first.content
    body = first.json()
    assert set(body) == {"url", "events", "secret"}
    assert (body["url"], body["events"]) == (URL, list(EVENT_TYPES))
    assert body["secret"].startswith("whsec_") and len(body["secret"]) > 40

    shown = api.get("/api/v1/webhook")
    assert (shown.status_code, shown.json()) == (200, {"url": URL, "events": list(EVENT_TYPES)})

    again = api.put("/api/v1/webhook", {"url": URL + "/v2", "events": ["payment.succeeded"]})
    assert again.status_code == 200
    assert again.json()["secret"] != body["secret"]
    endpoint = WebhookEndpoint.objects.get()
    # Stored so it can sign, but not in clear.
    assert webhook_secret_reveal(endpoint=endpoint) == again.json()["secret"]
    assert again.json()["secret"] not in endpoint.secret_encrypted


def test_events_are_kept_in_contract_order_without_duplicates(api):
    response = api.put(
        "/api/v1/webhook",
        {"url": URL, "events": ["subscription.expired", "payment.succeeded", "subscription.expired"]},
    )
    assert response.json()["events"] == ["payment.succeeded", "subscription.expired"]
    assert api.get("/api/v1/webhook").json()["events"] == ["payment.succeeded", "subscription.expired"]


def test_delete_then_get_is_404_and_delete_is_idempotent(api):
    api.put("/api/v1/webhook", {"url": URL})
    assert api.delete("/api/v1/webhook").status_code == 204
    missing = api.get("/api/v1/webhook")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    assert api.delete("/api/v1/webhook").status_code == 204


def test_each_api_key_has_its_own_webhook(api):
    api.put("/api/v1/webhook", {"url": URL})
    _, other_raw = api_key_create(name="other-bot")
    other = ApiClient(other_raw)
    assert other.get("/api/v1/webhook").status_code == 404
    other.put("/api/v1/webhook", {"url": URL + "/other"})
    assert api.get("/api/v1/webhook").json()["url"] == URL
    assert WebhookEndpoint.objects.count() == 2


@pytest.mark.parametrize(
    "events", [["payment.refunded"], [], ["payment.succeeded", "nope"], "payment.succeeded", [1]]
)
def test_unknown_or_missing_event_types_are_422(api, events):
    response = api.put("/api/v1/webhook", {"url": URL, "events": events})
    assert response.status_code == 422, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert any(key.startswith("events") for key in error["details"]), error


@pytest.mark.parametrize(
    "url",
    ["ftp://bot.example.com/x", "bot.example.com/hook", "https://", "javascript:alert(1)", "http://a b.com/",
     "http://user:pw@bot.example.com/", "http://bot.example.com:99999/", "http://[::1/x", "http://[zz]/"],
)  # fmt: skip
def test_urls_that_are_not_http_are_422_naming_url(api, url):
    response = api.put("/api/v1/webhook", {"url": url})
    assert response.status_code == 422, response.content
    assert response.json()["error"]["code"] == "validation_error"
    assert "url" in response.json()["error"]["details"]


PRIVATE_URLS = [
    "http://127.0.0.1:8000/hook",
    "http://localhost/hook",
    "http://localhost./hook",
    "http://api.localhost/hook",
    "http://10.1.2.3/hook",
    "http://192.168.0.10/hook",
    "http://172.16.5.4/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]/hook",
    "http://[fe80::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://100.64.0.1/hook",
    "http://0.0.0.0/hook",
    "http://2130706433/hook",
    "http://127.1/hook",
    "https://[fd00::1]:8443/hook",
]


@pytest.mark.parametrize("url", PRIVATE_URLS)
def test_private_addresses_are_refused_when_not_allowed(api, settings, url):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False
    response = api.put("/api/v1/webhook", {"url": url})
    assert response.status_code == 422, (url, response.content)
    assert "url" in response.json()["error"]["details"]
    assert not WebhookEndpoint.objects.exists()


def test_a_refused_put_leaves_the_webhook_as_it_was(api, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False
    secret = api.put("/api/v1/webhook", {"url": URL}).json()["secret"]
    assert api.put("/api/v1/webhook", {"url": "http://10.0.0.1/"}).status_code == 422
    assert api.get("/api/v1/webhook").json()["url"] == URL
    assert webhook_secret_reveal(endpoint=WebhookEndpoint.objects.get()) == secret


def test_public_addresses_pass_and_private_ones_pass_when_allowed(api, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False
    for url in (
        "https://8.8.8.8/hook",
        "http://[2001:4860:4860::8888]/x",
        "https://bot.example.com:8443/a?b=c",
    ):
        assert api.put("/api/v1/webhook", {"url": url}).status_code == 200, url
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True
    assert api.put("/api/v1/webhook", {"url": "http://127.0.0.1:9/hook"}).status_code == 200


def test_private_urls_are_allowed_by_default_outside_production_only(settings):
    code = "from django.conf import settings as s; print(s.WEBHOOKS_ALLOW_PRIVATE_URLS)"
    result = manage("shell", "-c", code, env={**PRODUCTION_ENV, "SECRET_KEY": "k" * 60})
    assert result.stdout.strip().splitlines()[-1] == "False", result.stderr
    assert settings.WEBHOOKS_ALLOW_PRIVATE_URLS is True  # base (local, test) settings
