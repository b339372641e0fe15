"""Query counts of every generations list endpoint and admin changelist: the same at 1 and at 50 rows."""

from datetime import timedelta

import pytest
from django.utils import timezone

from billing.models import Plan
from generations.models import Generation, Project, ProjectItem, ProviderLog, UsageDaily
from tests.generations.helpers import create_body, model_create
from tests.support.users import user_create, user_funded

pytestmark = pytest.mark.django_db

AUTH = 1  # the API key lookup (tests look every key up; production caches it, see the create pins)
CREATE = "/api/v1/generations"


def jobs_for(user, model, rows: int, **fields) -> list[Generation]:
    """Rows inserted directly: query counts are about reading them, not about the money of creating them."""
    defaults = {"cost": model.price, "currency": "RUB", "is_free": model.is_free, "prompt": "a cat on a mat"}
    return Generation.objects.bulk_create(
        [Generation(user=user, model=model, **{**defaults, **fields}) for _ in range(rows)]
    )


def failed_jobs_for(user, models, rows: int) -> None:
    now = timezone.now()
    Generation.objects.bulk_create(
        [
            Generation(
                user=user,
                model=models[index % len(models)],
                status="failed",
                error_code=f"code{index % 3}",
                cost=models[0].price,
                currency="RUB",
                completed_at=now,
            )
            for index in range(rows)
        ]
    )


def test_models_list_queries(api, django_assert_num_queries):
    for rows in (1, 50):
        for index in range(rows):
            model_create(f"q-model-{rows}-{index}", price="1.00")
        with django_assert_num_queries(AUTH + 1):
            response = api.get("/api/v1/models")
        assert response.status_code == 200
        assert len(response.json()) >= rows


@pytest.mark.parametrize("query", ["", "?status=pending", "?limit=200"])
def test_user_generations_list_queries(api, django_assert_num_queries, query):
    model = model_create()
    for rows in (1, 50):
        user = user_create()
        jobs_for(user, model, rows)
        with django_assert_num_queries(AUTH + 2):  # the user, then one page of jobs joined to models
            response = api.get(f"/api/v1/users/{user.display_ref}/generations{query}")
        assert response.status_code == 200
        assert len(response.json()["items"]) == rows


def test_generation_detail_queries(api, django_assert_num_queries):
    user, model = user_create(), model_create()
    (job,) = jobs_for(user, model, 1)
    with django_assert_num_queries(AUTH + 1):
        assert api.get(f"/api/v1/generations/{job.pk}").status_code == 200


def test_user_projects_list_queries(api, django_assert_num_queries):
    for rows in (1, 50):
        user = user_create()
        projects = Project.objects.bulk_create([Project(user=user, name=f"p{i}") for i in range(rows)])
        ProjectItem.objects.bulk_create(
            [ProjectItem(project=project, model_code="m") for project in projects]
        )
        with django_assert_num_queries(AUTH + 2):  # the user, then one page of projects with their counts
            response = api.get(f"/api/v1/users/{user.display_ref}/projects")
        assert response.status_code == 200
        assert len(response.json()["items"]) == rows


def test_project_detail_queries(api, django_assert_num_queries):
    user = user_create()
    for rows in (1, 50):
        project = Project.objects.create(user=user, name=f"p{rows}")
        ProjectItem.objects.bulk_create([ProjectItem(project=project, model_code="m") for _ in range(rows)])
        with django_assert_num_queries(AUTH + 2):  # the project, then its newest 20 items
            response = api.get(f"/api/v1/projects/{project.pk}")
        assert response.status_code == 200
        assert len(response.json()["items"]) == min(rows, 20)


ADMIN_BASE = 2  # the session and the operator

GENERATION_CHANGELIST_QUERIES = {
    "": 3,
    "?status__exact=failed": 3,
    "?q=a+cat": 3,
    "?q=task-77": 3,
    # A date range first turns into an id range: one constant lookup (core.id_bounds).
    "?created_at__gte=2000-01-01T00:00:00Z": 4,
    "?created_at__from=2000-01-01&created_at__to=2100-01-01": 4,
}


@pytest.mark.parametrize("query", list(GENERATION_CHANGELIST_QUERIES))
def test_generation_changelist_queries(admin_client, django_assert_num_queries, query):
    model = model_create()
    for rows in (1, 50):
        user = user_create()
        jobs_for(user, model, rows, status="failed", task_id="task-77", completed_at=timezone.now())
        with django_assert_num_queries(ADMIN_BASE + GENERATION_CHANGELIST_QUERIES[query]):
            response = admin_client.get(f"/admin/generations/generation/{query}")
        assert response.status_code == 200


def test_generation_changelist_search_by_user_queries(admin_client, django_assert_num_queries):
    model = model_create()
    for rows in (1, 50):
        user = user_create()
        jobs_for(user, model, rows)
        with django_assert_num_queries(ADMIN_BASE + 4):  # + the user ids the term names
            response = admin_client.get(f"/admin/generations/generation/?q={user.telegram_id}")
        assert response.status_code == 200
        assert response.context["cl"].result_count == rows


def test_generation_changelist_prompt_search_in_one_user_queries(admin_client, django_assert_num_queries):
    # The user card's link filters by user; a prompt search there reads that user's jobs by (user, id).
    model = model_create()
    for rows in (1, 50):
        user = user_create()
        jobs_for(user, model, rows)
        jobs_for(user_create(), model, rows)  # someone else's cats are not listed
        with django_assert_num_queries(ADMIN_BASE + 3):
            response = admin_client.get(f"/admin/generations/generation/?user={user.pk}&q=a+cat")
        assert response.status_code == 200
        assert response.context["cl"].result_count == rows


def test_generation_changelist_model_filter_queries(admin_client, django_assert_num_queries):
    # The model filter alone is bounded to the last 30 days (jobs have no model index), and those days to
    # their id range (one constant lookup): same count at 1 and 50 rows.
    for rows in (1, 50):
        model = model_create(f"filter-{rows}")
        jobs_for(user_create(), model, rows)
        with django_assert_num_queries(ADMIN_BASE + 4):
            response = admin_client.get(f"/admin/generations/generation/?model__id__exact={model.pk}")
        assert response.status_code == 200
        assert response.context["cl"].result_count == rows


def test_failures_view_queries(admin_client, django_assert_num_queries):
    models = [model_create(f"fail-{index}") for index in range(5)]
    for rows in (1, 50):
        failed_jobs_for(user_create(), models, rows)
        with django_assert_num_queries(ADMIN_BASE + 1):
            response = admin_client.get("/admin/generations/generation/failures/")
        assert response.status_code == 200


@pytest.mark.parametrize(
    ("url", "make", "queries"),
    [
        (
            "/admin/generations/aimodel/",
            lambda rows: [model_create(f"adm-{rows}-{i}") for i in range(rows)],
            4,
        ),
        (
            "/admin/generations/project/",
            lambda rows: Project.objects.bulk_create(
                [Project(user=user_create(), name="p") for _ in range(rows)]
            ),
            2,
        ),
        (
            "/admin/generations/projectitem/",
            lambda rows: ProjectItem.objects.bulk_create(
                [
                    ProjectItem(project=Project.objects.create(user=user_create(), name="p"))
                    for _ in range(rows)
                ]
            ),
            3,
        ),
        (
            "/admin/generations/providerlog/",
            lambda rows: ProviderLog.objects.bulk_create(
                [ProviderLog(user=user_create(), model_code="m") for _ in range(rows)]
            ),
            2,
        ),
        (
            "/admin/generations/usagedaily/",
            lambda rows: UsageDaily.objects.bulk_create(
                [
                    UsageDaily(
                        day=timezone.now().date() - timedelta(days=rows * 100 + index),
                        model=model_create(),
                        currency="RUB",
                    )
                    for index in range(rows)
                ]
            ),
            3,
        ),
    ],
)
def test_other_changelists_queries(admin_client, django_assert_num_queries, url, make, queries):
    for rows in (1, 50):
        make(rows)
        with django_assert_num_queries(ADMIN_BASE + queries):
            response = admin_client.get(url)
        assert response.status_code == 200


def test_project_change_page_queries(admin_client, django_assert_num_queries):
    user = user_create()
    warm_up = Project.objects.create(user=user, name="warm-up")
    admin_client.get(f"/admin/generations/project/{warm_up.pk}/change/")  # content types get cached
    for rows in (1, 50):
        project = Project.objects.create(user=user, name=f"p{rows}")
        ProjectItem.objects.bulk_create([ProjectItem(project=project, model_code="m") for _ in range(rows)])
        with django_assert_num_queries(ADMIN_BASE + 3):  # the project, its items, its user's label
            response = admin_client.get(f"/admin/generations/project/{project.pk}/change/")
        assert response.status_code == 200


# A create, with the API key cached as in production: the transaction's two ends (BEGIN/COMMIT; a
# savepoint pair inside the test's transaction), the Idempotency-Key claim, the user with the admission
# lock, the model/price/id/plan/counts, the hold, the job INSERT, the stored answer.
CREATE_ROUND_TRIPS = 8


@pytest.mark.parametrize("limits_on", [True, False])
def test_create_round_trips_are_pinned(api, settings, django_assert_num_queries, limits_on):
    # given a funded user, a key the process has seen and plan limits on or off
    settings.API_KEY_CACHE_SECONDS = 10
    settings.RATE_LIMITS_ENABLED = limits_on
    Plan.objects.filter(code="free").update(limits={"per_minute": 10, "concurrent": 10, "per_day": 10})
    user, model = user_funded("1000.00"), model_create()
    api.get(f"/api/v1/users/{user.telegram_id}/balance")
    for index in range(3):  # the count does not grow with the user's jobs
        # when a job is created, then it takes exactly the pinned round trips
        with django_assert_num_queries(CREATE_ROUND_TRIPS):
            response = api.post(CREATE, create_body(user, model), idempotency_key=f"rt-{limits_on}-{index}")
        assert response.status_code == 201
    assert Generation.objects.filter(user=user, hold_id__isnull=False).count() == 3


def test_free_create_skips_only_the_hold(api, settings, django_assert_num_queries):
    settings.API_KEY_CACHE_SECONDS = 10
    user, free = user_create(), model_create("free-rt", price="0.00")
    api.get(f"/api/v1/users/{user.telegram_id}/balance")
    with django_assert_num_queries(CREATE_ROUND_TRIPS - 1):
        response = api.post(CREATE, create_body(user, free), idempotency_key="rt-free")
    assert (response.status_code, response.json()["cost"]) == (201, "0.00")


def test_create_without_the_key_cache_adds_only_the_key_lookup(api, django_assert_num_queries):
    user, model = user_funded("100.00"), model_create()
    with django_assert_num_queries(AUTH + CREATE_ROUND_TRIPS):
        assert api.post(CREATE, create_body(user, model), idempotency_key="rt-nocache").status_code == 201


def test_a_replay_reads_the_stored_answer_without_acting(api, settings, django_assert_num_queries):
    # given a created job, when the same key and body come again, then: BEGIN, claim, the record, COMMIT
    settings.API_KEY_CACHE_SECONDS = 10
    user, model = user_funded("100.00"), model_create()
    first = api.post(CREATE, create_body(user, model), idempotency_key="rt-replay")
    with django_assert_num_queries(4):
        again = api.post(CREATE, create_body(user, model), idempotency_key="rt-replay")
    assert again.json() == first.json()
