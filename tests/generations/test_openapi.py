"""The OpenAPI schema is what bot authors read: every generations endpoint is in it, with its errors."""

import pytest

pytestmark = pytest.mark.django_db


def test_schema_documents_the_generations_endpoints(anonymous_api):
    schema = anonymous_api.get("/api/v1/openapi.json").json()
    paths = schema["paths"]

    for path in (
        "/api/v1/models",
        "/api/v1/generations",
        "/api/v1/generations/{generation_id}",
        "/api/v1/generations/{generation_id}/status",
        "/api/v1/users/{user}/generations",
        "/api/v1/users/{user}/projects",
        "/api/v1/projects/{project_id}",
        "/api/v1/projects/{project_id}/items",
        "/api/v1/logs/provider",
    ):
        assert path in paths, path
    create = paths["/api/v1/generations"]["post"]
    assert {"201", "402", "404", "409", "422", "429"} <= set(create["responses"])
    headers = {param["name"]: param for param in create["parameters"] if param["in"] == "header"}
    assert headers["Idempotency-Key"]["required"] is True
    assert "202" in paths["/api/v1/logs/provider"]["post"]["responses"]
