"""Beat schedules: declared in code, synced on migrate, never duplicated, operators' edits kept."""

import logging
from dataclasses import replace

import pytest
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from ops import services
from ops.models import ScheduleSync
from ops.schedules import SCHEDULES, Schedule
from tests.support.concurrency import run_concurrently

pytestmark = pytest.mark.django_db

EXPECTED = {
    "retention-cleanup": ("ops.tasks.retention_cleanup", "0 3 * * *"),
    "holds-expire": ("billing.tasks.holds_expire", "* * * * *"),
    "generations-timeout": ("generations.tasks.generations_timeout", "* * * * *"),
    "idempotency-keys-purge": ("billing.tasks.idempotency_keys_purge", "15 * * * *"),
    "subscriptions-renew": ("billing.tasks.subscriptions_renew", "25 * * * *"),
    "usage-rollup": ("generations.tasks.usage_rollup", "10 0 * * *"),
    "db-size-snapshot": ("ops.tasks.db_size_snapshot", "30 3 * * *"),
    "ledger-check": ("ops.tasks.ledger_check", "0 4 * * *"),
}


def crontab_text(task: PeriodicTask) -> str:
    c = task.crontab
    return f"{c.minute} {c.hour} {c.day_of_month} {c.month_of_year} {c.day_of_week}"


def test_every_declared_schedule_is_in_the_database_after_migrate():
    # The test database was built by migrate, whose post_migrate hook ran the sync.
    tasks = {task.name: task for task in PeriodicTask.objects.select_related("crontab")}
    assert set(EXPECTED) <= set(tasks)
    for name, (task_name, cron) in EXPECTED.items():
        assert tasks[name].task == task_name
        assert crontab_text(tasks[name]) == cron
        assert str(tasks[name].crontab.timezone) == "UTC"


def test_ops_schedules_are_enabled():
    enabled = dict(PeriodicTask.objects.filter(name__in=EXPECTED).values_list("name", "enabled"))
    assert enabled["retention-cleanup"] and enabled["db-size-snapshot"] and enabled["ledger-check"]


def test_second_sync_changes_and_duplicates_nothing():
    tasks_before, crontabs_before = PeriodicTask.objects.count(), CrontabSchedule.objects.count()

    outcomes = services.schedules_sync()
    again = services.schedules_sync()

    assert set(outcomes.values()) == {"unchanged"}
    assert set(again.values()) == {"unchanged"}
    assert PeriodicTask.objects.count() == tasks_before
    assert CrontabSchedule.objects.count() == crontabs_before
    assert ScheduleSync.objects.count() == len(SCHEDULES)


def test_operator_edit_is_not_overwritten_by_a_later_sync():
    # given an operator who disabled the nightly cleanup and moved it to 05:00
    task = PeriodicTask.objects.get(name="retention-cleanup")
    task.enabled = False
    task.crontab = CrontabSchedule.objects.create(minute="0", hour="5", timezone="UTC")
    task.save()

    # when a deploy syncs again
    outcomes = services.schedules_sync()

    # then their version stays
    task.refresh_from_db()
    assert outcomes["retention-cleanup"] == "kept"
    assert task.enabled is False
    assert crontab_text(task) == "0 5 * * *"


def test_code_change_on_an_edited_row_is_kept_and_logged(caplog):
    task = PeriodicTask.objects.get(name="ledger-check")
    task.description = "run by hand this week"
    task.save()
    changed = tuple(replace(s, cron="30 4 * * *") if s.name == "ledger-check" else s for s in SCHEDULES)

    with caplog.at_level(logging.WARNING, logger="ops.services"):
        outcomes = services.schedules_sync(schedules=changed)

    task.refresh_from_db()
    assert outcomes["ledger-check"] == "kept"
    assert crontab_text(task) == "0 4 * * *"
    assert task.description == "run by hand this week"
    assert "ledger-check was edited in the admin" in caplog.text


def test_code_change_on_an_untouched_row_is_applied():
    changed = tuple(replace(s, cron="45 2 * * *") if s.name == "retention-cleanup" else s for s in SCHEDULES)

    outcomes = services.schedules_sync(schedules=changed)

    task = PeriodicTask.objects.select_related("crontab").get(name="retention-cleanup")
    assert outcomes["retention-cleanup"] == "updated"
    assert crontab_text(task) == "45 2 * * *"
    # and the next sync with the same code is a no-op
    assert services.schedules_sync(schedules=changed)["retention-cleanup"] == "unchanged"


def test_deleted_row_comes_back_with_the_code_definition():
    PeriodicTask.objects.filter(name="db-size-snapshot").delete()

    outcomes = services.schedules_sync()

    assert outcomes["db-size-snapshot"] == "created"
    assert PeriodicTask.objects.filter(name="db-size-snapshot", enabled=True).count() == 1


def test_schedule_of_a_task_not_written_yet_is_disabled_until_it_exists(monkeypatch):
    future = Schedule("future-job", "nowhere.tasks.future_job", "0 1 * * *", "A job another app will write.")

    assert services.schedules_sync(schedules=(future,)) == {"future-job": "created"}
    task = PeriodicTask.objects.get(name="future-job")
    assert task.enabled is False
    assert "not installed yet" in task.description

    # when the app ships its task, the next sync switches the schedule on (nobody edited it meanwhile)
    monkeypatch.setattr(services, "_task_installed", lambda name: True)
    assert services.schedules_sync(schedules=(future,)) == {"future-job": "updated"}
    task.refresh_from_db()
    assert task.enabled is True
    assert task.description == future.description


@pytest.mark.django_db(transaction=True)
def test_two_hosts_migrating_at_once_create_each_schedule_once():
    PeriodicTask.objects.all().delete()
    ScheduleSync.objects.all().delete()

    results = run_concurrently(lambda index: services.schedules_sync(), 2)

    assert not any(isinstance(result, BaseException) for result in results), results
    assert sorted(PeriodicTask.objects.values_list("name", flat=True)) == sorted(s.name for s in SCHEDULES)
    assert ScheduleSync.objects.count() == len(SCHEDULES)
