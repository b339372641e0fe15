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


def test_broker_status_is_cached_for_a_few_seconds(anonymous_api, settings, monkeypatch):
    # given a broker checked by a counting stand-in
    from ops import selectors

    calls = []
    monkeypatch.setattr(selectors, "broker_check", lambda url, *, timeout: calls.append(timeout) or "down")
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/7"
    settings.HEALTH_BROKER_CACHE_SECONDS = 300

    # when a load balancer polls health three times
    bodies = [anonymous_api.get("/api/v1/health").json() for _ in range(3)]

    # then the broker was asked once, with the short timeout, and every answer says down
    assert [body["broker"] for body in bodies] == ["down"] * 3
    assert calls == [settings.HEALTH_BROKER_TIMEOUT_SECONDS]

    # and once the cached status is older than the period, it is asked again
    settings.HEALTH_BROKER_CACHE_SECONDS = 0
    anonymous_api.get("/api/v1/health")
    assert len(calls) == 2


def test_a_broker_that_accepts_but_never_answers_is_down_within_the_timeout():
    # given a socket that accepts connections (the kernel's backlog) and never replies
    import socket
    import time

    from ops.selectors import broker_check

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        started = time.monotonic()
        status = broker_check(f"redis://127.0.0.1:{port}/0", timeout=0.05)
        elapsed = time.monotonic() - started

    # then the check gives up: "down", bounded by its timeout (a generous margin for a busy machine)
    assert status == "down"
    assert elapsed < 5


def test_a_reachable_broker_is_ok():
    from django.conf import settings

    from ops.selectors import broker_check

    assert broker_check(settings.CELERY_BROKER_URL, timeout=2) == "ok"
