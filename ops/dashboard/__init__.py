"""The operator dashboard (the admin index): panels, each one module in ops/dashboard/panels/.

A panel module defines `PANEL = Panel(...)`: a key, a title, the permission an operator needs to see
it, `build(now)` returning its template's data in a fixed number of queries (read through the owning
app's selectors), and its template (`admin/ops/dashboard/<key>.html`, or the generic table template).
Adding a panel is adding one such file: the registry finds it; a panel the operator may not see is not
built at all. Charts are drawn by ops.charts.
"""

from ops.dashboard.base import DAYS, WIDE_CHART_WIDTH, BuiltPanel, Panel, changelist_url, day_start, per_day
from ops.dashboard.registry import PANELS, dashboard_build

__all__ = [
    "DAYS",
    "PANELS",
    "WIDE_CHART_WIDTH",
    "BuiltPanel",
    "Panel",
    "changelist_url",
    "dashboard_build",
    "day_start",
    "per_day",
]
