"""What operators see and do in the generations admin."""

from datetime import timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from generations import services
from generations.models import Generation
from tests.generations.helpers import hold_status, model_create, money_of
from tests.support.ledger import assert_ledger_clean
from tests.support.users import user_funded

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/generations/generation/"


def listed_ids(response) -> set[int]:
    return {row.pk for row in response.context["cl"].result_list}


def test_search_by_user_task_id_and_prompt(admin_client):
    model = model_create()
    alice, bob = user_funded("50.00"), user_funded("50.00")
    cat = services.generation_create(
        user=alice, model_code=model.code, prompt="A ginger Cat on a roof", parameters={}
    )
    dog = services.generation_create(user=bob, model_code=model.code, prompt="a dog", parameters={})
    services.generation_status_set(generation_id=dog.pk, status="processing", task_id="prov-task-42")

    by_user = admin_client.get(CHANGELIST, {"q": str(alice.telegram_id)})
    by_task = admin_client.get(CHANGELIST, {"q": "prov-task-42"})
    by_job_id = admin_client.get(CHANGELIST, {"q": str(dog.pk)})
    # Prompts are searched among one user's jobs: the user card's link filters by user.
    by_prompt = admin_client.get(CHANGELIST, {"user": alice.pk, "q": "ginger cat"})
    not_theirs = admin_client.get(CHANGELIST, {"user": bob.pk, "q": "ginger cat"})
    nothing = admin_client.get(CHANGELIST, {"user": alice.pk, "q": "zebra"})

    assert listed_ids(by_user) == {cat.pk}
    assert listed_ids(by_task) == {dog.pk}
    assert dog.pk in listed_ids(by_job_id)
    assert listed_ids(by_prompt) == {cat.pk}
    assert listed_ids(not_theirs) == set()
    assert listed_ids(nothing) == set()


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_a_prompt_search_without_a_user_says_it_needs_one_and_searches_task_ids(admin_client):
    # given a job with a prompt and another whose task id is the term
    model = model_create()
    user = user_funded("50.00")
    cat = services.generation_create(user=user, model_code=model.code, prompt="a ginger cat", parameters={})
    task = services.generation_create(user=user, model_code=model.code, prompt="", parameters={})
    services.generation_status_set(generation_id=task.pk, status="processing", task_id="ginger")

    # when an operator searches the whole list for a word of the prompt
    response = admin_client.get(CHANGELIST, {"q": "ginger"})

    # then the prompts are not searched (no scan of every job), the task id is, and the page says why
    assert cat.pk not in listed_ids(response)
    assert listed_ids(response) == {task.pk}
    assert messages_of(response) == [
        "Prompts are searched only among one user's jobs: open the user's generations from their card and "
        "search there. Without a user, the search looks at task ids and generation ids."
    ]
    assert "part of a prompt only among one user&#x27;s jobs" in response.content.decode()


@pytest.mark.parametrize(
    "query",
    [lambda user: {"q": str(user.telegram_id)}, lambda user: {"user": user.pk, "q": "cat"}, lambda user: {}],
    ids=["by user", "prompt in one user", "no search"],
)
def test_no_prompt_message_where_prompts_are_searched_or_no_prompt_is_asked(admin_client, query):
    user = user_funded("50.00")

    response = admin_client.get(CHANGELIST, query(user))

    assert messages_of(response) == []


def test_the_prompt_message_is_russian_for_a_russian_operator(admin_client, settings):
    settings.LANGUAGE_CODE = "ru"

    response = admin_client.get(CHANGELIST, {"q": "ginger"}, headers={"Accept-Language": "ru"})

    assert (
        "Запросы ищутся только среди задач одного пользователя: откройте его генерации из карточки "
        "пользователя и ищите там. Без пользователя поиск идёт по ID задач и ID генераций."
    ) in response.content.decode()


def test_filters_by_status_model_and_date(admin_client):
    flux, kling = model_create("flux-a"), model_create("kling-a", price="45.00")
    user = user_funded("200.00")
    old = services.generation_create(user=user, model_code=flux.code, prompt="", parameters={})
    Generation.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=10))
    new_flux = services.generation_create(user=user, model_code=flux.code, prompt="", parameters={})
    new_kling = services.generation_create(user=user, model_code=kling.code, prompt="", parameters={})
    services.generation_status_set(generation_id=new_kling.pk, status="failed", error_code="x")
    # As the admin's date filter sends it: an aware datetime, not a bare date.
    week_ago = (
        (timezone.now() - timedelta(days=7)).replace(hour=0, minute=0, second=0, microsecond=0).isoformat()
    )

    assert listed_ids(admin_client.get(CHANGELIST, {"status__exact": "failed"})) == {new_kling.pk}
    assert listed_ids(admin_client.get(CHANGELIST, {"model__id__exact": flux.pk})) == {old.pk, new_flux.pk}
    assert listed_ids(admin_client.get(CHANGELIST, {"created_at__gte": week_ago})) == {
        new_flux.pk,
        new_kling.pk,
    }


def test_the_model_filter_alone_shows_the_last_30_days_and_says_so(admin_client):
    # given a model's job of 40 days ago and one of today (jobs are not indexed by model)
    model = model_create("flux-m")
    user = user_funded("50.00")
    old = services.generation_create(user=user, model_code=model.code, prompt="", parameters={})
    Generation.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=40))
    new = services.generation_create(user=user, model_code=model.code, prompt="", parameters={})
    two_months_ago = (timezone.now() - timedelta(days=60)).isoformat()

    alone = admin_client.get(CHANGELIST, {"model__id__exact": model.pk})
    with_dates = admin_client.get(
        CHANGELIST, {"model__id__exact": model.pk, "created_at__gte": two_months_ago}
    )
    with_user = admin_client.get(CHANGELIST, {"model__id__exact": model.pk, "user": user.pk})

    # then alone it reads the last 30 days and its title says so; dates or a user lift the bound
    assert listed_ids(alone) == {new.pk}
    assert "model (the last 30 days unless dates are chosen)" in alone.content.decode()
    assert listed_ids(with_dates) == {old.pk, new.pk}
    assert listed_ids(with_user) == {old.pk, new.pk}
    assert "the last 30 days" not in with_user.content.decode()


def test_failures_view_groups_the_last_24_hours_and_links_to_the_jobs(admin_client):
    flux, kling = model_create("flux-f"), model_create("kling-f", price="45.00")
    user = user_funded("500.00")
    jobs = [
        services.generation_create(user=user, model_code=flux.code, prompt="", parameters={})
        for _ in range(3)
    ]
    jobs.append(services.generation_create(user=user, model_code=kling.code, prompt="", parameters={}))
    for job in jobs[:2]:
        services.generation_status_set(generation_id=job.pk, status="failed", error_code="nsfw")
    services.generation_status_set(generation_id=jobs[2].pk, status="failed", error_code="gpu_oom")
    services.generation_status_set(generation_id=jobs[3].pk, status="failed", error_code="nsfw")
    stale = services.generation_create(user=user, model_code=flux.code, prompt="", parameters={})
    services.generation_status_set(generation_id=stale.pk, status="failed", error_code="nsfw")
    Generation.objects.filter(pk=stale.pk).update(created_at=timezone.now() - timedelta(days=2))

    response = admin_client.get("/admin/generations/generation/failures/")

    assert response.status_code == 200
    rows = {(row["model__code"], row["error_code"]): row for row in response.context["rows"]}
    assert {key: row["failures"] for key, row in rows.items()} == {
        ("flux-f", "nsfw"): 2,
        ("flux-f", "gpu_oom"): 1,
        ("kling-f", "nsfw"): 1,
    }
    link = rows[("flux-f", "nsfw")]["url"]
    assert urlsplit(link).path == CHANGELIST
    assert parse_qs(urlsplit(link).query)["error_code"] == ["nsfw"]
    linked = admin_client.get(link)
    assert linked.status_code == 200
    assert listed_ids(linked) == {jobs[0].pk, jobs[1].pk}


def test_csv_export_streams_the_filtered_jobs_for_excel(admin_client):
    model = model_create()
    user = user_funded("50.00")
    jobs = [
        services.generation_create(user=user, model_code=model.code, prompt="", parameters={})
        for _ in range(3)
    ]
    services.generation_status_set(generation_id=jobs[0].pk, status="processing", task_id="=HYPERLINK(1)")

    response = admin_client.get(f"{CHANGELIST}export/?user={user.pk}&status__exact=pending")

    assert response.status_code == 200
    assert response.streaming
    content = b"".join(response.streaming_content)
    assert content.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: Russian Excel reads Cyrillic right
    lines = content.decode("utf-8-sig").strip().splitlines()
    assert lines[0].startswith("id;created at;completed at;user id;Telegram id;model;status;cost")
    assert [int(line.split(";")[0]) for line in lines[1:]] == [jobs[1].pk, jobs[2].pk]
    assert f";{user.telegram_id};{model.code};pending;6.00;" in lines[1]


def test_csv_export_neutralises_formulas(admin_client):
    model = model_create()
    user = user_funded("50.00")
    job = services.generation_create(user=user, model_code=model.code, prompt="", parameters={})
    services.generation_status_set(generation_id=job.pk, status="processing", task_id="=HYPERLINK(1)")

    content = b"".join(admin_client.get(f"{CHANGELIST}export/?user={user.pk}").streaming_content)

    assert ";'=HYPERLINK(1);" in content.decode("utf-8-sig")


def test_cancel_action_releases_holds_through_the_service(admin_client):
    model = model_create(price="6.00")
    user = user_funded("50.00")
    running = services.generation_create(user=user, model_code=model.code, prompt="", parameters={})
    done = services.generation_create(user=user, model_code=model.code, prompt="", parameters={})
    services.generation_status_set(generation_id=done.pk, status="succeeded", result_url="https://x.io/1")

    admin_client.post(
        CHANGELIST,
        {"action": "cancel_in_flight", "_selected_action": [running.pk, done.pk], "select_across": "0"},
    )

    running.refresh_from_db()
    done.refresh_from_db()
    assert (running.status, running.error_code, hold_status(running)) == (
        "canceled",
        "canceled_by_operator",
        "released",
    )
    assert (done.status, hold_status(done)) == ("succeeded", "captured")
    assert money_of(user) == (Decimal("44.00"), Decimal("0.00"))
    assert_ledger_clean()


def test_detail_and_catalog_pages_open(admin_client):
    model = model_create()
    job = services.generation_create(
        user=user_funded("20.00"), model_code=model.code, prompt="", parameters={}
    )

    assert admin_client.get(f"{CHANGELIST}{job.pk}/change/").status_code == 200
    assert admin_client.get(f"/admin/generations/aimodel/{model.pk}/change/").status_code == 200
    assert admin_client.get("/admin/generations/aimodel/add/").status_code == 200


def test_project_page_shows_the_newest_items_and_saves(admin_client):
    from generations.models import Project, ProjectItem

    project = services.project_create(user=user_funded("1.00"), name="Long history")
    ProjectItem.objects.bulk_create([ProjectItem(project=project, model_code=f"m{i}") for i in range(60)])
    url = f"/admin/generations/project/{project.pk}/change/"

    page = admin_client.get(url)
    formset = page.context["inline_admin_formsets"][0].formset
    shown = [form.instance.model_code for form in formset.forms]
    saved = admin_client.post(
        url,
        {
            "user": project.user_id,
            "name": "Renamed",
            "description": "",
            "items-TOTAL_FORMS": str(len(shown)),
            "items-INITIAL_FORMS": str(len(shown)),
            "items-MIN_NUM_FORMS": "0",
            "items-MAX_NUM_FORMS": "1000",
            **{f"items-{i}-id": str(form.instance.pk) for i, form in enumerate(formset.forms)},
            **{f"items-{i}-project": str(project.pk) for i in range(len(shown))},
        },
    )

    assert shown == [f"m{i}" for i in range(59, 9, -1)]
    assert saved.status_code == 302
    assert Project.objects.get(pk=project.pk).name == "Renamed"
