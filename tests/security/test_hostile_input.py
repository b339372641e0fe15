"""Oversized bodies and strings are refused with clear errors; unicode and control characters are stored safely."""

import json

import pytest
from django.conf import settings

from accounts.models import EndUser
from billing.models import IdempotencyRecord, LedgerEntry, Payment
from tests.billing.money_helpers import webhook_post

pytestmark = pytest.mark.django_db

TRICKY_TEXTS = [
    "Zoë 🦊 ✨",
    "שלום עולם",  # right to left
    "e\u0301\u0301\u0301",  # stacked combining marks
    "bell\x07 escape\x1b[31m tab\t newline\n",
    "\u202eevil override\u202c",
    "'; DROP TABLE accounts_end_user; --",
    "<script>alert(1)</script>",
    "\U0001f468\u200d\U0001f469\u200d\U0001f467",  # a ZWJ family
]


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


@pytest.mark.parametrize("text", TRICKY_TEXTS)
def test_unicode_and_control_characters_round_trip(api, text):
    # given a profile holding the text
    response = api.put("/api/v1/users/424242", {"first_name": text[:128], "last_name": text[:128]})
    assert response.status_code in {200, 201}

    # then it is stored and answered exactly as sent
    user = EndUser.objects.get(telegram_id=424242)
    assert user.first_name == text[:128]
    assert api.get("/api/v1/users/424242").json()["first_name"] == text[:128]


def test_nul_characters_are_refused_not_stored(api):
    error = assert_error(api.put("/api/v1/users/424243", {"first_name": "a\x00b"}), 422, "validation_error")
    assert error["details"] == {"first_name": "NUL character"}
    assert not EndUser.objects.filter(telegram_id=424243).exists()


def test_over_long_strings_are_a_422_naming_the_field(api):
    error = assert_error(api.put("/api/v1/users/424244", {"username": "u" * 10_000}), 422, "validation_error")
    assert "username" in error["details"]
    assert not EndUser.objects.filter(telegram_id=424244).exists()


def test_body_over_the_upload_limit_is_413_json(api):
    api.put("/api/v1/users/424245", {})
    huge = json.dumps({"name": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1024)})
    response = api.post("/api/v1/users/424245/projects", raw=huge)
    assert_error(response, 413, "payload_too_large")


def test_webhook_body_over_the_limit_is_413_and_credits_nothing():
    before = LedgerEntry.objects.count()
    response = webhook_post("{" + " " * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10) + "}")
    assert_error(response, 413, "payload_too_large")
    assert LedgerEntry.objects.count() == before


@pytest.mark.parametrize(
    "raw",
    [
        b"\xff\xfe not utf-8",
        b'{"username": "unterminated',
        b"{" * 5_000 + b"}" * 5_000,
        b'{"username": 1e999999}',
    ],
)
def test_malformed_json_is_a_422_never_a_500(api, raw):
    response = api.put("/api/v1/users/424246", raw=raw)
    assert response.status_code == 422, response.content[:300]
    assert response.json()["error"]["code"] == "validation_error"


NON_OBJECT_BODIES = [b"[1, 2, 3]", b"[]", b'"just a string"', b"1", b"true", b"null"]


@pytest.mark.parametrize("raw", NON_OBJECT_BODIES)
def test_a_body_that_is_not_an_object_is_a_422_and_writes_nothing(api, raw):
    # every field of PUT /users is optional: such a body used to pass as `{}` and create the user
    error = assert_error(api.put("/api/v1/users/424248", raw=raw), 422, "validation_error")
    assert "JSON object" in error["details"]["body"]
    assert not EndUser.objects.filter(telegram_id=424248).exists()


@pytest.mark.parametrize("raw", [b"[]", b"null"])
def test_a_non_object_body_is_refused_before_any_money_moves(api, raw):
    # given a user, and a paid endpoint under an Idempotency-Key
    api.put("/api/v1/users/424250", {})
    entries, keys = LedgerEntry.objects.count(), IdempotencyRecord.objects.count()

    response = api.post("/api/v1/users/424250/payments", raw=raw, idempotency_key="non-object")

    # then it is refused with the envelope, and neither the ledger nor the key store changed
    assert_error(response, 422, "validation_error")
    assert (LedgerEntry.objects.count(), IdempotencyRecord.objects.count()) == (entries, keys)
    assert not Payment.objects.filter(user__telegram_id=424250).exists()


def test_out_of_range_numbers_are_422(api):
    for ref in ("99999999999999999999999", "-1", "1e5", "0x10"):
        response = api.get(f"/api/v1/users/{ref}/balance")
        assert response.status_code in {404, 422}, (ref, response.content)
        assert response.json()["error"]["code"] in {"not_found", "validation_error"}
    response = api.get("/api/v1/generations/99999999999999999999999")
    assert response.status_code in {404, 422}
    assert api.get("/api/v1/users/1/transactions?limit=100000").status_code == 422


def test_oversized_generation_parameters_are_refused(api):
    api.put("/api/v1/users/424247", {})
    body = {"user": "424247", "model": "none", "prompt": "p", "parameters": {"blob": "x" * 200_000}}
    response = api.post("/api/v1/generations", body, idempotency_key="hostile-params")
    assert response.status_code in {404, 413, 422}, response.content[:300]
    assert response.json()["error"]["code"] in {"validation_error", "payload_too_large", "not_found"}


# Found by tests/stress/test_schemathesis.py (the status answer gave `parameters` as a JSON string).
def test_status_answer_keeps_parameters_an_object(api):
    from decimal import Decimal

    from generations.models import AIModel

    AIModel.objects.create(
        code="hostile-img", name="H", category=AIModel.Category.IMAGE, provider="t", price=Decimal("1.00")
    )
    api.put("/api/v1/users/424249", {})
    created = api.post(
        "/api/v1/generations",
        {"user": "424249", "model": "hostile-img", "prompt": "p", "parameters": {"size": 1}},
        idempotency_key="hostile-status",
    )
    assert created.json()["parameters"] == {"size": 1}
    moved = api.post(f"/api/v1/generations/{created.json()['id']}/status", {"status": "processing"})
    assert moved.status_code == 200
    assert moved.json()["parameters"] == {"size": 1}
