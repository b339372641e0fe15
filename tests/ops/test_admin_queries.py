"""Every ops changelist: a pinned query count that does not grow from 1 row to 50."""

from datetime import timedelta

import pytest
from django.utils import timezone

from ops.models import DbSizeSnapshot, DebugLog, LedgerCheckRun, RetentionRun
from tests.support.admin import changelist_queries_pinned

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def make_debug_logs(count: int) -> None:
    DebugLog.objects.bulk_create(
        [
            DebugLog(level=(30, 40)[i % 2], source="tests", message=f"m{i}", context={"i": i})
            for i in range(count)
        ]
    )


def make_retention_runs(count: int) -> None:
    RetentionRun.objects.bulk_create(
        [
            RetentionRun(
                policy=f"p{i % 3}", table="t", cutoff=NOW, rows_deleted=i, finished_at=NOW, complete=True
            )
            for i in range(count)
        ]
    )


def make_ledger_check_runs(count: int) -> None:
    LedgerCheckRun.objects.bulk_create([LedgerCheckRun(status="passed", exit_code=0) for _ in range(count)])


def make_snapshots(count: int) -> None:
    start = DbSizeSnapshot.objects.count()
    DbSizeSnapshot.objects.bulk_create(
        [
            DbSizeSnapshot(taken_on=NOW.date() - timedelta(days=start + i), database_bytes=i * 1024)
            for i in range(count)
        ]
    )


# url, row factory, queries: session + operator + (filtered COUNT for the paginator) + page of rows
# (+ DISTINCT values of a field filter). show_full_result_count = False: never a COUNT of the whole table.
CHANGELISTS = [
    ("/admin/ops/debuglog/", make_debug_logs, 4),
    ("/admin/ops/debuglog/?level__exact=40&q=m1", make_debug_logs, 4),
    ("/admin/ops/retentionrun/", make_retention_runs, 5),
    ("/admin/ops/ledgercheckrun/", make_ledger_check_runs, 4),
    ("/admin/ops/dbsizesnapshot/", make_snapshots, 4),
]


@pytest.mark.parametrize(("url", "make_rows", "queries"), CHANGELISTS)
def test_changelist_query_count_is_constant(admin_client, django_assert_num_queries, url, make_rows, queries):
    changelist_queries_pinned(admin_client, django_assert_num_queries, url, make_rows, queries)


def test_debug_log_detail_shows_the_context(admin_client):
    entry = DebugLog.objects.create(level=40, source="tests", message="boom", context={"chat": 42})
    response = admin_client.get(f"/admin/ops/debuglog/{entry.pk}/change/")
    assert response.status_code == 200
    assert b"&quot;chat&quot;: 42" in response.content


def test_ops_records_are_read_only(admin_client):
    for model in ("debuglog", "retentionrun", "ledgercheckrun", "dbsizesnapshot"):
        assert admin_client.get(f"/admin/ops/{model}/add/").status_code == 403
