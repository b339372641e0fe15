"""Simultaneous requests on real threads and real PostgreSQL connections: money moves exactly once."""

from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing.models import Hold
from generations import services
from generations.models import Generation
from tests.generations.helpers import charges_for, create_body, model_create, money_of
from tests.support.api import ApiClient
from tests.support.concurrency import run_concurrently
from tests.support.ledger import assert_ledger_clean
from tests.support.users import user_funded

pytestmark = pytest.mark.django_db(transaction=True)


def test_concurrent_success_and_failure_resolve_a_job_once(raw_api_key):
    user, model = user_funded("30.00"), model_create(price="6.00")
    job = services.generation_create(user=user, model_code=model.code, prompt="race", parameters={})
    bodies = [
        {"status": "succeeded", "result_url": "https://x.io/win.png"},
        {"status": "failed", "error_code": "provider_error"},
    ] * 4

    responses = run_concurrently(
        lambda i: ApiClient(raw_api_key).post(f"/api/v1/generations/{job.pk}/status", bodies[i]), len(bodies)
    )

    assert not [r for r in responses if isinstance(r, BaseException)]
    job.refresh_from_db()
    assert job.status in ("succeeded", "failed")
    by_outcome = Counter((bodies[i]["status"], r.status_code) for i, r in enumerate(responses))
    loser = "failed" if job.status == "succeeded" else "succeeded"
    # The winner's four calls all answer 200 (one moved the job, three repeat it); the loser's are 409.
    assert by_outcome == Counter({(job.status, 200): 4, (loser, 409): 4})
    hold = Hold.objects.get(pk=job.hold_id)
    if job.status == "succeeded":
        assert (hold.status, len(charges_for(job))) == ("captured", 1)
        assert money_of(user) == (Decimal("24.00"), Decimal("0.00"))
    else:
        assert (hold.status, len(charges_for(job))) == ("released", 0)
        assert money_of(user) == (Decimal("30.00"), Decimal("0.00"))
    assert_ledger_clean()


def test_one_user_funded_for_exactly_k_jobs_gets_exactly_k(raw_api_key):
    k, attempts = 4, 10
    user, model = user_funded("26.00"), model_create(price="6.00")  # 4 x 6.00 = 24.00 fits, 5 do not

    responses = run_concurrently(
        lambda i: ApiClient(raw_api_key).post(
            "/api/v1/generations", create_body(user, model), idempotency_key=f"k-{i}"
        ),
        attempts,
    )

    statuses = Counter(r.status_code for r in responses)
    assert statuses == Counter({201: k, 402: attempts - k})
    assert Generation.objects.filter(user=user).count() == k
    assert money_of(user) == (Decimal("26.00"), Decimal("24.00"))
    assert_ledger_clean()


def test_rate_limit_admits_exactly_the_plan_limit_under_concurrency(raw_api_key, settings):
    from billing.models import Plan

    settings.RATE_LIMITS_ENABLED = True
    Plan.objects.filter(code="free").update(limits={"per_minute": 3, "concurrent": None, "per_day": None})
    user, model = user_funded("100.00"), model_create(price="1.00")

    responses = run_concurrently(
        lambda i: ApiClient(raw_api_key).post(
            "/api/v1/generations", create_body(user, model), idempotency_key=f"r-{i}"
        ),
        10,
    )

    statuses = Counter(r.status_code for r in responses)
    assert statuses == Counter({201: 3, 429: 7})
    refused = [r for r in responses if r.status_code == 429]
    assert all(r.json()["error"]["code"] == "rate_limited" for r in refused)
    assert all(1 <= int(r["Retry-After"]) <= 60 for r in refused)
    assert money_of(user) == (Decimal("100.00"), Decimal("3.00"))
    assert_ledger_clean()


def test_concurrent_in_flight_limit_holds_under_concurrency(raw_api_key, settings):
    from billing.models import Plan

    settings.RATE_LIMITS_ENABLED = True
    Plan.objects.filter(code="free").update(limits={"per_minute": None, "concurrent": 2, "per_day": None})
    user, model = user_funded("100.00"), model_create(price="1.00")

    responses = run_concurrently(
        lambda i: ApiClient(raw_api_key).post(
            "/api/v1/generations", create_body(user, model), idempotency_key=f"c-{i}"
        ),
        8,
    )

    assert Counter(r.status_code for r in responses) == Counter({201: 2, 429: 6})
    assert Generation.objects.filter(user=user, status="pending").count() == 2
    assert_ledger_clean()


def test_two_timeout_sweeps_at_once_release_each_hold_once(settings):
    user, model = user_funded("100.00"), model_create(price="2.00")
    jobs = [
        services.generation_create(user=user, model_code=model.code, prompt=str(i), parameters={})
        for i in range(30)
    ]
    Generation.objects.filter(pk__in=[job.pk for job in jobs]).update(
        created_at=timezone.now() - timedelta(seconds=settings.GENERATION_TIMEOUT_SECONDS + 60)
    )

    results = run_concurrently(lambda _: services.generations_time_out(batch_size=7), 2)

    assert not [r for r in results if isinstance(r, BaseException)]
    assert sum(results) == 30
    assert set(Generation.objects.values_list("status", flat=True)) == {"timeout"}
    assert set(Hold.objects.values_list("status", flat=True)) == {"released"}
    assert money_of(user) == (Decimal("100.00"), Decimal("0.00"))
    assert_ledger_clean()


def test_timeout_sweep_racing_a_success_charges_or_releases_never_both(raw_api_key):
    user, model = user_funded("100.00"), model_create(price="2.00")
    jobs = [
        services.generation_create(user=user, model_code=model.code, prompt=str(i), parameters={})
        for i in range(10)
    ]

    def act(i: int):
        if i == 0:
            Generation.objects.update(created_at=timezone.now() - timedelta(days=1))
            return services.generations_time_out()
        return [
            ApiClient(raw_api_key)
            .post(f"/api/v1/generations/{job.pk}/status", {"status": "succeeded"})
            .status_code
            for job in jobs
        ]

    run_concurrently(act, 2)
    # A job whose row a status call had locked is skipped (SKIP LOCKED) and left to the next minute's run.
    services.generations_time_out()

    for job in jobs:
        job.refresh_from_db()
        hold = Hold.objects.get(pk=job.hold_id)
        assert (job.status, hold.status) in {("succeeded", "captured"), ("timeout", "released")}
        assert len(charges_for(job)) == (1 if job.status == "succeeded" else 0)
    assert_ledger_clean()
