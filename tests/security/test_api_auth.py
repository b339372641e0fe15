"""Every endpoint of the OpenAPI schema refuses missing, wrong and revoked API keys with the 401 envelope."""

import re

import pytest
from django.test import Client

from accounts.services import api_key_create, api_key_revoke
from config.api import api as ninja_api

pytestmark = pytest.mark.django_db

PUBLIC_PATHS = {"/api/v1/health", "/api/v1/openapi.json", "/api/v1/docs"}
PATH_PARAM_EXAMPLES = {"user": "123456789"}


def schema_operations() -> list[tuple[str, str, bool]]:
    """(method, concrete path, is public) for every operation the schema documents."""
    operations = []
    for path, methods in ninja_api.get_openapi_schema()["paths"].items():
        concrete = re.sub(r"\{(\w+)\}", lambda match: PATH_PARAM_EXAMPLES.get(match.group(1), "1"), path)
        for method, operation in methods.items():
            operations.append((method, concrete, not operation.get("security")))
    return operations


OPERATIONS = schema_operations()
PROTECTED = [(method, path) for method, path, public in OPERATIONS if not public]


def call(method: str, path: str, authorization: str | None):
    headers = {"Authorization": authorization} if authorization is not None else {}
    body = "{}" if method in {"post", "put", "patch"} else None
    kwargs = {"headers": {**headers, "Idempotency-Key": "security-probe"}}
    if body is not None:
        kwargs.update(data=body, content_type="application/json")
    return getattr(Client(), method)(path, **kwargs)


def assert_unauthorized(response) -> None:
    assert response.status_code == 401, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["error"]["code"] == "unauthorized"
    assert set(body["error"]) == {"code", "message", "details"}


def test_the_schema_lists_the_contract_endpoints():
    paths = {path for _, path, _ in OPERATIONS}
    assert len(PROTECTED) >= 30
    assert "/api/v1/users/123456789/balance" in paths
    assert "/api/v1/generations" in paths
    assert [(method, path) for method, path, public in OPERATIONS if public] == [("get", "/api/v1/health")]


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_missing_key_is_refused(method, path):
    assert_unauthorized(call(method, path, None))


@pytest.mark.parametrize(
    "authorization",
    ["Bearer bd_not-a-real-key", "Bearer ", "Basic dXNlcjpwYXNz", "bd_no-scheme", "Bearer " + "x" * 500],
)
def test_malformed_or_wrong_keys_are_refused(authorization):
    assert_unauthorized(call("get", "/api/v1/users/123456789/balance", authorization))


def test_wrong_and_revoked_keys_are_refused_everywhere(settings):
    # given a key that worked and was then revoked, and one that never existed
    settings.API_AUTH_FAILURE_LIMIT = 10_000
    api_key, raw_key = api_key_create(name="soon-revoked")
    assert call("get", "/api/v1/plans", f"Bearer {raw_key}").status_code == 200
    api_key_revoke(api_key=api_key)

    for method, path in PROTECTED:
        # when each endpoint is called with either key, then each refuses it before doing anything
        assert_unauthorized(call(method, path, f"Bearer {raw_key}"))
        assert_unauthorized(call(method, path, "Bearer bd_" + "A" * 43))


def test_public_endpoints_need_no_key():
    for path in sorted(PUBLIC_PATHS):
        response = Client().get(path)
        assert response.status_code in {200, 503}, path
    assert Client().get("/api/v1/openapi.json").json()["info"]["title"]
