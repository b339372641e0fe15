import pytest

from accounts.models import EndUser
from accounts.services import api_key_create, api_key_revoke

pytestmark = pytest.mark.django_db


def test_put_creates_then_updates(api):
    first = api.put(
        "/api/v1/users/123456789", {"username": "alice", "first_name": "Alice", "language_code": "en"}
    )
    assert first.status_code == 201
    body = first.json()
    assert body["telegram_id"] == 123456789
    assert body["username"] == "alice"
    assert body["subscription"] == {"plan": "free", "expires_at": None}
    assert set(body["balance"]) == {"currency", "balance", "held", "available"}

    second = api.put("/api/v1/users/123456789", {"last_name": "Smith"})
    assert second.status_code == 200
    assert second.json()["last_name"] == "Smith"
    assert second.json()["username"] == "alice", "fields not sent are kept"
    assert EndUser.objects.count() == 1


@pytest.mark.parametrize(
    ("ref", "field", "value"),
    [
        ("42", "telegram_id", 42),
        ("device:abc-123", "device_id", "abc-123"),
        ("ext:user_2x9", "external_id", "user_2x9"),
    ],
)
def test_every_user_form_creates_and_reads(api, ref, field, value):
    assert api.put(f"/api/v1/users/{ref}", {}).status_code == 201
    response = api.get(f"/api/v1/users/{ref}")
    assert response.status_code == 200
    assert response.json()[field] == value


def test_user_object_has_every_contract_field(api):
    body = api.put("/api/v1/users/7", {}).json()
    assert set(body) >= {
        "id", "telegram_id", "device_id", "external_id", "username", "first_name", "last_name",
        "language_code", "referrer", "balance", "subscription", "created_at",
    }  # fmt: skip


def test_unknown_user_is_404_envelope(api):
    response = api.get("/api/v1/users/999")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "ref", ["abc", "-5", "device:", "ext:", "device:has space", "0", "99999999999999999999"]
)
def test_malformed_user_ref_is_422(api, ref):
    response = api.get(f"/api/v1/users/{ref}")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"
    assert "user" in response.json()["error"]["details"]


def test_bad_body_is_422_with_field_details_and_writes_nothing(api):
    response = api.put("/api/v1/users/55", {"username": "x" * 65, "language_code": 5})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert "username" in error["details"]
    assert not EndUser.objects.exists()


def test_malformed_json_is_422(api):
    response = api.put("/api/v1/users/55", raw="{not json")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


def test_nul_character_is_refused(api):
    response = api.put("/api/v1/users/55", {"first_name": "a\x00b"})
    assert response.status_code == 422
    assert not EndUser.objects.exists()


def test_unicode_is_stored_as_sent(api):
    name = "Анна 🦊 \u202e"
    api.put("/api/v1/users/56", {"first_name": name})
    assert api.get("/api/v1/users/56").json()["first_name"] == name


def test_missing_key_is_401(anonymous_api):
    response = anonymous_api.get("/api/v1/users/1")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


def test_wrong_key_is_401(anonymous_api):
    response = anonymous_api.get("/api/v1/users/1", headers={"Authorization": "Bearer bd_wrong"})
    assert response.status_code == 401


def test_revoked_key_is_401(anonymous_api):
    api_key, raw_key = api_key_create(name="to-revoke")
    ok = anonymous_api.get("/api/v1/users/1", headers={"Authorization": f"Bearer {raw_key}"})
    assert ok.status_code == 404
    api_key_revoke(api_key=api_key)
    response = anonymous_api.get("/api/v1/users/1", headers={"Authorization": f"Bearer {raw_key}"})
    assert response.status_code == 401


def test_api_key_use_is_recorded(anonymous_api):
    api_key, raw_key = api_key_create(name="fresh")
    anonymous_api.get("/api/v1/users/1", headers={"Authorization": f"Bearer {raw_key}"})
    api_key.refresh_from_db()
    assert api_key.last_used_at is not None


def test_referrer_is_recorded_only_at_creation(api):
    api.put("/api/v1/users/100", {})
    api.put("/api/v1/users/200", {})
    created = api.put("/api/v1/users/300", {"referrer": "100"})
    assert created.json()["referrer"] == 100
    updated = api.put("/api/v1/users/300", {"referrer": "200"})
    assert updated.json()["referrer"] == 100


def test_referrer_never_oneself_and_unknown_is_ignored(api):
    assert api.put("/api/v1/users/400", {"referrer": "400"}).json()["referrer"] is None
    assert api.put("/api/v1/users/401", {"referrer": "987654"}).json()["referrer"] is None


def test_malformed_referrer_is_422(api):
    response = api.put("/api/v1/users/402", {"referrer": "not a user"})
    assert response.status_code == 422
    assert not EndUser.objects.exists()


def test_attach_free_identity(api):
    api.put("/api/v1/users/500", {})
    response = api.post("/api/v1/users/500/identities", {"external_id": "clerk_1"})
    assert response.status_code == 200
    assert response.json()["external_id"] == "clerk_1"
    assert api.get("/api/v1/users/ext:clerk_1").json()["telegram_id"] == 500


def test_attach_identity_of_anonymous_user_merges_it(api):
    api.put("/api/v1/users/device:phone-1", {})
    api.put("/api/v1/users/501", {})
    response = api.post("/api/v1/users/501/identities", {"device_id": "phone-1"})
    assert response.status_code == 200
    assert response.json()["device_id"] == "phone-1"
    source = EndUser.objects.get(merged_into__telegram_id=501)
    assert source.device_id is None


def test_attach_identity_of_registered_user_is_409(api):
    api.put("/api/v1/users/600", {})
    api.put("/api/v1/users/601", {})
    response = api.post("/api/v1/users/601/identities", {"telegram_id": 600})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"


def test_attach_needs_exactly_one_identity(api):
    api.put("/api/v1/users/700", {})
    assert api.post("/api/v1/users/700/identities", {}).status_code == 422
    both = api.post("/api/v1/users/700/identities", {"device_id": "a", "external_id": "b"})
    assert both.status_code == 422


def test_unknown_api_path_is_json_404(api):
    response = api.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
