"""What a dashboard panel is, and the helpers panels share (links to filtered lists, day windows)."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from django.urls import reverse
from django.utils import timezone

DAYS = 30
MB = 1024 * 1024
WIDE_CHART_WIDTH = 720  # the charts of the wide panels, like the generations chart
TABLE_TEMPLATE = "admin/ops/dashboard/table.html"


@dataclass(frozen=True)
class Panel:
    key: str
    title: str
    permission: str
    build: Callable[[datetime], dict[str, Any]]
    wide: bool = False
    order: int = 100
    template_name: str = ""

    @property
    def template(self) -> str:
        return self.template_name or f"admin/ops/dashboard/{self.key}.html"


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


def per_day(rows: dict[date, Any], *, today: date, days: int = DAYS) -> list[tuple[date, Any]]:
    """Every day of the window, oldest first, zero where nothing happened."""
    return [
        (day, rows.get(day, 0))
        for day in (today - timedelta(days=offset) for offset in range(days - 1, -1, -1))
    ]


def day_start(day: date) -> str:
    # Aware, like the admin's own date filter links: a bare date would be a naive datetime.
    return str(datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone()))
