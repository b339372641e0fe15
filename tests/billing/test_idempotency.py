"""Idempotency-Key semantics (invariant 6), tested on the helper every money POST goes through."""

import json
from decimal import Decimal

import pytest
from django.test import RequestFactory
from ninja import Status

from accounts.models import ApiKey
from accounts.services import api_key_create
from billing import services
from billing.errors import BillingError, InsufficientFunds
from billing.idempotency import idempotent_call
from billing.models import Hold, IdempotencyRecord
from core.errors import DomainError
from tests.support.concurrency import run_concurrently
from tests.support.users import user_funded

pytestmark = pytest.mark.django_db


def make_request(api_key: ApiKey, body: dict, key: str | None = "key-1", path: str = "/api/v1/things"):
    headers = {"Idempotency-Key": key} if key is not None else {}
    request = RequestFactory().post(
        path, data=json.dumps(body), content_type="application/json", headers=headers
    )
    request.auth = api_key
    return request


@pytest.fixture
def client_key() -> ApiKey:
    return api_key_create(name="idem")[0]


def holding_handler(user, amount: str, counter: list[int]):
    def handler() -> Status:
        counter.append(1)
        hold = services.hold_create(
            user=user, amount=Decimal(amount), currency="RUB", reference=f"idem:{len(counter)}"
        )
        return Status(201, {"hold": hold.pk, "amount": Decimal(amount)})

    return handler


def test_replay_returns_the_identical_response_and_acts_once(client_key):
    user = user_funded("50.00")
    calls: list[int] = []
    first = idempotent_call(
        make_request(client_key, {"a": 1}), required=True, handler=holding_handler(user, "5.00", calls)
    )
    second = idempotent_call(
        make_request(client_key, {"a": 1}), required=True, handler=holding_handler(user, "5.00", calls)
    )
    assert (first.status_code, first.content) == (second.status_code, second.content) == (201, first.content)
    assert json.loads(first.content)["amount"] == "5.00"
    assert len(calls) == 1
    assert Hold.objects.count() == 1


def test_same_key_with_another_body_is_409(client_key):
    user = user_funded("50.00")
    calls: list[int] = []
    idempotent_call(
        make_request(client_key, {"a": 1}), required=True, handler=holding_handler(user, "5.00", calls)
    )
    with pytest.raises(BillingError) as conflict:
        idempotent_call(
            make_request(client_key, {"a": 2}), required=True, handler=holding_handler(user, "5.00", calls)
        )
    assert conflict.value.code == "idempotency_key_reused"
    assert conflict.value.status == 409
    assert len(calls) == 1


def test_same_body_on_another_path_is_409(client_key):
    user = user_funded("50.00")
    calls: list[int] = []
    idempotent_call(
        make_request(client_key, {"a": 1}), required=True, handler=holding_handler(user, "5.00", calls)
    )
    with pytest.raises(BillingError):
        idempotent_call(
            make_request(client_key, {"a": 1}, path="/api/v1/other"),
            required=True,
            handler=holding_handler(user, "5.00", calls),
        )


def test_insufficient_funds_is_remembered_even_after_a_top_up(client_key):
    user = user_funded("10.00")
    calls: list[int] = []
    refused = idempotent_call(
        make_request(client_key, {"a": 1}), required=True, handler=holding_handler(user, "20.00", calls)
    )
    assert refused.status_code == 402
    services.balance_adjust(
        user=user, amount=Decimal("100.00"), currency="RUB", reason="top up", operator=None
    )
    replay = idempotent_call(
        make_request(client_key, {"a": 1}), required=True, handler=holding_handler(user, "20.00", calls)
    )
    assert (replay.status_code, replay.content) == (402, refused.content)
    assert json.loads(replay.content)["error"]["code"] == "insufficient_funds"
    assert not Hold.objects.exists()


def test_transient_refusal_is_not_remembered(client_key):
    user = user_funded("50.00")
    calls: list[int] = []

    def rate_limited() -> Status:
        calls.append(1)
        raise DomainError("slow down", code="rate_limited", retry_after=1)

    with pytest.raises(DomainError):
        idempotent_call(make_request(client_key, {"a": 1}), required=True, handler=rate_limited)
    assert not IdempotencyRecord.objects.exists()
    later = idempotent_call(
        make_request(client_key, {"a": 1}), required=True, handler=holding_handler(user, "5.00", calls)
    )
    assert later.status_code == 201


def test_refusal_rolls_back_partial_writes(client_key):
    user = user_funded("50.00")

    def half_done() -> Status:
        services.hold_create(user=user, amount=Decimal("5.00"), currency="RUB", reference="partial")
        raise InsufficientFunds("refused after a write")

    response = idempotent_call(make_request(client_key, {"a": 1}), required=True, handler=half_done)
    assert response.status_code == 402
    assert not Hold.objects.exists()


def test_missing_key_when_required_is_422(client_key):
    with pytest.raises(BillingError) as refused:
        idempotent_call(
            make_request(client_key, {}, key=None), required=True, handler=lambda: Status(201, {})
        )
    assert refused.value.code == "validation_error"


def test_keys_are_scoped_per_api_client(client_key):
    other_key = api_key_create(name="other")[0]
    user = user_funded("50.00")
    calls: list[int] = []
    idempotent_call(
        make_request(client_key, {"a": 1}), required=True, handler=holding_handler(user, "5.00", calls)
    )
    idempotent_call(
        make_request(other_key, {"a": 1}), required=True, handler=holding_handler(user, "5.00", calls)
    )
    assert len(calls) == 2


def race_one_key(api_key: ApiKey, user, amount: str, calls: list[int]) -> list:
    """Eight requests with one key and one body at once; their (status, body) answers."""

    def attempt(_: int):
        response = idempotent_call(
            make_request(api_key, {"a": 1}), required=True, handler=holding_handler(user, amount, calls)
        )
        return response.status_code, response.content

    return run_concurrently(attempt, 8)


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_act_once():
    api_key = api_key_create(name="racer")[0]
    user = user_funded("50.00")
    calls: list[int] = []

    results = race_one_key(api_key, user, "5.00", calls)
    assert not [result for result in results if isinstance(result, BaseException)]
    assert len(set(results)) == 1
    assert len(calls) == 1
    assert Hold.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_refused_give_one_stored_refusal():
    # given a user who cannot afford the hold, and eight requests with one key at once
    api_key = api_key_create(name="refused-racer")[0]
    # when they race, then every answer is the same stored 402 and nothing was held
    results = race_one_key(api_key, user_funded("10.00"), "50.00", [])
    assert not [result for result in results if isinstance(result, BaseException)]
    assert len(set(results)) == 1
    assert results[0][0] == 402
    assert IdempotencyRecord.objects.filter(api_key=api_key).count() == 1
    assert not Hold.objects.exists()


def test_a_refusal_is_stored_with_the_key_after_the_rollback(client_key, django_assert_num_queries):
    # given a handler that writes, then refuses: when it runs, then the write is gone and the key answers
    # the refusal; the success path has no savepoint of its own
    user = user_funded("50.00")

    def half_done() -> Status:
        services.hold_create(user=user, amount=Decimal("5.00"), currency="RUB", reference="half")
        raise InsufficientFunds("refused after a write")

    refused = idempotent_call(make_request(client_key, {"b": 1}), required=True, handler=half_done)
    record = IdempotencyRecord.objects.get(api_key=client_key)
    assert (record.status_code, record.response_body) == (402, refused.content.decode())
    assert not Hold.objects.exists()
    with django_assert_num_queries(4):  # BEGIN (a savepoint here), claim, store, COMMIT
        ok = idempotent_call(
            make_request(client_key, {"c": 1}, key="key-2"), required=True, handler=lambda: Status(201, {})
        )
    assert ok.status_code == 201
