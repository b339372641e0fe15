"""Projects and their history, provider logs, and the daily usage rollup."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from generations import services
from generations.models import Generation, ProjectItem, ProviderLog, UsageDaily
from generations.tasks import usage_rollup
from tests.generations.helpers import model_create
from tests.support.users import user_create, user_funded

pytestmark = pytest.mark.django_db


def test_project_create_list_and_detail(api):
    user = user_create()

    created = api.post(
        f"/api/v1/users/{user.display_ref}/projects", {"name": "Cats", "description": "all cats"}
    )
    listed = api.get(f"/api/v1/users/{user.display_ref}/projects")

    assert created.status_code == 201
    project = created.json()
    assert (project["name"], project["items_count"], project["last_item_at"]) == ("Cats", 0, None)
    assert listed.json()["items"] == [project]
    assert listed.json()["next_cursor"] is None


def test_project_validation(api):
    user = user_create()
    url = f"/api/v1/users/{user.display_ref}/projects"

    assert api.post(url, {"name": ""}).status_code == 422
    assert api.post(url, {"name": "x" * 201}).status_code == 422
    assert api.post(url, {"name": "   "}).status_code == 422
    assert api.post("/api/v1/users/55555/projects", {"name": "ghost"}).status_code == 404


def test_items_from_a_generation_and_from_outside_update_counts(api):
    user, model = user_funded("20.00"), model_create()
    project = services.project_create(user=user, name="Portraits")
    job = services.generation_create(
        user=user, model_code=model.code, prompt="a face", parameters={"seed": 7}
    )
    services.generation_status_set(
        generation_id=job.pk, status="succeeded", result_url="https://x.io/face.png"
    )

    from_job = api.post(f"/api/v1/projects/{project.pk}/items", {"generation": job.pk})
    outside = api.post(
        f"/api/v1/projects/{project.pk}/items",
        {
            "model": "midjourney",
            "inputs": {"prompt": "x"},
            "outputs": {"url": "https://y.io/1"},
            "status": "ok",
        },
    )
    detail = api.get(f"/api/v1/projects/{project.pk}").json()

    assert (from_job.status_code, outside.status_code) == (201, 201)
    assert from_job.json()["model"] == model.code
    assert from_job.json()["inputs"] == {"prompt": "a face", "parameters": {"seed": 7}}
    assert from_job.json()["outputs"] == {"result_url": "https://x.io/face.png"}
    assert from_job.json()["status"] == "succeeded"
    assert detail["items_count"] == 2
    assert detail["last_item_at"] == outside.json()["created_at"]
    assert [item["id"] for item in detail["items"]] == [outside.json()["id"], from_job.json()["id"]]


def test_project_detail_shows_the_newest_20_items(api):
    user = user_create()
    project = services.project_create(user=user, name="Many")
    items = [
        services.project_item_add(project_id=project.pk, model_code="m", status=str(i)) for i in range(25)
    ]

    detail = api.get(f"/api/v1/projects/{project.pk}").json()

    assert detail["items_count"] == 25
    assert [item["id"] for item in detail["items"]] == [item.pk for item in reversed(items)][:20]


def test_item_refusals(api):
    owner, stranger, model = user_funded("20.00"), user_funded("20.00"), model_create()
    project = services.project_create(user=owner, name="Mine")
    foreign_job = services.generation_create(user=stranger, model_code=model.code, prompt="", parameters={})
    url = f"/api/v1/projects/{project.pk}/items"

    foreign = api.post(url, {"generation": foreign_job.pk})
    empty = api.post(url, {})
    both = api.post(url, {"generation": foreign_job.pk, "model": "x"})
    missing_job = api.post(url, {"generation": 999_999_999})
    missing_project = api.post("/api/v1/projects/999999999/items", {"model": "x"})
    too_big = api.post(url, {"model": "x", "inputs": {"blob": "x" * 20_000}})

    assert foreign.status_code == 422
    assert foreign.json()["error"]["details"] == {"generation": "belongs to another user"}
    assert (empty.status_code, both.status_code, too_big.status_code) == (422, 422, 422)
    assert (missing_job.status_code, missing_project.status_code) == (404, 404)
    assert not ProjectItem.objects.exists()
    project.refresh_from_db()
    assert project.items_count == 0


def test_provider_log_is_accepted_and_cut_to_the_limits(api):
    user = user_create()

    response = api.post(
        "/api/v1/logs/provider",
        {
            "user": user.display_ref,
            "model": "flux-2-pro",
            "prompt": "p" * 3000,
            "result_url": "https://x.io/r.png",
            "error_message": "e" * 2000,
            "duration_ms": 1234,
        },
    )

    assert response.status_code == 202
    log = ProviderLog.objects.get()
    assert (log.user_id, log.model_code, log.duration_ms) == (user.pk, "flux-2-pro", 1234)
    assert (len(log.prompt), len(log.error_message)) == (1000, 500)


def test_provider_log_of_an_unknown_user_is_kept_unowned(api, django_assert_num_queries):
    with django_assert_num_queries(2):  # the API key, then one INSERT that resolves the user inside it
        response = api.post("/api/v1/logs/provider", {"user": "999888777", "model": "m"})

    assert response.status_code == 202
    assert ProviderLog.objects.get().user_id is None
    assert api.post("/api/v1/logs/provider", {"user": "not a ref"}).status_code == 422
    assert api.post("/api/v1/logs/provider", {"duration_ms": -1}).status_code == 422


def test_usage_rollup_counts_revenue_and_mean_duration_and_is_idempotent():
    user, paid, free = user_funded("100.00"), model_create(price="6.00"), model_create("free-x", price="0.00")
    ok1 = services.generation_create(user=user, model_code=paid.code, prompt="", parameters={})
    ok2 = services.generation_create(user=user, model_code=paid.code, prompt="", parameters={})
    bad = services.generation_create(user=user, model_code=paid.code, prompt="", parameters={})
    services.generation_create(user=user, model_code=paid.code, prompt="", parameters={})  # still pending
    gratis = services.generation_create(user=user, model_code=free.code, prompt="", parameters={})
    services.generation_status_set(generation_id=ok1.pk, status="succeeded", duration_ms=1000)
    services.generation_status_set(generation_id=ok2.pk, status="succeeded", duration_ms=2000)
    services.generation_status_set(generation_id=bad.pk, status="failed", duration_ms=50)
    services.generation_status_set(generation_id=gratis.pk, status="succeeded", duration_ms=300)
    yesterday_job = services.generation_create(user=user, model_code=paid.code, prompt="", parameters={})
    Generation.objects.filter(pk=yesterday_job.pk).update(created_at=timezone.now() - timedelta(days=1))
    today = timezone.now().date()

    first = services.usage_rollup(day=today)
    second = services.usage_rollup(day=today)

    assert first == second == 2
    row = UsageDaily.objects.get(day=today, model=paid)
    assert (row.total, row.succeeded, row.failed, row.pending) == (4, 2, 1, 1)
    assert row.revenue == Decimal("12.00")
    assert row.mean_duration_ms == 1500
    free_row = UsageDaily.objects.get(day=today, model=free)
    assert (free_row.total, free_row.revenue) == (1, Decimal("0.00"))
    assert UsageDaily.objects.filter(day=today).count() == 2


def test_usage_rollup_task_covers_yesterday_and_today_and_outlives_logs():
    user, paid = user_funded("100.00"), model_create(price="6.00")
    job = services.generation_create(user=user, model_code=paid.code, prompt="", parameters={})
    Generation.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(days=1))
    services.generation_create(user=user, model_code=paid.code, prompt="", parameters={})
    ProviderLog.objects.create(model_code=paid.code)

    rows = usage_rollup.delay().get()
    ProviderLog.objects.all().delete()  # retention removes raw logs; the rollup stays

    assert rows == 2
    today = timezone.now().date()
    assert set(UsageDaily.objects.values_list("day", "total")) == {(today - timedelta(days=1), 1), (today, 1)}
    assert usage_rollup.delay(day=today.isoformat()).get() == 1
