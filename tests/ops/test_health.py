import pytest
from django.db import OperationalError

pytestmark = pytest.mark.django_db


def test_health_needs_no_key_and_reports_pgvector(anonymous_api):
    response = anonymous_api.get("/api/v1/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["pgvector"].startswith("0.")
    assert body["broker"] in {"ok", "down"}


def test_health_reports_broker_down(anonymous_api, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    body = anonymous_api.get("/api/v1/health").json()
    assert body["broker"] == "down"
    assert body["database"] == "ok"


def test_database_down_is_503_json(api, monkeypatch):
    from accounts import selectors

    def down(**kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(selectors, "end_user_get", down)
    response = api.get("/api/v1/users/1")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "service_unavailable"
    assert response["Retry-After"]


def test_openapi_schema_and_docs_are_public(anonymous_api):
    schema = anonymous_api.get("/api/v1/openapi.json")
    assert schema.status_code == 200
    assert "/api/v1/users/{user}" in schema.json()["paths"]
    assert anonymous_api.get("/api/v1/docs").status_code == 200


def test_wrong_method_is_json_405(api):
    response = api.delete("/api/v1/health")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert "GET" in response["Allow"]
