"""Generations per day by status and the top models: finished days from the daily usage rollup, the
days after the last rolled-up one live from the jobs (generation_created_brin)."""

from collections import defaultdict
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from generations import selectors
from generations.models import Generation
from ops import charts
from ops.dashboard.base import DAYS, WIDE_CHART_WIDTH, Panel, changelist_url, day_start, per_day

ZERO = Decimal("0.00")
Status = Generation.Status
STATUS_ORDER = (
    Status.SUCCEEDED,
    Status.FAILED,
    Status.TIMEOUT,
    Status.CANCELED,
    Status.PROCESSING,
    Status.PENDING,
)
STATUS_COLOURS = {
    Status.SUCCEEDED: "#5b9e6f",
    Status.FAILED: "#ba2121",
    Status.TIMEOUT: "#e0a800",
    Status.CANCELED: "#999999",
    Status.PROCESSING: "#79aec8",
    Status.PENDING: "#bcd6e3",
}
TOP_MODELS = 5


def generations_url(*, status: str | None = None, model: int | None = None, **filters: Any) -> str:
    if status is not None:
        filters["status__exact"] = str(status)
    if model is not None:
        filters["model__id__exact"] = model
    return changelist_url("generations.Generation", **filters)


def build(now):
    today = now.date()
    since = today - timedelta(days=DAYS - 1)
    by_day: dict = defaultdict(lambda: defaultdict(int))
    per_model: dict = {}

    def add(day, model_id, model_code, status, count, revenue) -> None:
        by_day[day][status] += count
        model = per_model.setdefault(
            model_id, {"code": model_code, "total": 0, "succeeded": 0, "failed": 0, "revenue": ZERO}
        )
        model["total"] += count
        model["succeeded"] += count if status == Status.SUCCEEDED else 0
        model["failed"] += count if status in selectors.FAILED_STATUSES else 0
        model["revenue"] += revenue

    rolled = list(
        selectors.usage_daily_window(
            since=since, until=today, statuses=[str(status) for status in STATUS_ORDER]
        )
    )
    for row in rolled:
        for status in STATUS_ORDER:
            revenue = row["revenue"] if status == Status.SUCCEEDED else ZERO
            add(row["day"], row["model_id"], row["model__code"], status, row[status], revenue)
    # Days the rollup has not covered yet (today at least) come from the jobs themselves.
    live_since = max((row["day"] for row in rolled), default=since - timedelta(days=1)) + timedelta(days=1)
    for row in selectors.generations_daily_counts(since=day_start(live_since)):
        add(
            row["day"],
            row["model_id"],
            row["model__code"],
            row["status"],
            row["count"],
            row["revenue"] or ZERO,
        )

    days = [day for day, _count in per_day({}, today=today)]
    top = sorted(per_model.items(), key=lambda item: (item[1]["revenue"], item[1]["total"]), reverse=True)
    window_filter = {"created_at__gte": day_start(since)}

    def day_link(index: int, status) -> str:
        day = days[index]
        return generations_url(
            status=status,
            created_at__gte=day_start(day),
            created_at__lt=day_start(day + timedelta(days=1)),
        )

    return {
        "today": sum(by_day[today].values()),
        "window": sum(sum(counts.values()) for counts in by_day.values()),
        "chart": charts.stacked_bars_svg(
            [by_day[day] for day in days],
            order=STATUS_ORDER,
            colours=STATUS_COLOURS,
            link=day_link,
            titles=lambda index, status, count: f"{days[index]:%Y-%m-%d}: {count} {status.label}",
            label=gettext("generations per day by status"),
            width=WIDE_CHART_WIDTH,
        ),
        "legend": [
            (status.label, STATUS_COLOURS[status], generations_url(status=status, **window_filter))
            for status in STATUS_ORDER
        ],
        "top_models": [
            {
                **figures,
                "failure_percent": 100 * figures["failed"] / figures["total"] if figures["total"] else 0.0,
                "url": generations_url(model=model_id, **window_filter),
            }
            for model_id, figures in top[:TOP_MODELS]
        ],
        "url": generations_url(**window_filter),
        "days": DAYS,
        "rolled_until": max((row["day"] for row in rolled), default=None),
    }


PANEL = Panel("generations", _("Generations"), "generations.view_generation", build, wide=True, order=60)
