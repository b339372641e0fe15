"""Bot tokens, API keys and webhook secrets never appear in logs or admin pages."""

import logging

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from accounts.models import ApiKey, Operator
from assistants.models import BotInstance
from ops.models import DebugLog
from tests.support.admin import client_logged_in
from tests.support.users import user_create

pytestmark = pytest.mark.django_db

BOT_TOKEN = "7345123456:AAH-super-secret-token-part_zz9"
TOKEN_SECRET_PART = BOT_TOKEN.split(":", 1)[1]


@pytest.fixture
def admin_client_logged_in() -> Client:
    operator = Operator.objects.create_superuser("sec-admin", "sec@example.com", "pw-sec-admin-1")
    return client_logged_in(operator)


@pytest.fixture
def all_logs(caplog):
    """Every record of every logger at DEBUG, SQL included (as DEBUG=True would log it)."""
    caplog.set_level(logging.DEBUG)
    connection.force_debug_cursor = True
    yield caplog
    connection.force_debug_cursor = False


def logged_text(caplog) -> str:
    return "\n".join(f"{record.getMessage()} {record.__dict__}" for record in caplog.records)


def test_api_keys_are_not_logged_nor_shown_in_admin(api, raw_api_key, all_logs, admin_client_logged_in):
    # given requests made with the key, with a wrong key and a key creation in the admin
    user = user_create()
    api.get(f"/api/v1/users/{user.display_ref}/balance")
    api.get("/api/v1/users/999/balance")  # a 404 is logged by django.request
    Client().get("/api/v1/plans", headers={"Authorization": f"Bearer {raw_api_key}x"})
    created = admin_client_logged_in.post("/admin/accounts/apikey/add/", {"name": "from-admin"}, follow=True)
    shown_once = next(str(message) for message in created.context["messages"])
    admin_key = shown_once.split("New API key for from-admin: ", 1)[1].split(" ", 1)[0]

    # then neither key is in any log record
    text = logged_text(all_logs)
    assert raw_api_key not in text
    assert raw_api_key[10:] not in text
    assert admin_key not in text
    # and no admin page shows them again
    api_key = ApiKey.objects.get(name="test-bot")
    for path in (
        "/admin/accounts/apikey/",
        f"/admin/accounts/apikey/{api_key.pk}/change/",
        f"/admin/accounts/apikey/{ApiKey.objects.get(name='from-admin').pk}/change/",
        "/admin/accounts/apikey/?q=bd_",
    ):
        page = admin_client_logged_in.get(path).content.decode()
        assert raw_api_key[10:] not in page and admin_key[10:] not in page, path
        assert api_key.key_hash not in page, path


def test_bot_tokens_are_not_logged_nor_shown_in_admin(api, all_logs, admin_client_logged_in):
    # given an assistant and a bot instance added through the admin with its token
    owner = user_create()
    assistant = api.post(f"/api/v1/users/{owner.display_ref}/assistants", {"name": "Helper"}).json()
    added = admin_client_logged_in.post(
        "/admin/assistants/botinstance/add/",
        {"assistant": assistant["id"], "username": "helper_bot", "token": BOT_TOKEN},
        follow=True,
    )
    assert added.status_code == 200
    bot = BotInstance.objects.get(username="helper_bot")
    assert TOKEN_SECRET_PART not in bot.token_encrypted

    # then the token is in no log record and on no admin page
    assert TOKEN_SECRET_PART not in logged_text(all_logs)
    assert TOKEN_SECRET_PART not in added.content.decode()
    for path in (
        "/admin/assistants/botinstance/",
        f"/admin/assistants/botinstance/{bot.pk}/change/",
        f"/admin/assistants/assistant/{assistant['id']}/change/",
        "/admin/assistants/botinstance/?q=helper",
    ):
        page = admin_client_logged_in.get(path).content.decode()
        assert TOKEN_SECRET_PART not in page, path
        assert bot.token_encrypted not in page, path


def test_a_refused_bot_token_is_not_echoed_back(api, admin_client_logged_in):
    owner = user_create()
    assistant = api.post(f"/api/v1/users/{owner.display_ref}/assistants", {"name": "Helper"}).json()
    # the username is missing, so the form is shown again
    page = admin_client_logged_in.post(
        "/admin/assistants/botinstance/add/", {"assistant": assistant["id"], "token": BOT_TOKEN}
    )
    assert page.status_code == 200
    assert TOKEN_SECRET_PART not in page.content.decode()


def debug_log_text() -> str:
    return "\n".join(f"{row.source} {row.message} {row.context}" for row in DebugLog.objects.all())


def test_webhook_secret_is_not_logged(all_logs, settings):
    # given every request logged (slow-request and slow-query warnings), the debug log stored, and
    # the right secret and a near miss of it posted (422 and 403: django.request logs both)
    settings.SLOW_REQUEST_MS = 0
    settings.DEBUG_LOG_DATABASE = True
    secret = settings.YOOKASSA_WEBHOOK_SECRET
    near_miss = secret[:-1] + "X"
    for candidate in (secret, near_miss):
        Client().post(f"/webhooks/yookassa/{candidate}", data="{}", content_type="application/json")

    # then neither is in any record nor in any debug log row
    text, stored = logged_text(all_logs), debug_log_text()
    for candidate in (secret, near_miss):
        assert candidate not in text and candidate not in all_logs.text
        assert candidate not in stored
    # while the requests were logged, with the path scrubbed
    assert "POST /webhooks/yookassa/[redacted] -> 422" in text
    assert "Forbidden: /webhooks/yookassa/[redacted]" in text
    assert "/webhooks/yookassa/[redacted]" in stored


def test_bot_tokens_in_any_record_are_scrubbed(all_logs, settings):
    # given a logger nobody configured, logging a bot API URL in its message, its extra and a traceback
    settings.DEBUG_LOG_DATABASE = True
    log = logging.getLogger("tests.telegram_client")
    url = f"https://api.telegram.org/bot{BOT_TOKEN}/sendMessage"
    context = {"url": url, "attempt": 1}
    log.warning("Telegram answered 401 for %s", url, extra={"context": context})
    try:
        raise RuntimeError(f"Client error '401 Unauthorized' for url '{url}'")
    except RuntimeError:
        log.exception("sending failed")

    # then the token's secret part is nowhere, the bot id is kept, and the caller's dict is untouched
    text, stored = logged_text(all_logs), debug_log_text()
    for output in (text, all_logs.text, stored):
        assert TOKEN_SECRET_PART not in output
        assert "bot7345123456:[redacted]/sendMessage" in output
    assert "RuntimeError" in all_logs.text and "RuntimeError" in stored
    assert context == {"url": url, "attempt": 1}


def test_secrets_a_bot_sends_to_the_debug_log_are_scrubbed(api):
    url = f"https://api.telegram.org/bot{BOT_TOKEN}/getMe"
    response = api.post(
        "/api/v1/logs/debug",
        {"level": "error", "message": f"getMe failed: {url}", "context": {"calls": [{"url": url}]}},
    )
    assert response.status_code == 202
    row = DebugLog.objects.get(pk=response.json()["id"])
    assert TOKEN_SECRET_PART not in f"{row.message} {row.context}"
    assert row.context == {"calls": [{"url": "https://api.telegram.org/bot7345123456:[redacted]/getMe"}]}


def test_webhook_secret_setting_is_not_trivially_guessable_in_production_settings():
    # the production settings module demands the secret from the environment (no default)
    source = (settings.BASE_DIR / "config" / "settings" / "production.py").read_text()
    assert 'YOOKASSA_WEBHOOK_SECRET = env("YOOKASSA_WEBHOOK_SECRET")' in source
