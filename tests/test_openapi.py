"""The OpenAPI schema is what generators build clients from: readable names, enums, examples, no warnings."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema_rs
import pytest

from config.api import api
from config.openapi import REQUEST_EXAMPLES, operation_key
from core.errors import ERROR_STATUS

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def schema() -> dict:
    # As clients read it: JSON, where the status codes are strings.
    return json.loads(json.dumps(api.get_openapi_schema()))


def _operations(schema: dict):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            yield method, path, operation


def test_operation_ids_are_readable_and_unique(schema):
    ids = [operation["operationId"] for _method, _path, operation in _operations(schema)]

    assert len(ids) == len(set(ids))
    for operation_id in ids:
        assert re.fullmatch(r"[a-z]+(_[a-z]+)*", operation_id), operation_id
        assert "_api_" not in operation_id, operation_id
    assert {"user_upsert", "generation_create", "payment_create", "health"} <= set(ids)


def test_error_codes_statuses_and_types_are_enums(schema):
    components = schema["components"]["schemas"]

    assert components["ErrorDetail"]["properties"]["code"] == {"$ref": "#/components/schemas/ErrorCode"}
    assert components["ErrorCode"]["enum"] == list(ERROR_STATUS)
    for model, field, enum in (
        ("TransactionOut", "type", "TransactionType"),
        ("PaymentOut", "status", "PaymentStatus"),
        ("PaymentOut", "provider", "PaymentProvider"),
        ("GenerationOut", "status", "GenerationStatus"),
        ("AIModelOut", "category", "ModelCategory"),
        ("DocumentOut", "status", "DocumentStatus"),
        ("DialogOut", "mode", "DialogMode"),
        ("MessageOut", "role", "MessageRole"),
    ):
        assert components[model]["properties"][field] == {"$ref": f"#/components/schemas/{enum}"}, model
        assert components[enum]["type"] == "string" and components[enum]["enum"], enum
    contract_types = "topup charge refund bonus referral_reward promo adjustment subscription merge"
    assert components["TransactionType"]["enum"] == contract_types.split()


def test_health_declares_one_model_for_both_answers(schema):
    responses = schema["paths"]["/api/v1/health"]["get"]["responses"]
    ok, down = (responses[status]["content"]["application/json"]["schema"] for status in ("200", "503"))

    assert ok == down == {"$ref": "#/components/schemas/HealthOut"}


def test_every_request_body_has_an_example_that_its_schema_accepts(schema):
    components = {"components": schema["components"]}
    keys = set()
    for method, path, operation in _operations(schema):
        keys.add(operation_key(method, path))
        if "requestBody" not in operation:
            continue
        content = operation["requestBody"]["content"]["application/json"]
        assert "example" in content, f"{method.upper()} {path} has no request example"
        validator = jsonschema_rs.validator_for({**content["schema"], **components})
        errors = [error.message for error in validator.iter_errors(content["example"])]
        assert not errors, (method, path, errors)
    # Examples may name operations of contract v1.1 that another change adds; none may be a typo.
    contract_only = {"POST /payments/{}/refunds", "POST /refunds/{}/status", "POST /generations/{}/refund"}
    contract_only.add("PUT /webhook")
    assert set(REQUEST_EXAMPLES) - keys <= contract_only


def test_user_in_bodies_is_a_string_or_an_integer(schema):
    components = schema["components"]["schemas"]

    for model, field in (
        ("GenerationCreateIn", "user"),
        ("TelegramStarsIn", "user"),
        ("DialogIn", "user"),
        ("UserUpsertIn", "referrer"),
        ("ProviderLogIn", "user"),
    ):
        text = json.dumps(components[model]["properties"][field])
        assert '"type": "string"' in text and '"type": "integer"' in text, model


@pytest.mark.slow
def test_openapi_python_client_builds_without_warnings(schema, tmp_path):
    generator = shutil.which("openapi-python-client", path=str(Path(sys.executable).parent))
    assert generator, "openapi-python-client is installed by requirements-dev.txt (scripts/setup.sh)"
    (tmp_path / "openapi.json").write_text(json.dumps(schema))
    # No post hooks: formatting the generated code is not what is tested, and it would need ruff on PATH.
    (tmp_path / "config.yml").write_text("post_hooks: []\n")

    result = subprocess.run(
        [generator, "generate", "--path", "openapi.json", "--config", "config.yml", "--meta", "none"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
    )

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "warning" not in output.lower(), output
    package = tmp_path / "botdesk_bot_api_client"
    assert (package / "api" / "users" / "user_upsert.py").exists()
    assert (package / "api" / "health" / "health.py").exists()
    health = (package / "api" / "health" / "health.py").read_text()
    assert "HTTPStatus.SERVICE_UNAVAILABLE" in health or "503" in health
    assert (package / "models" / "error_code.py").exists()
