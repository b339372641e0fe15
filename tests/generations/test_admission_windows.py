"""The admission's rate-limit windows read at most `limit` newest jobs of the user, by (user_id, id DESC)."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from generations import services
from generations.models import Generation
from tests.generations.helpers import create_body, model_create
from tests.support.users import user_create, user_funded

pytestmark = pytest.mark.django_db

CREATE = "/api/v1/generations"


def jobs_for(user, model, ages: list[timedelta]) -> None:
    """Finished jobs created `age` ago, oldest first (so ids follow creation times, as admissions make them)."""
    now = timezone.now()
    ages = sorted(ages, reverse=True)
    jobs = Generation.objects.bulk_create(
        [
            Generation(
                user=user, model=model, status="failed", cost=model.price, currency="RUB", completed_at=now
            )
            for _ in ages
        ]
    )
    for job, age in zip(jobs, ages, strict=True):  # created_at is auto_now_add: set it afterwards
        job.created_at = now - age
    Generation.objects.bulk_update(jobs, ["created_at"], batch_size=1000)


def admission_plan(user, model) -> str:
    params = services.admission_params(
        user_id=user.pk, model_code=model.code, limits_on=True, now=timezone.now()
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) " + services.CREATE_ADMISSION_SQL, params
        )
        return "\n".join(row[0] for row in cursor.fetchall())


def user_index_scans(plan: str) -> list[str]:
    return [line for line in plan.splitlines() if "generation_user_id_idx" in line]


def test_a_user_with_thousands_of_jobs_is_counted_from_a_bounded_slice_of_the_user_index(limits):
    # given a table of many users and one with 3,000 jobs of the last day, and limits of 5/minute, 50/day
    limits(per_minute=5, per_day=50)
    model = model_create()
    for _ in range(60):
        jobs_for(user_create(), model, [timedelta(days=day) for day in range(1, 31)])
    heavy = user_create()
    jobs_for(heavy, model, [timedelta(seconds=20 * index + 1) for index in range(3000)])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE generations_generation")

    # when the admission statement runs for the heavy user
    plan = admission_plan(heavy, model)

    # then each window is an index scan of (user_id, id DESC) under a Limit, reading at most its limit
    scans = user_index_scans(plan)
    assert len(scans) == 2, plan
    assert all("Index Scan using generation_user_id_idx" in line for line in scans), plan
    assert sorted(int(re.search(r"actual rows=(\d+)", line).group(1)) for line in scans) == [5, 50], plan
    assert plan.count("Limit") >= 2, plan
    assert "Seq Scan on generations_generation" not in plan, plan


def test_an_unlimited_window_reads_no_job(limits):
    limits(concurrent=3)
    model, user = model_create(), user_create()
    jobs_for(user, model, [timedelta(minutes=index) for index in range(20)])

    scans = user_index_scans(admission_plan(user, model))

    assert scans and all("never executed" in line for line in scans), scans


def test_retry_after_is_when_the_limit_th_newest_job_leaves_the_window(api, limits):
    # given more jobs in the last day than a lowered limit of 3 allows
    limits(per_day=3)
    user, model = user_funded("50.00"), model_create(price="1.00")
    jobs_for(user, model, [timedelta(hours=hours) for hours in (23, 22, 21, 3, 2, 1)])

    refused = api.post(CREATE, create_body(user, model), idempotency_key="w1")

    # then the job that frees a slot is the third newest, three hours old: 21 hours to wait
    assert refused.status_code == 429
    assert refused.json()["error"]["details"] == {"limit": "per_day", "max": 3}
    assert 21 * 3600 - 10 <= int(refused["Retry-After"]) <= 21 * 3600 + 10


def test_a_limit_only_python_reads_is_still_enforced(api, limits):
    # given a per-minute limit the SQL does not read as a number (JSON true, which Python reads as 1)
    limits(per_minute=True)
    user, model = user_funded("50.00"), model_create(price="1.00")

    first = api.post(CREATE, create_body(user, model), idempotency_key="p1")
    second = api.post(CREATE, create_body(user, model), idempotency_key="p2")

    # then Python counts the window itself, and the second job in the minute is refused
    assert (first.status_code, second.status_code) == (201, 429)
    assert second.json()["error"]["details"] == {"limit": "per_minute", "max": 1}
    assert 55 <= int(second["Retry-After"]) <= 60
