"""The operator dashboard (the admin index): a list of panels, each a few queries and a small template.

A panel is a title, a template under templates/admin/ops/dashboard/ and a `build(now)` that returns the
template's data in a fixed number of queries. Phase 2 adds the figures of billing and generations
(revenue per day, generations per day by status, failure rate by model, top models, open holds) as more
`Panel(...)` lines that read those apps' selectors; the page and its query-count test do not change shape.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from django.db.models import Count
from django.db.models.functions import TruncDate
from django.urls import reverse
from django.utils import timezone

from accounts.selectors import end_users_with_related
from ops import charts, selectors
from ops.dashboard_business import BUSINESS_PANELS
from ops.models import DebugLog

DAYS = 30
MB = 1024 * 1024
WIDE_CHART_WIDTH = 720  # the charts of the wide panels, like the generations chart


@dataclass(frozen=True)
class Panel:
    key: str
    title: str
    build: Callable[[datetime], dict[str, Any]]
    wide: bool = False

    @property
    def template(self) -> str:
        return f"admin/ops/dashboard/{self.key}.html"


@dataclass(frozen=True)
class BuiltPanel:
    key: str
    title: str
    template: str
    wide: bool
    data: dict[str, Any]


def changelist_url(model_label: str, **filters: Any) -> str:
    app_label, model_name = model_label.lower().split(".")
    url = reverse(f"admin:{app_label}_{model_name}_changelist")
    return f"{url}?{urlencode(filters)}" if filters else url


def per_day(rows: dict[date, int], *, today: date, days: int = DAYS) -> list[tuple[date, int]]:
    """Every day of the window, oldest first, zero where nothing happened."""
    return [
        (day, rows.get(day, 0))
        for day in (today - timedelta(days=offset) for offset in range(days - 1, -1, -1))
    ]


def day_start(day: date) -> str:
    # Aware, like the admin's own date filter links: a bare date would be a naive datetime.
    return str(datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone()))


def users_panel(now: datetime) -> dict[str, Any]:
    today = now.date()
    since = today - timedelta(days=DAYS - 1)
    users = end_users_with_related()
    total = users.count()
    new_rows = (
        users.filter(created_at__gte=day_start(since))
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(count=Count("id"))
        .order_by("day")
    )
    days = per_day({row["day"]: row["count"] for row in new_rows}, today=today)
    links = [
        changelist_url(
            "accounts.EndUser",
            created_at__gte=day_start(day),
            created_at__lt=day_start(day + timedelta(days=1)),
        )
        for day, _ in days
    ]
    return {
        "total": total,
        "new_today": days[-1][1],
        "new_window": sum(count for _, count in days),
        "chart": charts.bars_svg(
            [count for _, count in days],
            titles=[f"{day:%Y-%m-%d}: {count} new" for day, count in days],
            links=links,
            label=f"new users per day, last {DAYS} days",
            width=WIDE_CHART_WIDTH,
        ),
        "url": changelist_url("accounts.EndUser"),
    }


def database_panel(now: datetime) -> dict[str, Any]:
    today = now.date()
    database_bytes = selectors.db_size_database_bytes()
    snapshots = [(s.taken_on, s.database_bytes) for s in selectors.db_size_snapshots_recent(today=today)]
    budget_bytes = selectors.db_size_budget_bytes()
    growth = selectors.db_size_growth_per_day(snapshots)
    return {
        "database_mb": database_bytes / MB,
        "budget_mb": budget_bytes / MB,
        "used_percent": 100 * database_bytes / budget_bytes if budget_bytes else 0,
        "growth_mb_per_day": growth / MB if growth is not None else None,
        "budget_date": selectors.db_size_budget_date(
            today=today, database_bytes=database_bytes, budget_bytes=budget_bytes, growth_bytes_per_day=growth
        ),
        "gauge": charts.gauge_svg(
            value=database_bytes, maximum=budget_bytes, label="database size against budget"
        ),
        "url": reverse("admin:ops_dbsizereport_changelist"),
    }


def retention_panel(now: datetime) -> dict[str, Any]:
    latest = list(selectors.retention_runs_latest_per_policy())
    return {
        "runs": latest,
        "last_started_at": max((run.started_at for run in latest), default=None),
        "failed": [run for run in latest if run.error],
        "url": changelist_url("ops.RetentionRun"),
    }


def checks_panel(now: datetime) -> dict[str, Any]:
    since = now - timedelta(hours=24)
    errors = selectors.debug_log_counts_since(since=since)
    return {
        "ledger_check": selectors.ledger_check_run_latest(),
        "ledger_check_url": changelist_url("ops.LedgerCheckRun"),
        "errors_24h": errors.get(DebugLog.Level.ERROR, 0) + errors.get(DebugLog.Level.CRITICAL, 0),
        "warnings_24h": errors.get(DebugLog.Level.WARNING, 0),
        "errors_url": changelist_url(
            "ops.DebugLog", level__exact=DebugLog.Level.ERROR, created_at__gte=str(since)
        ),
        "warnings_url": changelist_url(
            "ops.DebugLog", level__exact=DebugLog.Level.WARNING, created_at__gte=str(since)
        ),
    }


PANELS: tuple[Panel, ...] = (
    Panel("users", "Users", users_panel, wide=True),
    Panel("database", "Database size", database_panel),
    Panel("checks", "Checks and errors", checks_panel),
    Panel("retention", "Retention", retention_panel, wide=True),
    *(Panel(*spec) for spec in BUSINESS_PANELS),
)


def dashboard_build(*, now: datetime | None = None, panels: tuple[Panel, ...] = PANELS) -> list[BuiltPanel]:
    now = now or timezone.now()
    return [
        BuiltPanel(
            key=panel.key, title=panel.title, template=panel.template, wide=panel.wide, data=panel.build(now)
        )
        for panel in panels
    ]
