"""The operator dashboard (admin index): accounts + ops figures, constant queries, working links."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import EndUser
from ops import services
from ops.dashboard import PANELS, dashboard_build
from ops.models import DebugLog, LedgerCheckRun, RetentionRun
from ops.retention import retention_policy_get
from tests.support.users import user_create

pytestmark = pytest.mark.django_db


def make_users(count: int) -> None:
    users = [user_create() for _ in range(count)]
    # Spread over the last days, so the chart has several bars.
    for offset, user in enumerate(users):
        EndUser.objects.filter(pk=user.pk).update(created_at=timezone.now() - timedelta(days=offset % 5))


def make_ops_records(count: int) -> None:
    DebugLog.objects.bulk_create([DebugLog(level=40, source="t", message="e") for _ in range(count)])
    RetentionRun.objects.bulk_create(
        [
            RetentionRun(policy=f"p{i % 4}", table="t", cutoff=timezone.now(), rows_deleted=i)
            for i in range(count)
        ]
    )
    LedgerCheckRun.objects.bulk_create([LedgerCheckRun(status="passed", exit_code=0) for _ in range(count)])


# The accounts and ops panels; billing's and generations' panels are pinned in test_dashboard_business.py.
OPS_PANEL_KEYS = ("users", "database", "checks", "retention")
OPS_PANELS = tuple(panel for panel in PANELS if panel.key in OPS_PANEL_KEYS)


def test_ops_panels_build_in_a_constant_number_of_queries(django_assert_num_queries):
    assert [panel.key for panel in OPS_PANELS] == list(OPS_PANEL_KEYS)
    for rows in (1, 50):
        make_users(rows)
        make_ops_records(rows)
        # users total, new users per day, database size, size snapshots, the week's activity (no two
        # daily snapshots yet), debug log counts,
        # last ledger check, last retention run per policy
        with django_assert_num_queries(8):
            dashboard_build(panels=OPS_PANELS)


def test_dashboard_is_the_admin_index(admin_client):
    make_users(3)
    make_ops_records(3)
    response = admin_client.get("/admin/")
    assert response.status_code == 200
    for panel in OPS_PANEL_KEYS:
        assert f'id="panel-{panel}"'.encode() in response.content
    assert b"/admin/ops/dbsizereport/" in response.content  # the app list is still there


def test_dashboard_figures():
    make_users(7)
    DebugLog.objects.create(level=40, source="t", message="e")
    DebugLog.objects.create(level=30, source="t", message="w")
    services.retention_cleanup_run(policies=(retention_policy_get(name="debug-logs"),))
    LedgerCheckRun.objects.create(status="failed", exit_code=1)

    panels = {panel.key: panel.data for panel in dashboard_build()}

    assert panels["users"]["total"] == 7
    assert panels["users"]["new_window"] == 7
    assert "<svg" in panels["users"]["chart"] and "created_at__gte=" in panels["users"]["chart"]
    assert panels["checks"]["errors_24h"] == 1
    assert panels["checks"]["warnings_24h"] == 1
    assert panels["checks"]["ledger_check"].status == "failed"
    assert [run.policy for run in panels["retention"]["runs"]] == ["debug-logs"]
    assert panels["database"]["database_mb"] > 0
    # The budget left, in units of business (ops.capacity): each alone, paid generations first.
    room = panels["database"]["room"]
    assert room[0].unit.code == "paid_generation" and room[0].count > 0


def test_dashboard_links_open_filtered_changelists(admin_client):
    make_users(3)
    services.retention_cleanup_run(policies=(retention_policy_get(name="debug-logs"),))
    panels = {panel.key: panel.data for panel in dashboard_build()}
    urls = [
        panels["users"]["url"],
        panels["database"]["url"],
        panels["checks"]["errors_url"],
        panels["checks"]["warnings_url"],
        panels["checks"]["ledger_check_url"],
        panels["retention"]["url"] + "?policy__exact=debug-logs",
    ]
    for url in urls:
        response = admin_client.get(url)
        # An unknown filter would redirect to "?e=1" (302): every link must be a valid changelist filter.
        assert response.status_code == 200, url
