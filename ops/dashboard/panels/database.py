from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ops import charts, selectors
from ops.capacity import capacity_room
from ops.dashboard.base import MB, Panel


def build(now):
    today = now.date()
    database_bytes = selectors.db_size_database_bytes()
    snapshots = [(s.taken_on, s.database_bytes) for s in selectors.db_size_snapshots_recent(today=today)]
    budget_bytes = selectors.db_size_budget_bytes()
    growth, growth_source = selectors.db_size_growth(now=now, snapshots=snapshots)
    return {
        "database_mb": database_bytes / MB,
        "budget_mb": budget_bytes / MB,
        "used_percent": 100 * database_bytes / budget_bytes if budget_bytes else 0,
        "growth_mb_per_day": growth / MB if growth is not None else None,
        "growth_from_activity": growth_source == selectors.GROWTH_FROM_ACTIVITY,
        "budget_date": selectors.db_size_budget_date(
            today=today, database_bytes=database_bytes, budget_bytes=budget_bytes, growth_bytes_per_day=growth
        ),
        "gauge": charts.gauge_svg(
            value=database_bytes, maximum=budget_bytes, label=gettext("database size against budget")
        ),
        "room": capacity_room(database_bytes=database_bytes, budget_bytes=budget_bytes),
        "over_mb": max(database_bytes - budget_bytes, 0) / MB,
        "url": reverse("admin:ops_dbsizereport_changelist"),
    }


PANEL = Panel("database", _("Database size"), "ops.view_dbsizereport", build, order=20)
