"""PROMPT_RETENTION_DAYS: old jobs keep everything but what was asked and made (prompt, result URL)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from billing.models import Hold, LedgerEntry
from generations import services as generation_services
from generations.models import Generation, UsageDaily
from ops import services, tasks
from ops.models import RetentionRun
from ops.retention import retention_policy_get
from tests.generations.helpers import model_create, money_of
from tests.support.ledger import assert_ledger_clean
from tests.support.users import user_funded

pytestmark = pytest.mark.django_db

NOW = timezone.now()
POLICY = "generation-prompts"


def job_aged(
    user, model, *, days: float, prompt: str = "a ginger cat", result_url: str = "https://x.io/r.png"
):
    """A paid job that succeeded (its hold captured, its charge in the ledger), created `days` ago."""
    job = generation_services.generation_create(
        user=user, model_code=model.code, prompt=prompt, parameters={}
    )
    generation_services.generation_status_set(generation_id=job.pk, status="succeeded", result_url=result_url)
    Generation.objects.filter(pk=job.pk).update(created_at=NOW - timedelta(days=days))
    return job


def texts(*jobs) -> dict[int, tuple[str, str]]:
    rows = Generation.objects.filter(pk__in=[job.pk for job in jobs]).values_list(
        "pk", "prompt", "result_url"
    )
    return {pk: (prompt, result_url) for pk, prompt, result_url in rows}


def run_policy(**kwargs) -> RetentionRun:
    (run,) = services.retention_cleanup_run(policies=(retention_policy_get(name=POLICY),), **kwargs)
    return run


def test_old_jobs_lose_prompt_and_result_url_and_recent_ones_keep_them(settings):
    # given jobs of 100, 91, 89 and 1 days ago, and prompts kept 90 days
    settings.PROMPT_RETENTION_DAYS = 90
    user, model = user_funded("100.00"), model_create()
    old, older = job_aged(user, model, days=91), job_aged(user, model, days=100)
    recent, today = job_aged(user, model, days=89), job_aged(user, model, days=1)

    run = run_policy(now=NOW)

    # then the two past 90 days are emptied, the others untouched, and the run is recorded
    assert texts(old, older, recent, today) == {
        old.pk: ("", ""),
        older.pk: ("", ""),
        recent.pk: ("a ginger cat", "https://x.io/r.png"),
        today.pk: ("a ginger cat", "https://x.io/r.png"),
    }
    assert (run.rows_deleted, run.complete, run.error) == (2, True, "")
    assert run.table == "generations_generation"
    assert run.cutoff == NOW - timedelta(days=90)


def test_the_jobs_money_ledger_and_usage_rollups_are_untouched(settings):
    # given paid, succeeded jobs of 100 days ago with their rollup, and a snapshot of everything else
    settings.PROMPT_RETENTION_DAYS = 30
    user, model = user_funded("100.00"), model_create(price="6.00")
    jobs = [job_aged(user, model, days=100) for _ in range(3)]
    day = (NOW - timedelta(days=100)).date()
    generation_services.usage_rollup(day=day)
    columns = (
        "status",
        "cost",
        "currency",
        "is_free",
        "hold_id",
        "created_at",
        "completed_at",
        "duration_ms",
    )
    before = {
        "jobs": list(Generation.objects.order_by("pk").values_list(*columns)),
        "ledger": list(LedgerEntry.objects.order_by("pk").values()),
        "holds": list(Hold.objects.order_by("pk").values()),
        "rollups": list(
            UsageDaily.objects.order_by("pk").values_list("day", "total", "succeeded", "revenue")
        ),
        "money": money_of(user),
    }

    run = run_policy(now=NOW)

    # then only the prompts and result URLs changed
    assert run.rows_deleted == 3
    assert set(texts(*jobs).values()) == {("", "")}
    assert list(Generation.objects.order_by("pk").values_list(*columns)) == before["jobs"]
    assert list(LedgerEntry.objects.order_by("pk").values()) == before["ledger"]
    assert list(Hold.objects.order_by("pk").values()) == before["holds"]
    assert (
        list(UsageDaily.objects.order_by("pk").values_list("day", "total", "succeeded", "revenue"))
        == (before["rollups"])
    )
    assert before["rollups"] == [(day, 3, 3, Decimal("18.00"))]
    assert money_of(user) == before["money"]
    assert_ledger_clean()


def test_a_second_run_changes_nothing_and_batches_walk_on(settings):
    # given five old jobs, one already without a prompt, one with nothing left to empty
    settings.PROMPT_RETENTION_DAYS = 90
    user, model = user_funded("100.00"), model_create()
    full = [job_aged(user, model, days=100 + index) for index in range(3)]
    url_only = job_aged(user, model, days=120, prompt="")
    empty = job_aged(user, model, days=130, prompt="", result_url="")

    first = run_policy(now=NOW, batch_size=2)
    second = run_policy(now=NOW, batch_size=2)

    # then the first run empties the four in batches of two, the second finds nothing to do
    assert (first.rows_deleted, first.batches, first.complete) == (4, 3, True)
    assert set(texts(*full, url_only, empty).values()) == {("", "")}
    assert (second.rows_deleted, second.batches, second.complete) == (0, 1, True)


def test_a_run_stopped_at_its_time_budget_is_continued_by_the_next(settings):
    settings.PROMPT_RETENTION_DAYS = 90
    user, model = user_funded("100.00"), model_create()
    jobs = [job_aged(user, model, days=100 + index) for index in range(5)]

    first = run_policy(now=NOW, batch_size=2, max_seconds=0)
    second = run_policy(now=NOW, batch_size=2)

    assert (first.rows_deleted, first.complete) == (2, False)
    assert (second.rows_deleted, second.complete) == (3, True)
    assert set(texts(*jobs).values()) == {("", "")}


def test_the_nightly_run_empties_what_expired_since_the_last_one(settings):
    # given a complete run, and a job that expires the day after it
    settings.PROMPT_RETENTION_DAYS = 90
    user, model = user_funded("100.00"), model_create()
    first_job = job_aged(user, model, days=95)
    next_job = job_aged(user, model, days=89.5)
    assert run_policy(now=NOW).rows_deleted == 1

    # when the next night's run comes
    run = run_policy(now=NOW + timedelta(days=1))

    assert run.rows_deleted == 1
    assert texts(first_job, next_job) == {first_job.pk: ("", ""), next_job.pk: ("", "")}


def test_the_scheduled_task_applies_it(settings):
    settings.PROMPT_RETENTION_DAYS = 90
    user, model = user_funded("100.00"), model_create()
    job = job_aged(user, model, days=100)

    tasks.retention_cleanup()

    assert texts(job) == {job.pk: ("", "")}
    assert RetentionRun.objects.get(policy=POLICY).rows_deleted == 1


def test_off_by_default_prompts_are_kept_forever(settings):
    # given the default setting and a job of three years ago
    assert settings.PROMPT_RETENTION_DAYS == 0
    user, model = user_funded("100.00"), model_create()
    job = job_aged(user, model, days=3 * 365)

    # when every policy runs, then this one does not (no run recorded) and the job keeps its prompt
    runs = services.retention_cleanup_run(now=NOW)

    assert POLICY not in {run.policy for run in runs}
    assert not RetentionRun.objects.filter(policy=POLICY).exists()
    assert texts(job) == {job.pk: ("a ginger cat", "https://x.io/r.png")}
    assert retention_policy_get(name=POLICY).enabled is False


def test_the_policy_list_says_what_it_empties_and_whether_it_is_on(settings, capsys):
    call_command("cleanup_retention", "--list")
    settings.PROMPT_RETENTION_DAYS = 90
    call_command("cleanup_retention", "--list")

    off, on = [line for line in capsys.readouterr().out.splitlines() if line.startswith(POLICY)]
    assert off == (
        "generation-prompts: empties prompt, result_url of generations.Generation.created_at older than 0 days "
        "(PROMPT_RETENTION_DAYS): off"
    )
    assert on.endswith("older than 90 days (PROMPT_RETENTION_DAYS)")
