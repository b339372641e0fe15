"""A generation's life through the API against real PostgreSQL: its money follows its status."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing.models import Account, EntryType, Hold
from billing.services import credit_grant
from generations import services
from generations.models import Generation
from tests.generations.helpers import charges_for, create_body, hold_status, model_create, money_of
from tests.support.ledger import assert_ledger_clean
from tests.support.users import user_create, user_funded

pytestmark = pytest.mark.django_db

CREATE = "/api/v1/generations"


def status_url(generation_id: int) -> str:
    return f"/api/v1/generations/{generation_id}/status"


def test_create_holds_the_cost_and_answers_pending(api):
    user, model = user_funded("20.00"), model_create(price="6.00")

    response = api.post(CREATE, create_body(user, model, size="1024x1024"), idempotency_key="k-create")

    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "pending"
    assert body["model"] == model.code
    assert (body["cost"], body["currency"], body["is_free"]) == ("6.00", "RUB", False)
    assert body["created_at"]
    assert body["parameters"] == {"size": "1024x1024"}
    generation = Generation.objects.get(pk=body["id"])
    assert hold_status(generation) == "open"
    assert Hold.objects.get(pk=generation.hold_id).reference == f"generation:{generation.pk}"
    assert money_of(user) == (Decimal("20.00"), Decimal("6.00"))
    assert_ledger_clean()


def test_success_captures_the_hold_as_a_charge(api):
    user, model = user_funded("20.00"), model_create(price="6.00")
    created = api.post(CREATE, create_body(user, model, seed=42), idempotency_key="k1").json()

    processing = api.post(status_url(created["id"]), {"status": "processing", "task_id": "task-1"})
    done = api.post(
        status_url(created["id"]),
        {"status": "succeeded", "result_url": "https://cdn.example.com/r/1.png", "duration_ms": 4200},
    )

    assert processing.status_code == 200
    assert processing.json()["status"] == "processing"
    assert processing.json()["started_at"]
    assert done.status_code == 200
    body = done.json()
    assert body["status"] == "succeeded"
    assert body["result_url"] == "https://cdn.example.com/r/1.png"
    assert (body["task_id"], body["duration_ms"]) == ("task-1", 4200)
    assert body["parameters"] == processing.json()["parameters"] == {"seed": 42}
    assert body["user"] == user.display_ref and body["model"] == model.code
    assert body["completed_at"]
    generation = Generation.objects.get(pk=created["id"])
    assert hold_status(generation) == "captured"
    (charge,) = charges_for(generation)
    assert charge.amount == Decimal("-6.00")
    assert money_of(user) == (Decimal("14.00"), Decimal("0.00"))
    assert_ledger_clean()


@pytest.mark.parametrize("final", ["failed", "canceled", "timeout"])
def test_failure_cancel_and_reported_timeout_release_the_hold(api, final):
    user, model = user_funded("20.00"), model_create(price="6.00")
    created = api.post(CREATE, create_body(user, model), idempotency_key="k1").json()

    response = api.post(
        status_url(created["id"]),
        {"status": final, "error_code": "nsfw", "error_message": "x" * 900},
    )

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == final
    assert body["error_code"] == "nsfw"
    assert body["error_message"] == "x" * 500
    assert body["duration_ms"] is not None
    generation = Generation.objects.get(pk=created["id"])
    assert len(generation.error_message) == 500
    assert hold_status(generation) == "released"
    assert charges_for(generation) == []
    assert money_of(user) == (Decimal("20.00"), Decimal("0.00"))
    assert_ledger_clean()


def test_scheduler_times_out_overdue_jobs_and_releases_their_holds(settings):
    user, model = user_funded("20.00"), model_create(price="6.00")
    overdue = services.generation_create(user=user, model_code=model.code, prompt="old", parameters={})
    services.generation_status_set(generation_id=overdue.pk, status="processing", task_id="t-old")
    fresh = services.generation_create(user=user, model_code=model.code, prompt="new", parameters={})
    Generation.objects.filter(pk=overdue.pk).update(
        created_at=timezone.now() - timedelta(seconds=settings.GENERATION_TIMEOUT_SECONDS + 5)
    )

    timed_out = services.generations_time_out()
    again = services.generations_time_out()

    assert (timed_out, again) == (1, 0)
    overdue.refresh_from_db()
    fresh.refresh_from_db()
    assert (overdue.status, overdue.error_code) == ("timeout", "timeout")
    assert overdue.completed_at is not None and overdue.duration_ms is not None
    assert hold_status(overdue) == "released"
    assert (fresh.status, hold_status(fresh)) == ("pending", "open")
    assert money_of(user) == (Decimal("20.00"), Decimal("6.00"))
    assert_ledger_clean()


def test_timeout_task_runs_the_sweep(settings):
    from generations.tasks import generations_timeout

    user, model = user_funded("20.00"), model_create(price="6.00")
    job = services.generation_create(user=user, model_code=model.code, prompt="", parameters={})
    Generation.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(days=1))

    assert generations_timeout.delay().get() == 1
    assert Generation.objects.get(pk=job.pk).status == "timeout"
    assert_ledger_clean()


def test_success_after_the_deadline_is_refused_and_never_charged(api, settings):
    user, model = user_funded("20.00"), model_create(price="6.00")
    created = api.post(CREATE, create_body(user, model), idempotency_key="k1").json()
    Generation.objects.filter(pk=created["id"]).update(
        created_at=timezone.now() - timedelta(seconds=settings.GENERATION_TIMEOUT_SECONDS + 1)
    )

    response = api.post(
        status_url(created["id"]), {"status": "succeeded", "result_url": "https://x.io/a.png"}
    )

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"
    assert charges_for(Generation.objects.get(pk=created["id"])) == []
    assert services.generations_time_out() == 1
    assert money_of(user) == (Decimal("20.00"), Decimal("0.00"))
    assert_ledger_clean()


def test_free_models_never_touch_the_balance(api):
    user, free = user_create(), model_create("free-test", price="0.00")
    before = money_of(user)

    created = api.post(CREATE, create_body(user, free), idempotency_key="k1")
    done = api.post(
        status_url(created.json()["id"]), {"status": "succeeded", "result_url": "https://x.io/f.png"}
    )

    assert created.status_code == 201
    assert (created.json()["cost"], created.json()["is_free"]) == ("0.00", True)
    assert done.status_code == 200
    generation = Generation.objects.get(pk=created.json()["id"])
    assert generation.hold_id is None
    assert charges_for(generation) == []
    assert money_of(user) == before
    assert_ledger_clean()


def test_short_balance_is_402_and_leaves_no_job(api):
    user, model = user_funded("5.99"), model_create(price="6.00")

    response = api.post(CREATE, create_body(user, model), idempotency_key="k1")

    assert response.status_code == 402
    error = response.json()["error"]
    assert error["code"] == "insufficient_funds"
    assert error["details"] == {"required": "6.00", "available": "5.99"}
    assert not Generation.objects.filter(user=user).exists()
    assert money_of(user) == (Decimal("5.99"), Decimal("0.00"))
    assert_ledger_clean()


def test_unknown_and_inactive_models_are_404(api):
    user = user_funded("20.00")
    retired = model_create("retired-test", is_active=False)

    unknown = api.post(CREATE, {**create_body(user, retired), "model": "no-such"}, idempotency_key="k1")
    inactive = api.post(CREATE, create_body(user, retired), idempotency_key="k2")

    assert (unknown.status_code, inactive.status_code) == (404, 404)
    assert unknown.json()["error"]["code"] == inactive.json()["error"]["code"] == "not_found"
    assert money_of(user) == (Decimal("20.00"), Decimal("0.00"))


def test_unknown_user_is_404_and_a_bad_ref_is_422(api):
    model = model_create()
    body = {"user": "987654321", "model": model.code, "prompt": "p", "parameters": {}}

    assert api.post(CREATE, body, idempotency_key="k1").status_code == 404
    bad = api.post(CREATE, {**body, "user": "nobody"}, idempotency_key="k2")
    assert bad.status_code == 422
    assert bad.json()["error"]["details"] == {
        "user": "expected a Telegram id (digits), device:<id> or ext:<id>"
    }


def test_the_idempotency_key_is_required(api):
    user, model = user_funded("20.00"), model_create()

    response = api.post(CREATE, create_body(user, model))

    assert response.status_code == 422
    assert response.json()["error"]["details"] == {"Idempotency-Key": "required"}
    assert not Generation.objects.exists()


def test_same_key_and_body_replays_without_a_second_hold(api):
    user, model = user_funded("20.00"), model_create(price="6.00")
    body = create_body(user, model)

    first = api.post(CREATE, body, idempotency_key="same")
    again = api.post(CREATE, body, idempotency_key="same")

    assert (first.status_code, again.status_code) == (201, 201)
    assert first.content == again.content
    assert Generation.objects.filter(user=user).count() == 1
    assert money_of(user) == (Decimal("20.00"), Decimal("6.00"))
    assert_ledger_clean()


def test_same_key_with_another_body_is_409(api):
    user, model = user_funded("20.00"), model_create(price="6.00")

    api.post(CREATE, create_body(user, model, prompt="one"), idempotency_key="same")
    reused = api.post(CREATE, create_body(user, model, prompt="two"), idempotency_key="same")

    assert reused.status_code == 409
    assert reused.json()["error"]["code"] == "idempotency_key_reused"
    assert Generation.objects.filter(user=user).count() == 1


def test_a_402_is_remembered_even_after_a_top_up(api):
    user, model = user_funded("1.00"), model_create(price="6.00")
    body = create_body(user, model)
    first = api.post(CREATE, body, idempotency_key="poor")
    credit_grant(
        user=user,
        amount=Decimal("50.00"),
        currency="RUB",
        entry_type=EntryType.TOPUP,
        counter_kind=Account.Kind.PAYMENTS,
        reference="late-topup",
    )

    again = api.post(CREATE, body, idempotency_key="poor")
    fresh = api.post(CREATE, body, idempotency_key="rich")

    assert (first.status_code, again.status_code, fresh.status_code) == (402, 402, 201)
    assert first.content == again.content
    assert Generation.objects.filter(user=user).count() == 1
    assert_ledger_clean()


def test_repeating_a_final_status_is_a_noop_and_another_is_409(api):
    user, model = user_funded("20.00"), model_create(price="6.00")
    created = api.post(CREATE, create_body(user, model), idempotency_key="k1").json()
    url = status_url(created["id"])

    first = api.post(url, {"status": "succeeded", "result_url": "https://x.io/1.png"})
    repeat = api.post(url, {"status": "succeeded", "result_url": "https://x.io/other.png"})
    conflicting = api.post(url, {"status": "failed", "error_code": "late"})
    backwards = api.post(url, {"status": "processing"})

    assert (first.status_code, repeat.status_code) == (200, 200)
    assert repeat.json()["result_url"] == "https://x.io/1.png"
    assert (conflicting.status_code, backwards.status_code) == (409, 409)
    assert conflicting.json()["error"] == {
        "code": "conflict",
        "message": f"Generation {created['id']} is already succeeded.",
        "details": {"status": "succeeded"},
    }
    generation = Generation.objects.get(pk=created["id"])
    assert len(charges_for(generation)) == 1
    assert money_of(user) == (Decimal("14.00"), Decimal("0.00"))
    assert_ledger_clean()


def test_status_body_is_validated(api):
    user, model = user_funded("20.00"), model_create()
    created = api.post(CREATE, create_body(user, model), idempotency_key="k1").json()

    pending = api.post(status_url(created["id"]), {"status": "pending"})
    not_url = api.post(status_url(created["id"]), {"status": "succeeded", "result_url": "file:///etc/passwd"})
    missing = api.post(status_url(999_999_999), {"status": "failed"})

    assert pending.status_code == 422
    assert not_url.status_code == 422
    assert not_url.json()["error"]["details"] == {"result_url": "Value error, must be an http(s) URL"}
    assert missing.status_code == 404
    assert Generation.objects.get(pk=created["id"]).status == "pending"


def test_status_call_with_an_idempotency_key_replays(api):
    user, model = user_funded("20.00"), model_create(price="6.00")
    created = api.post(CREATE, create_body(user, model), idempotency_key="k1").json()
    body = {"status": "succeeded", "result_url": "https://x.io/1.png"}

    first = api.post(status_url(created["id"]), body, idempotency_key="s1")
    again = api.post(status_url(created["id"]), body, idempotency_key="s1")

    assert first.status_code == again.status_code == 200
    assert first.content == again.content
    assert_ledger_clean()


def test_prompt_is_stored_cut_to_1000_characters(api):
    user, model = user_funded("20.00"), model_create()

    response = api.post(CREATE, create_body(user, model, prompt="é" * 1500), idempotency_key="k1")

    assert response.status_code == 201
    assert response.json()["prompt"] == "é" * 1000
    assert Generation.objects.get(pk=response.json()["id"]).prompt == "é" * 1000


def test_oversized_parameters_are_422_not_stored(api):
    user, model = user_funded("20.00"), model_create()

    response = api.post(CREATE, create_body(user, model, blob="x" * 20_000), idempotency_key="k1")

    assert response.status_code == 422
    assert "parameters" in response.json()["error"]["details"]
    assert not Generation.objects.exists()


def test_detail_shows_the_contract_fields(api):
    user, model = user_funded("20.00"), model_create()
    created = api.post(CREATE, create_body(user, model, prompt="a boat"), idempotency_key="k1").json()

    response = api.get(f"/api/v1/generations/{created['id']}")

    assert response.status_code == 200
    body = response.json()
    for field in (
        "id",
        "user",
        "status",
        "model",
        "cost",
        "currency",
        "prompt",
        "result_url",
        "error_code",
        "error_message",
        "duration_ms",
        "created_at",
        "completed_at",
    ):
        assert field in body
    assert (body["user"], body["prompt"], body["result_url"]) == (user.display_ref, "a boat", None)
    assert api.get("/api/v1/generations/424242424").status_code == 404


def test_user_list_is_newest_first_with_status_filter_and_cursor(api):
    user, model = user_funded("100.00"), model_create()
    jobs = [
        services.generation_create(user=user, model_code=model.code, prompt=str(i), parameters={})
        for i in range(5)
    ]
    services.generation_status_set(generation_id=jobs[1].pk, status="failed", error_code="e")
    other = user_funded("20.00")
    services.generation_create(user=other, model_code=model.code, prompt="not mine", parameters={})

    page1 = api.get(f"/api/v1/users/{user.display_ref}/generations?limit=2").json()
    page2 = api.get(
        f"/api/v1/users/{user.display_ref}/generations?limit=2&cursor={page1['next_cursor']}"
    ).json()
    page3 = api.get(
        f"/api/v1/users/{user.display_ref}/generations?limit=2&cursor={page2['next_cursor']}"
    ).json()
    failed = api.get(f"/api/v1/users/{user.display_ref}/generations?status=failed").json()
    bad = api.get(f"/api/v1/users/{user.display_ref}/generations?status=weird")

    ids = [item["id"] for page in (page1, page2, page3) for item in page["items"]]
    assert ids == [job.pk for job in reversed(jobs)]
    assert page3["next_cursor"] is None
    assert [item["id"] for item in failed["items"]] == [jobs[1].pk]
    assert bad.status_code == 422


def test_models_lists_active_models_only(api):
    model_create("active-test", price="3.00")
    model_create("inactive-test", is_active=False)

    response = api.get("/api/v1/models")

    assert response.status_code == 200
    codes = {item["code"]: item for item in response.json()}
    assert "inactive-test" not in codes
    assert codes["active-test"]["price"] == "3.00"
    assert set(codes["active-test"]) >= {"code", "name", "category", "price", "currency", "is_free"}
    # The data migration's catalog (a test db keeps it): a free model and a retired one.
    assert codes["flux-schnell"]["is_free"] is True
    assert "sdxl" not in codes


def test_merge_repoints_jobs_projects_and_logs(api):
    from accounts.services import end_user_attach_identity

    anonymous = user_create(anonymous=True)
    model = model_create(price="2.00")
    job = services.generation_create(user=anonymous, model_code=model.code, prompt="anon", parameters={})
    project = services.project_create(user=anonymous, name="mine")
    services.provider_log_create(
        user_ref=anonymous.display_ref,
        model_code="m",
        prompt="",
        result_url="",
        error_message="",
        duration_ms=1,
    )
    registered = user_create()

    end_user_attach_identity(ref=registered.display_ref, identity="device_id", value=anonymous.device_id)

    job.refresh_from_db()
    project.refresh_from_db()
    assert job.user_id == project.user_id == registered.pk
    from generations.models import ProviderLog

    assert ProviderLog.objects.get().user_id == registered.pk
    # The merge moved the job's open hold to the target's account; finishing it still charges exactly once.
    services.generation_status_set(generation_id=job.pk, status="succeeded", result_url="https://x.io/a")
    assert len(charges_for(job)) == 1
    assert_ledger_clean()


def test_service_accepts_a_model_instance_or_a_code_but_not_both():
    user, model = user_funded("20.00"), model_create(price="6.00")

    by_instance = services.generation_create(user=user, model=model, prompt="", parameters={})

    assert (by_instance.model.code, by_instance.cost) == (model.code, Decimal("6.00"))
    with pytest.raises(TypeError):
        services.generation_create(user=user, model=model, model_code=model.code, prompt="", parameters={})
    assert_ledger_clean()


def test_a_job_for_a_merged_user_goes_to_the_user_it_was_merged_into(api):
    # given an anonymous user merged into a registered one (the tombstone keeps no identity)
    anonymous, registered = user_create(anonymous=True), user_funded("50.00")
    device_ref = anonymous.display_ref
    attach = api.post(
        f"/api/v1/users/{registered.display_ref}/identities", {"device_id": anonymous.device_id}
    )
    assert attach.status_code == 200
    anonymous.refresh_from_db()
    assert anonymous.merged_into_id == registered.pk
    # when a service creates a job for the stale user row, then the job, and its hold, are the survivor's
    job = services.generation_create(user=anonymous, model_code=model_create().code, prompt="", parameters={})
    assert job.user.pk == registered.pk
    assert Generation.objects.get(pk=job.pk).user_id == registered.pk
    assert money_of(registered) == (Decimal("55.00"), Decimal("6.00"))
    # and the device id, now the registered user's, names the registered user through the API
    body = {**create_body(registered, model_create("other")), "user": device_ref}
    by_device = api.post(CREATE, body, idempotency_key="merged")
    assert by_device.json()["user"] == registered.display_ref
    assert_ledger_clean()
