"""botdesk-client without a server: coverage of the schema, retries, idempotency keys, event signatures."""

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from botdesk_client import (
    ERRORS_BY_CODE,
    OPERATIONS,
    AsyncBotdeskClient,
    BotdeskClient,
    BotdeskConnectionError,
    BotdeskError,
    ConflictError,
    IdempotencyKeyReusedError,
    RateLimitedError,
    ServiceUnavailableError,
    SignatureVerificationError,
    parse_event,
    sign_payload,
    verify_signature,
)
from botdesk_client.models import ErrorCode
from config.api import api
from core.errors import ERROR_STATUS
from tests.support.live import schema_operations

CLIENT_ROOT = Path(__file__).resolve().parents[2] / "clients" / "python"
GENERATION = {
    "id": 7,
    "user": "42",
    "status": "pending",
    "model": "flux",
    "cost": "6.00",
    "currency": "RUB",
    "is_free": False,
    "created_at": "2026-12-01T10:00:00Z",
}


def test_every_operation_of_the_schema_has_a_client_method():
    missing = set(schema_operations()) - set(OPERATIONS.values())

    assert not missing, f"operations in /api/v1/openapi.json that botdesk-client has no method for: {missing}"
    for name in OPERATIONS:
        assert callable(getattr(BotdeskClient, name)) and callable(getattr(AsyncBotdeskClient, name)), name


def test_the_sync_client_is_generated_from_the_async_one():
    result = subprocess.run(
        [sys.executable, str(CLIENT_ROOT / "tools" / "unasync.py"), "--check"], capture_output=True, text=True
    )

    assert result.returncode == 0, result.stderr


def test_one_exception_class_per_error_code_of_the_schema():
    schema_codes = api.get_openapi_schema()["components"]["schemas"]["ErrorCode"]["enum"]

    assert set(ERRORS_BY_CODE) == set(schema_codes) == set(ERROR_STATUS) == {code.value for code in ErrorCode}
    assert len(set(ERRORS_BY_CODE.values())) == len(ERRORS_BY_CODE)
    assert issubclass(IdempotencyKeyReusedError, ConflictError)


def _client(handler, **kwargs) -> BotdeskClient:
    http = httpx.Client(transport=httpx.MockTransport(handler))
    return BotdeskClient("http://botdesk.test", "key", http_client=http, backoff=0, **kwargs)


def _error(status: int, code: str, retry_after: str | None = None) -> httpx.Response:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return httpx.Response(
        status, json={"error": {"code": code, "message": code, "details": {}}}, headers=headers
    )


def test_a_keyed_call_is_retried_on_503_and_429_with_the_same_idempotency_key():
    seen: list[httpx.Request] = []
    answers = [_error(503, "service_unavailable", "0"), _error(429, "rate_limited", "0"), None]

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answers[len(seen) - 1] or httpx.Response(201, json=GENERATION)

    generation = _client(handler).generation_create(user=42, model="flux", prompt="p")

    assert generation.id == 7 and len(seen) == 3
    keys = {request.headers["Idempotency-Key"] for request in seen}
    assert len(keys) == 1 and len(keys.pop()) >= 32
    assert json.loads(seen[0].content) == {"user": 42, "model": "flux", "prompt": "p", "parameters": {}}
    assert seen[0].headers["Authorization"] == "Bearer key"


def test_each_call_gets_its_own_key_and_a_given_key_is_sent_as_is():
    keys: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        keys.append(request.headers["Idempotency-Key"])
        return httpx.Response(201, json=GENERATION)

    client = _client(handler)
    client.generation_create(user=42, model="flux")
    client.generation_create(user=42, model="flux")
    client.generation_create(user=42, model="flux", idempotency_key="order-17")

    assert keys[0] != keys[1] and keys[2] == "order-17"


def test_a_call_that_takes_no_key_is_not_retried_and_sends_none():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return _error(503, "service_unavailable", "0")

    with pytest.raises(ServiceUnavailableError):
        _client(handler).message_create(1, role="user", content="hi")

    assert len(seen) == 1 and "Idempotency-Key" not in seen[0].headers


def test_connection_errors_are_retried_for_reads_only():
    attempts = {"GET": 0, "POST": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        attempts[request.method] += 1
        if attempts[request.method] < 3:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json={"items": [], "next_cursor": None})

    client = _client(handler)
    assert client.message_list(1).items == []
    with pytest.raises(BotdeskConnectionError):
        client.project_create(42, name="x")

    assert attempts == {"GET": 3, "POST": 1}


def test_retries_stop_after_max_retries_and_a_long_retry_after_is_not_waited_for():
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return _error(429, "rate_limited", "120")

    with pytest.raises(RateLimitedError) as limited:
        _client(handler, max_retry_wait=30).generation_detail(7)
    assert limited.value.retry_after == 120 and len(calls) == 1

    calls.clear()

    def flaky(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return _error(503, "service_unavailable", "0")

    with pytest.raises(ServiceUnavailableError):
        _client(flaky, max_retries=2).generation_detail(7)
    assert len(calls) == 3


def test_an_unknown_code_or_a_body_that_is_not_the_envelope_is_the_base_error():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/1"):
            return _error(418, "teapot")
        return httpx.Response(502, text="<html>bad gateway</html>")

    client = _client(handler)
    with pytest.raises(BotdeskError) as teapot:
        client.generation_detail(1)
    with pytest.raises(BotdeskError) as gateway:
        client.generation_detail(2)

    assert type(teapot.value) is BotdeskError and teapot.value.code == "teapot"
    assert type(gateway.value) is BotdeskError and gateway.value.status == 502


def test_path_parameters_are_quoted_and_the_base_url_may_name_the_prefix():
    paths: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.raw_path.decode())
        return _error(404, "not_found")

    http = httpx.Client(transport=httpx.MockTransport(handler))
    client = BotdeskClient("http://botdesk.test/api/v1/", "key", http_client=http)
    with pytest.raises(BotdeskError):
        client.user_detail("device:a/b c")

    assert paths == ["/api/v1/users/device:a%2Fb%20c"]


def test_an_unknown_enum_value_from_a_newer_server_is_kept_as_text():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={**GENERATION, "status": "queued_elsewhere"})

    assert _client(handler).generation_detail(7).status == "queued_elsewhere"


SECRET = "whsec_test"
BODY = json.dumps(
    {"id": "evt_1", "type": "payment.succeeded", "created_at": "2026-12-01T10:00:00Z", "data": {"id": 5}}
).encode()


def test_a_signed_event_verifies_and_parses():
    header = sign_payload(BODY, SECRET, timestamp=1_000_000)

    event = parse_event(BODY, header, SECRET, now=1_000_010)

    assert event.id == "evt_1" and event.type == "payment.succeeded" and event.data == {"id": 5}


@pytest.mark.parametrize(
    "header, now",
    [
        (None, 1_000_000),
        ("", 1_000_000),
        ("t=1000000", 1_000_000),
        ("v1=abc", 1_000_000),
        ("t=soon,v1=abc", 1_000_000),
        (sign_payload(BODY, "another secret", timestamp=1_000_000), 1_000_000),
        (sign_payload(BODY + b" ", SECRET, timestamp=1_000_000), 1_000_000),
        (sign_payload(BODY, SECRET, timestamp=1_000_000), 1_000_000 + 301),
        (sign_payload(BODY, SECRET, timestamp=1_000_000), 1_000_000 - 301),
        (sign_payload(BODY, SECRET, timestamp=1_000_000).replace("t=1000000", "t=1000001"), 1_000_000),
        ("t=1000000,v1=\u00e9\u00e9", 1_000_000),
    ],
)
def test_a_bad_signature_is_refused(header, now):
    with pytest.raises(SignatureVerificationError):
        verify_signature(BODY, header, SECRET, now=now)


def test_any_of_several_signatures_may_match_and_the_window_is_configurable():
    good = sign_payload(BODY, SECRET, timestamp=1_000_000).split(",")[1]
    header = f"t=1000000,v1={'0' * 64},{good}"

    verify_signature(BODY, header, SECRET, now=1_000_000)
    verify_signature(BODY, header, SECRET, now=1_000_900, tolerance=1_000)


def test_the_comparison_is_constant_time(monkeypatch):
    import botdesk_client.signature as signature

    compared: list[tuple[bytes, bytes]] = []
    real = signature.hmac.compare_digest

    def spy(left, right):
        compared.append((left, right))
        return real(left, right)

    monkeypatch.setattr(signature.hmac, "compare_digest", spy)
    with pytest.raises(SignatureVerificationError):
        verify_signature(BODY, f"t=1000000,v1={'0' * 64}", SECRET, now=1_000_000)

    assert len(compared) == 1


@pytest.mark.slow
def test_the_client_and_the_example_bot_pass_mypy_strict(tmp_path):
    root = CLIENT_ROOT.parents[1]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--cache-dir",
            str(tmp_path),
            str(CLIENT_ROOT / "src" / "botdesk_client"),
            "examples/aiogram_bot",
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=280,
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_every_enum_of_the_schema_is_an_enum_of_the_client_with_the_same_values():
    import botdesk_client.models as models

    components = api.get_openapi_schema()["components"]["schemas"]
    enums = {name: component["enum"] for name, component in components.items() if "enum" in component}

    assert len(enums) >= 10
    for name, values in enums.items():
        assert [member.value for member in getattr(models, name)] == values, name
