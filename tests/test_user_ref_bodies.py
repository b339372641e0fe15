"""`user` in request bodies: a Telegram id as a JSON integer (what aiogram hands a bot) or the string forms."""

import pytest

from accounts.models import EndUser
from tests.generations.helpers import model_create
from tests.support.users import user_create

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _rate_limits_off(settings):
    settings.RATE_LIMITS_ENABLED = False


def test_generation_accepts_an_integer_telegram_id(api):
    user = user_create()
    model_create("int-ref", price="1.00")

    response = api.post(
        "/api/v1/generations",
        {"user": user.telegram_id, "model": "int-ref", "prompt": "p"},
        idempotency_key="int-ref-1",
    )

    assert response.status_code == 201, response.json()
    assert response.json()["user"] == str(user.telegram_id)


def test_the_string_forms_still_work(api):
    user = user_create()
    model_create("str-ref", price="1.00")

    response = api.post(
        "/api/v1/generations",
        {"user": str(user.telegram_id), "model": "str-ref"},
        idempotency_key="str-ref-1",
    )

    assert response.status_code == 201, response.json()


def test_upsert_takes_an_integer_referrer_and_stars_an_integer_user(api):
    referrer = user_create()

    created = api.put("/api/v1/users/55500001", {"referrer": referrer.telegram_id, "language_code": "ru"})
    stars = api.post(
        "/api/v1/payments/telegram-stars",
        {
            "user": 55500001,
            "telegram_payment_charge_id": "int-ref-charge",
            "currency": "XTR",
            "total_amount": 3,
        },
    )

    assert created.status_code == 201, created.json()
    assert created.json()["referrer"] == referrer.telegram_id
    assert stars.status_code == 201, stars.json()
    assert stars.json()["user"] == "55500001"


def test_dialog_takes_integer_user_and_chat_id(api):
    user = user_create()
    assistant = api.post(f"/api/v1/users/{user.telegram_id}/assistants", {"name": "A"}).json()

    response = api.post(
        f"/api/v1/assistants/{assistant['id']}/dialogs", {"user": user.telegram_id, "chat_id": -100123}
    )

    assert response.status_code == 201, response.json()
    assert response.json()["chat_id"] == "-100123"


@pytest.mark.parametrize("bad", [0, -5, 2**63, True, 1.5, None, ""])
def test_bad_user_values_are_a_422_naming_user(api, bad):
    model_create("bad-ref", price="1.00")
    users_before = EndUser.objects.count()

    response = api.post(
        "/api/v1/generations", {"user": bad, "model": "bad-ref"}, idempotency_key=f"bad-ref-{bad!r}"
    )

    assert response.status_code == 422, response.json()
    assert response.json()["error"]["code"] == "validation_error"
    assert "user" in response.json()["error"]["details"]
    assert EndUser.objects.count() == users_before
