"""Plan limits: per minute, in flight, per day; 429 rate_limited with Retry-After; RATE_LIMITS_ENABLED."""

from datetime import timedelta

import pytest
from django.utils import timezone

from billing.models import Plan
from generations import services
from generations.models import Generation
from tests.generations.helpers import create_body, model_create
from tests.support.users import user_funded

pytestmark = pytest.mark.django_db

CREATE = "/api/v1/generations"


def test_per_minute_limit_answers_429_with_retry_after(api, limits):
    limits(per_minute=2)
    user, model = user_funded("50.00"), model_create(price="1.00")
    first = api.post(CREATE, create_body(user, model), idempotency_key="a").json()
    api.post(CREATE, create_body(user, model), idempotency_key="b")
    Generation.objects.filter(pk=first["id"]).update(created_at=timezone.now() - timedelta(seconds=50))

    refused = api.post(CREATE, create_body(user, model), idempotency_key="c")

    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert refused.json()["error"]["details"] == {"limit": "per_minute", "max": 2}
    # The oldest job of the window leaves it in about 10 seconds.
    assert 9 <= int(refused["Retry-After"]) <= 11


def test_a_429_is_not_remembered_so_the_same_key_goes_through_later(api, limits):
    limits(per_minute=1)
    user, model = user_funded("50.00"), model_create(price="1.00")
    first = api.post(CREATE, create_body(user, model, prompt="one"), idempotency_key="a").json()
    body = create_body(user, model, prompt="two")

    refused = api.post(CREATE, body, idempotency_key="retry-me")
    Generation.objects.filter(pk=first["id"]).update(created_at=timezone.now() - timedelta(minutes=2))
    retried = api.post(CREATE, body, idempotency_key="retry-me")

    assert (refused.status_code, retried.status_code) == (429, 201)


def test_concurrent_limit_counts_jobs_in_flight_only(api, limits):
    limits(concurrent=1)
    user, model = user_funded("50.00"), model_create(price="1.00")
    first = api.post(CREATE, create_body(user, model), idempotency_key="a").json()

    busy = api.post(CREATE, create_body(user, model), idempotency_key="b")
    services.generation_status_set(generation_id=first["id"], status="succeeded", result_url="https://x.io/1")
    free_again = api.post(CREATE, create_body(user, model), idempotency_key="c")

    assert busy.status_code == 429
    assert busy.json()["error"]["details"] == {"limit": "concurrent", "max": 1}
    assert int(busy["Retry-After"]) >= 1
    assert free_again.status_code == 201


def test_per_day_limit_is_a_rolling_24_hours(api, limits):
    limits(per_day=3)
    user, model = user_funded("50.00"), model_create(price="1.00")
    ids = [api.post(CREATE, create_body(user, model), idempotency_key=f"d{i}").json()["id"] for i in range(3)]
    Generation.objects.filter(pk=ids[0]).update(created_at=timezone.now() - timedelta(hours=23))

    refused = api.post(CREATE, create_body(user, model), idempotency_key="d3")
    Generation.objects.filter(pk=ids[0]).update(created_at=timezone.now() - timedelta(hours=25))
    admitted = api.post(CREATE, create_body(user, model), idempotency_key="d4")

    assert refused.status_code == 429
    assert refused.json()["error"]["details"] == {"limit": "per_day", "max": 3}
    assert 3590 <= int(refused["Retry-After"]) <= 3610
    assert admitted.status_code == 201


def test_default_free_plan_limits_apply(api, settings):
    settings.RATE_LIMITS_ENABLED = True
    user, model = user_funded("50.00"), model_create(price="1.00")

    first = api.post(CREATE, create_body(user, model), idempotency_key="a")
    second = api.post(CREATE, create_body(user, model), idempotency_key="b")

    # free: one job in flight at a time.
    assert (first.status_code, second.status_code) == (201, 429)


def test_rate_limits_can_be_switched_off(api, limits, settings):
    limits(per_minute=1, concurrent=1, per_day=1)
    settings.RATE_LIMITS_ENABLED = False
    user, model = user_funded("50.00"), model_create(price="1.00")

    statuses = [
        api.post(CREATE, create_body(user, model), idempotency_key=f"o{i}").status_code for i in range(3)
    ]

    assert statuses == [201, 201, 201]


def test_limits_are_per_user(api, limits):
    limits(concurrent=1)
    model = model_create(price="1.00")
    alice, bob = user_funded("10.00"), user_funded("10.00")

    assert api.post(CREATE, create_body(alice, model), idempotency_key="a").status_code == 201
    assert api.post(CREATE, create_body(bob, model), idempotency_key="b").status_code == 201


def test_a_malformed_limit_is_treated_as_unlimited_not_a_500(api, limits):
    limits(per_minute="five", concurrent="1")
    user, model = user_funded("50.00"), model_create(price="1.00")

    first = api.post(CREATE, create_body(user, model), idempotency_key="a")
    second = api.post(CREATE, create_body(user, model), idempotency_key="b")

    # "1" still reads as one job in flight; "five" is unusable, so per-minute is unlimited.
    assert (first.status_code, second.status_code) == (201, 429)
    assert second.json()["error"]["details"] == {"limit": "concurrent", "max": 1}


@pytest.mark.parametrize("subscription", [None, "active", "expired"])
def test_admission_applies_the_plan_billing_says_applies(api, limits, subscription):
    # given free allowing nothing and pro one job a minute, and a user with no, an active or an expired pro
    from billing.models import Subscription
    from billing.selectors import plan_for_user

    limits(per_minute=0)
    Plan.objects.filter(code="pro").update(limits={"per_minute": 1, "concurrent": None, "per_day": None})
    user, model = user_funded("100.00"), model_create()
    if subscription is not None:
        now = timezone.now()
        expires_at = now + timedelta(days=30) if subscription == "active" else now - timedelta(seconds=1)
        Subscription.objects.create(
            user=user,
            plan=Plan.objects.get(code="pro"),
            started_at=now - timedelta(days=1),
            expires_at=expires_at,
        )
    # when the user creates a job, then the create's own plan lookup agrees with billing's selector
    expected = plan_for_user(user=user).code
    response = api.post(CREATE, create_body(user, model), idempotency_key=f"plan-{subscription}")
    assert expected == ("pro" if subscription == "active" else "free")
    assert response.status_code == (201 if expected == "pro" else 429)
