"""Hostile input: schemathesis generates requests from /api/v1/openapi.json and sends them to the WSGI app.

Every answer must be a non-5xx JSON response whose status the operation declares and whose body matches
the schema's response model for that status (for errors, the envelope `ErrorOut`). An undeclared status
fails the run; the statuses found are also listed in the terminal summary. Only the probes with methods
a path does not have are exempt: they must answer 405 with the error envelope.

    SCHEMATHESIS_MAX_EXAMPLES   examples per operation and mode (default 8 in `make test`; `make stress` 25)
    SCHEMATHESIS_PHASES         with `coverage` (as `make stress` sets it) also the per-operation run
"""

import contextlib
import os
import zlib
from collections import Counter, defaultdict
from decimal import Decimal

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import FailureGroup
from schemathesis.generation.modes import GenerationMode

from accounts.services import api_key_create
from generations.models import AIModel
from tests.support.api import ApiClient

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "8"))
# The coverage phase (boundary values, every undeclared method) multiplies the examples: `make stress` only.
PHASES = os.environ.get("SCHEMATHESIS_PHASES", "examples,fuzzing").split(",")
KNOWN_USER = "123456789"
# Defects found by this test and reported to the app's owner; the operation's failure is an xfail until fixed.
KNOWN_DEFECTS: dict[str, str] = {}

application = get_wsgi_application()
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)
schema.config.phases.update(phases=PHASES)

UNDECLARED_METHOD_PROBES = "undeclared-method probes"

EXAMPLES: Counter[str] = Counter()
STATUSES: dict[str, Counter[int]] = defaultdict(Counter)
UNDECLARED: dict[str, set[int]] = defaultdict(set)
DEFECT_HITS: Counter[str] = Counter()


def report_lines() -> list[str]:
    """The figures of the run, printed in pytest's terminal summary (tests/stress/conftest.py)."""
    if not EXAMPLES:
        return []
    lines = [
        f"schemathesis: {sum(EXAMPLES.values())} examples over {len(EXAMPLES)} operations "
        f"(max {MAX_EXAMPLES} per operation and mode, phases {','.join(PHASES)})"
    ]
    lines += [f"  {op}: {EXAMPLES[op]} examples, statuses {dict(STATUSES[op])}" for op in sorted(EXAMPLES)]
    for operation, hits in sorted(DEFECT_HITS.items()):
        lines.append(f"schemathesis: known defect hit {hits} times: {operation}: {KNOWN_DEFECTS[operation]}")
    if UNDECLARED:
        lines.append(
            "schemathesis: answers whose status the schema does not declare (missing error schemas; "
            "a failure except for the 405s of undeclared-method probes):"
        )
        lines += [f"  {op}: {sorted(UNDECLARED[op])}" for op in sorted(UNDECLARED)]
    return lines


@pytest.fixture
def known_objects(transactional_db) -> dict[str, str]:
    """Objects that generated paths can point at half of the time, so the handlers run past the lookup.

    Made through the API itself, so this keeps working while the services behind it change.
    """
    _, raw_key = api_key_create(name="schemathesis")
    api = ApiClient(raw_key)
    AIModel.objects.create(
        code="fuzz-img",
        name="Fuzz",
        category=AIModel.Category.IMAGE,
        provider="test",
        price=Decimal("1.00"),
        currency="RUB",
    )
    api.put(f"/api/v1/users/{KNOWN_USER}", {})
    made = {
        "generation_id": api.post(
            "/api/v1/generations",
            {"user": KNOWN_USER, "model": "fuzz-img", "prompt": "fuzz", "parameters": {"size": 1}},
            idempotency_key="fuzz-generation",
        ),
        "project_id": api.post(f"/api/v1/users/{KNOWN_USER}/projects", {"name": "fuzz"}),
        "assistant_id": api.post(f"/api/v1/users/{KNOWN_USER}/assistants", {"name": "fuzz"}),
        "payment_id": api.post(
            f"/api/v1/users/{KNOWN_USER}/payments", {"amount": "5.00"}, idempotency_key="fuzz-payment"
        ),
    }
    known = {"raw_key": raw_key, "user": KNOWN_USER}
    known.update(
        {name: str(response.json()["id"]) for name, response in made.items() if response.status_code == 201}
    )
    if "assistant_id" in known:
        dialog = api.post(
            f"/api/v1/assistants/{known['assistant_id']}/dialogs", {"user": KNOWN_USER, "chat_id": "1"}
        )
        document = api.post(
            f"/api/v1/assistants/{known['assistant_id']}/documents", {"title": "t", "text": "hello"}
        )
        for name, response in (("dialog_id", dialog), ("document_id", document)):
            if response.status_code in {200, 201}:
                known[name] = str(response.json()["id"])
    return known


def check_case(case, known_objects: dict[str, str]) -> None:
    declared = f"{case.operation.method.upper()} {case.operation.path}"
    # Schemathesis also probes each path with methods it does not declare (405 expected).
    operation = declared if case.method.upper() == case.operation.method.upper() else UNDECLARED_METHOD_PROBES
    # Half of the examples name objects that exist; the other half keep schemathesis' own values.
    if case.path_parameters and zlib.crc32(repr(sorted(case.path_parameters.items())).encode()) % 2:
        for name in case.path_parameters:
            if name in known_objects:
                case.path_parameters[name] = known_objects[name]
    headers = {"Authorization": f"Bearer {known_objects['raw_key']}"}
    response = case.call(headers=headers)
    EXAMPLES[operation] += 1
    STATUSES[operation][response.status_code] += 1

    try:
        case.validate_response(
            response,
            checks=[not_a_server_error, content_type_conformance, response_schema_conformance],
            headers=headers,
            transport_kwargs={"app": application, "headers": headers},
        )
    except FailureGroup:
        # A reported defect is counted, not failed again on every run (hypothesis cannot xfail mid-run);
        # tests/security/test_hostile_input.py pins it with its own xfail.
        if declared not in KNOWN_DEFECTS or response.status_code >= 500:
            raise
        DEFECT_HITS[declared] += 1
    try:
        case.validate_response(
            response,
            checks=[status_code_conformance],
            headers=headers,
            transport_kwargs={"app": application, "headers": headers},
        )
    except FailureGroup:
        UNDECLARED[operation].add(response.status_code)
        body = response.json()
        assert set(body) == {"error"} and {"code", "message", "details"} <= set(body["error"]), body
        if operation == UNDECLARED_METHOD_PROBES and response.status_code == 405:
            return
        raise


@pytest.mark.django_db
def test_every_operation_declares_the_error_envelope_for_its_failures(anonymous_api):
    """What the fuzzing below finds by chance, checked for every operation of the served document."""
    document = anonymous_api.get("/api/v1/openapi.json").json()
    error_body = {"$ref": "#/components/schemas/ErrorOut"}
    missing = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            name = f"{method.upper()} {path}"
            responses = operation["responses"]
            expected = set()
            if operation.get("security"):
                expected.add("401")  # a missing, wrong or revoked key
            if operation.get("parameters") or "requestBody" in operation:
                expected.add("422")  # any malformed path, query, header or body
            missing += [f"{name}: {status} not declared" for status in sorted(expected - set(responses))]
            missing += [
                f"{name}: {status} is not the error envelope"
                for status, answer in responses.items()
                if 400 <= int(status) < 500 and answer["content"]["application/json"]["schema"] != error_body
            ]
    assert not missing, "\n".join(missing)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_every_operation_answers_hostile_input_without_5xx(known_objects):
    """`make test`: positive and negative examples for every operation, in one test (one database flush)."""
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=MAX_EXAMPLES,
                deadline=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
                database=None,
                phases=[Phase.generate],
            )
            def run(case) -> None:
                check_case(case, known_objects)

            # Nothing to negate (no parameters, no body) is unsatisfiable: the positive mode covered it.
            with contextlib.suppress(Unsatisfiable):
                run()


@pytest.mark.skipif(
    "coverage" not in PHASES, reason="the per-operation run with the coverage phase is `make stress`"
)
@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
    database=None,
)
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_api_answers_hostile_input_without_5xx_and_within_schema(case, known_objects):
    check_case(case, known_objects)
