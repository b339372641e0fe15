"""Database size: report figures, snapshots, the command, and the admin page's constant query count."""

import re
from datetime import date, timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from ops import selectors, services, tasks
from ops.models import DbSizeSnapshot
from tests.support.users import user_create

pytestmark = pytest.mark.django_db

MB = 1024 * 1024
TODAY = date(2026, 11, 22)


def make_snapshots(count: int, *, end: date, start_mb: int = 100, mb_per_day: int = 10) -> None:
    DbSizeSnapshot.objects.bulk_create(
        [
            DbSizeSnapshot(
                taken_on=end - timedelta(days=count - 1 - index),
                database_bytes=(start_mb + index * mb_per_day) * MB,
                tables={"ops_debug_log": index * MB},
            )
            for index in range(count)
        ]
    )


def test_report_lists_tables_with_heap_indexes_toast_and_rows():
    report = selectors.db_size_report()

    assert report.database_bytes > 0
    tables = {table.name: table for table in report.tables}
    assert {"ops_debug_log", "accounts_end_user", "django_celery_beat_periodictask"} <= set(tables)
    debug_log = tables["ops_debug_log"]
    assert debug_log.total_bytes == debug_log.heap_bytes + debug_log.index_bytes + debug_log.toast_bytes
    assert debug_log.index_bytes > 0  # primary key and created_at


def test_growth_per_day_and_projected_budget_date():
    make_snapshots(11, end=TODAY, start_mb=100, mb_per_day=10)

    report = selectors.db_size_report(today=TODAY, budget_mb=100_000)

    assert report.growth_bytes_per_day == 10 * MB
    days_left = int((100_000 * MB - report.database_bytes) / (10 * MB))
    assert report.projected_budget_date == TODAY + timedelta(days=days_left)


def test_budget_date_edge_cases():
    assert (
        selectors.db_size_budget_date(
            today=TODAY, database_bytes=2 * MB, budget_bytes=MB, growth_bytes_per_day=None
        )
        == TODAY
    )
    assert (
        selectors.db_size_budget_date(
            today=TODAY, database_bytes=MB, budget_bytes=2 * MB, growth_bytes_per_day=0
        )
        is None
    )
    assert selectors.db_size_growth_per_day([(TODAY, MB)]) is None


def test_snapshot_task_records_one_row_per_day():
    tasks.db_size_snapshot()
    tasks.db_size_snapshot()

    snapshot = DbSizeSnapshot.objects.get()
    assert snapshot.taken_on == timezone.now().date()
    assert snapshot.database_bytes > 0
    assert "ops_db_size_snapshot" in snapshot.tables


def test_snapshot_service_keeps_history():
    services.db_size_snapshot_take(today=TODAY - timedelta(days=1))
    services.db_size_snapshot_take(today=TODAY)
    assert DbSizeSnapshot.objects.count() == 2


def test_db_size_command_prints_database_and_tables(capsys):
    make_snapshots(3, end=timezone.now().date())

    call_command("db_size")

    out = capsys.readouterr().out
    assert "database:" in out and "MB budget" in out
    assert "growth: 10.00 MB/day" in out
    assert "ops_debug_log" in out


def test_db_size_page_renders_in_a_constant_number_of_queries(admin_client, django_assert_num_queries):
    for count in (1, 50):
        DbSizeSnapshot.objects.all().delete()
        make_snapshots(count, end=timezone.now().date())
        # session, operator, database size, table sizes, snapshots of the growth window; with a single
        # snapshot there is no measured growth yet, so the last week's activity is read (one query more)
        with django_assert_num_queries(5 if count >= 2 else 6):
            response = admin_client.get("/admin/ops/dbsizereport/")
        assert response.status_code == 200
        assert b"ops_debug_log" in response.content
        assert b"<svg" in response.content


def test_db_size_page_is_listed_in_the_admin_index(admin_client):
    response = admin_client.get("/admin/")
    assert b"/admin/ops/dbsizereport/" in response.content


def test_room_left_in_units_of_business():
    from ops.capacity import UNIT_COSTS, capacity_room

    generation = next(unit for unit in UNIT_COSTS if unit.code == "paid_generation")
    room = capacity_room(database_bytes=10 * MB, budget_bytes=10 * MB + 1000 * generation.bytes + 1)

    assert [entry.unit.code for entry in room] == [unit.code for unit in UNIT_COSTS]
    assert next(entry.count for entry in room if entry.unit is generation) == 1000
    assert all(entry.count == 0 for entry in capacity_room(database_bytes=2 * MB, budget_bytes=MB))


def test_command_and_report_say_what_the_rest_of_the_budget_holds(capsys):
    report = selectors.db_size_report(budget_mb=100_000)
    left = report.budget_bytes - report.database_bytes
    assert [entry.count for entry in report.room] == [left // entry.unit.bytes for entry in report.room]

    call_command("db_size", "--top", "1", "--budget-mb", "100000")

    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("room left"))
    # The database may grow between the two reads, so the command's count is checked by its shape.
    assert re.search(r"about [\d,]+ paid generations, or [\d,]+ other operations", line), line


def test_before_two_snapshots_the_growth_is_the_last_weeks_activity_at_the_bytes_per_unit():
    from ops.capacity import UNIT_COSTS

    costs = {unit.code: unit.bytes for unit in UNIT_COSTS}
    DbSizeSnapshot.objects.all().delete()
    baseline = selectors.db_size_growth_from_activity(now=timezone.now())
    user_create()  # a new user: the profile, the account and the welcome bonus entry

    budget_mb = selectors.db_size_database_bytes() // MB + 2  # a few MB left: a date within the horizon
    report = selectors.db_size_report(budget_mb=budget_mb)

    assert report.growth_source == selectors.GROWTH_FROM_ACTIVITY
    assert report.growth_bytes_per_day == pytest.approx(baseline + costs["user"] / selectors.ACTIVITY_DAYS)
    assert report.projected_budget_date is not None
    # With two days of snapshots the measured growth wins.
    make_snapshots(2, end=timezone.now().date())
    assert selectors.db_size_report(budget_mb=100_000).growth_source == selectors.GROWTH_FROM_SNAPSHOTS


def test_a_trickle_of_growth_puts_the_budget_out_of_reach_not_past_the_calendar():
    assert (
        selectors.db_size_budget_date(
            today=TODAY, database_bytes=MB, budget_bytes=10**12, growth_bytes_per_day=1
        )
        is None
    )
