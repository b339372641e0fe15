"""The money and generation panels of the operator dashboard (phase 2 of the dashboard).

Five queries in all, whatever the size of the history, each bounded by date so it is an index range
scan and never reads the whole table:
- revenue per day: the ledger's last 30 days through its `created_at` index, then (finished days being
  immutable in an append-only ledger) only today's entries while the finished days are cached;
- generations per day by status and the top models: finished days from the daily usage rollup
  (`UsageDaily`, a few hundred rows), and only the days after the last rolled-up one live from the
  jobs through `generation_created_idx`;
- failure rate by model: the jobs of the last 24 hours through the same index;
- open holds: the partial index on open holds.

ops.dashboard imports this module to register the panels, so the helpers of ops.dashboard are
imported when a panel is built, not when this module loads.
"""

from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import BooleanField, Count, ExpressionWrapper, Max, Min, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils.html import format_html
from django.utils.safestring import SafeString

from billing.models import EntryType, Hold, LedgerEntry
from generations.models import FINAL_STATUSES, Generation, UsageDaily

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
FAILED_STATUSES = (Status.FAILED, Status.TIMEOUT)
# Revenue is what users paid for: charges and subscriptions, less charge refunds. Top-ups less payment
# refunds are cash in, shown apart.
REVENUE_TYPES = (EntryType.CHARGE, EntryType.SUBSCRIPTION, EntryType.REFUND)
TOP_MODELS = 5
LEDGER_DAYS_CACHE_SECONDS = 26 * 3600


def _base():
    from ops import dashboard

    return dashboard


# --- Revenue ---------------------------------------------------------------------------------


def revenue_panel(now: datetime) -> dict[str, Any]:
    base = _base()
    today = now.date()
    since = today - timedelta(days=base.DAYS - 1)
    rows = _ledger_rows_for_window(base, since=since, today=today)
    revenue: dict[str, dict] = defaultdict(lambda: defaultdict(lambda: ZERO))
    topups: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for row in rows:
        if row["type"] == EntryType.TOPUP or row.get("cash_out"):
            topups[row["currency"]] += row["total"]
        else:
            # Charges are negative on the user's side: revenue is the other side of the entry.
            revenue[row["currency"]][row["day"]] -= row["total"]
    currency = settings.DEFAULT_CURRENCY
    days = base.per_day(revenue[currency], today=today)
    charges_url = _ledger_url(base, currency=currency)
    links = [_ledger_url(base, currency=currency, day=day, type_=EntryType.CHARGE) for day, _ in days]
    currencies = sorted({currency, *revenue, *topups})
    return {
        "currency": currency,
        "today": days[-1][1],
        "window": sum((amount for _, amount in days), ZERO),
        "chart": _bars(
            [float(amount) for _, amount in days],
            titles=[f"{day:%Y-%m-%d}: {amount:.2f} {currency}" for day, amount in days],
            links=links,
            label=f"revenue per day in {currency}, last {base.DAYS} days",
            width=base.WIDE_CHART_WIDTH,
        ),
        "totals": [
            {
                "currency": code,
                "revenue": sum(revenue[code].values(), ZERO),
                "topups": topups[code],
                "topups_url": _ledger_url(base, currency=code, type_=EntryType.TOPUP, since=since),
                "charges_url": _ledger_url(base, currency=code, type_=EntryType.CHARGE, since=since),
            }
            for code in currencies
        ],
        "url": charges_url,
        "days": base.DAYS,
    }


def _ledger_rows_for_window(base, *, since, today) -> list[dict]:
    """The window's per-day totals: finished days from the cache when there, today always from the ledger.

    The ledger is append-only and stamps each entry when it is written, so a finished day's totals never
    change: caching them is exact, and a warm dashboard reads only today's entries (one query either way).
    """
    key = f"ops:dashboard:ledger-days:{since}:{today}"
    finished = cache.get(key)
    if finished is None:
        rows = list(ledger_daily_totals(since=base.day_start(since)))
        cache.set(key, [row for row in rows if row["day"] < today], LEDGER_DAYS_CACHE_SECONDS)
        return rows
    return finished + list(ledger_daily_totals(since=base.day_start(today)))


def ledger_daily_totals(*, since: str | datetime) -> QuerySet:
    """Per day, currency and type: a range scan of the ledger's created_at index over the window only."""
    return (
        LedgerEntry.objects.filter(created_at__gte=since, type__in=(*REVENUE_TYPES, EntryType.TOPUP))
        .annotate(
            day=TruncDate("created_at"),
            # A refund debit gives a payment back (cash out); a refund credit gives a charge back (revenue).
            cash_out=ExpressionWrapper(Q(type=EntryType.REFUND, amount__lt=0), output_field=BooleanField()),
        )
        .values("day", "currency", "type", "cash_out")
        .annotate(total=Sum("amount"))
        .order_by()
    )


def _ledger_url(base, *, currency: str, type_: int | None = None, day=None, since=None) -> str:
    filters: dict[str, Any] = {"currency": currency}
    if type_ is not None:
        filters["type__exact"] = int(type_)
    if day is not None:
        filters["created_at__gte"] = base.day_start(day)
        filters["created_at__lt"] = base.day_start(day + timedelta(days=1))
    elif since is not None:
        filters["created_at__gte"] = base.day_start(since)
    return base.changelist_url("billing.LedgerEntry", **filters)


# --- Generations -----------------------------------------------------------------------------


def generations_panel(now: datetime) -> dict[str, Any]:
    """Per day and status, and the top models, over the dashboard window."""
    base = _base()
    today = now.date()
    since = today - timedelta(days=base.DAYS - 1)
    per_day: dict = defaultdict(lambda: defaultdict(int))
    per_model: dict = {}

    def add(day, model_id, model_code, status, count, revenue) -> None:
        per_day[day][status] += count
        model = per_model.setdefault(
            model_id, {"code": model_code, "total": 0, "succeeded": 0, "failed": 0, "revenue": ZERO}
        )
        model["total"] += count
        model["succeeded"] += count if status == Status.SUCCEEDED else 0
        model["failed"] += count if status in FAILED_STATUSES else 0
        model["revenue"] += revenue

    rolled = list(
        UsageDaily.objects.filter(day__gte=since, day__lt=today)
        .values("day", "model_id", "model__code", "revenue", *(str(status) for status in STATUS_ORDER))
        .order_by()
    )
    for row in rolled:
        for status in STATUS_ORDER:
            revenue = row["revenue"] if status == Status.SUCCEEDED else ZERO
            add(row["day"], row["model_id"], row["model__code"], status, row[status], revenue)
    # Days the rollup has not covered yet (today at least) come from the jobs themselves.
    live_since = max((row["day"] for row in rolled), default=since - timedelta(days=1)) + timedelta(days=1)
    for row in generations_daily_counts(since=base.day_start(live_since)):
        add(
            row["day"],
            row["model_id"],
            row["model__code"],
            row["status"],
            row["count"],
            row["revenue"] or ZERO,
        )

    days = [day for day, _ in base.per_day({}, today=today)]
    top = sorted(per_model.items(), key=lambda item: (item[1]["revenue"], item[1]["total"]), reverse=True)
    window_filter = {"created_at__gte": base.day_start(since)}
    return {
        "today": sum(per_day[today].values()),
        "window": sum(sum(counts.values()) for counts in per_day.values()),
        "chart": _stacked_bars(base, days, per_day),
        "legend": [
            (status.label, STATUS_COLOURS[status], _generations_url(base, status=status, **window_filter))
            for status in STATUS_ORDER
        ],
        "top_models": [
            {
                **figures,
                "failure_percent": 100 * figures["failed"] / figures["total"] if figures["total"] else 0.0,
                "url": _generations_url(base, model=model_id, **window_filter),
            }
            for model_id, figures in top[:TOP_MODELS]
        ],
        "url": _generations_url(base, **window_filter),
        "days": base.DAYS,
        "rolled_until": max((row["day"] for row in rolled), default=None),
    }


def generations_daily_counts(*, since: str | datetime) -> QuerySet:
    """Per day, model and status, live from the jobs: the generation_created_idx range after `since`."""
    return (
        Generation.objects.filter(created_at__gte=since)
        .annotate(day=TruncDate("created_at"))
        .values("day", "model_id", "model__code", "status")
        .annotate(count=Count("id"), revenue=Sum("cost", filter=Q(status=Status.SUCCEEDED, is_free=False)))
        .order_by()
    )


def generations_failure_counts(*, since: datetime) -> QuerySet:
    return (
        Generation.objects.filter(created_at__gte=since)
        .values("model_id", "model__code")
        .annotate(
            finished=Count("id", filter=Q(status__in=FINAL_STATUSES)),
            failed=Count("id", filter=Q(status__in=FAILED_STATUSES)),
            in_flight=Count("id", filter=~Q(status__in=FINAL_STATUSES)),
        )
        .order_by()
    )


def failures_panel(now: datetime) -> dict[str, Any]:
    """Failure rate by model over the last 24 hours (failed and timed out among finished jobs)."""
    base = _base()
    since = now - timedelta(hours=24)
    rows = generations_failure_counts(since=since)
    window = {"created_at__gte": str(since)}
    models = [
        {
            "code": row["model__code"],
            "finished": row["finished"],
            "failed": row["failed"],
            "in_flight": row["in_flight"],
            "failure_percent": 100 * row["failed"] / row["finished"] if row["finished"] else 0.0,
            "url": _generations_url(base, model=row["model_id"], **window),
            "failed_url": _generations_url(base, model=row["model_id"], status=Status.FAILED, **window),
            "timeout_url": _generations_url(base, model=row["model_id"], status=Status.TIMEOUT, **window),
        }
        for row in rows
    ]
    models.sort(key=lambda model: (model["failure_percent"], model["failed"]), reverse=True)
    finished = sum(model["finished"] for model in models)
    failed = sum(model["failed"] for model in models)
    return {
        "models": models,
        "finished": finished,
        "failed": failed,
        "failure_percent": 100 * failed / finished if finished else 0.0,
        "failed_url": _generations_url(base, status=Status.FAILED, **window),
        "timeout_url": _generations_url(base, status=Status.TIMEOUT, **window),
    }


def _generations_url(base, *, status: str | None = None, model: int | None = None, **filters: Any) -> str:
    if status is not None:
        filters["status__exact"] = str(status)
    if model is not None:
        filters["model__id__exact"] = model
    return base.changelist_url("generations.Generation", **filters)


# --- Holds -----------------------------------------------------------------------------------


def holds_panel(now: datetime) -> dict[str, Any]:
    base = _base()
    rows = (
        Hold.objects.filter(status=Hold.Status.OPEN)
        .values("account__currency")
        .annotate(
            count=Count("id"),
            amount=Sum("amount"),
            oldest=Min("created_at"),
            overdue=Count("id", filter=Q(expires_at__lt=now)),
            latest_expiry=Max("expires_at"),
        )
        .order_by("account__currency")
    )
    currencies = [
        {
            "currency": row["account__currency"],
            "count": row["count"],
            "amount": row["amount"],
            "oldest": row["oldest"],
            "overdue": row["overdue"],
        }
        for row in rows
    ]
    open_url = base.changelist_url("billing.Hold", status__exact=Hold.Status.OPEN)
    return {
        "currencies": currencies,
        "count": sum(row["count"] for row in currencies),
        "overdue": sum(row["overdue"] for row in currencies),
        "url": open_url,
    }


# --- Charts ----------------------------------------------------------------------------------


def _bars(values, *, titles, links, label, width) -> SafeString:
    from ops import charts

    return charts.bars_svg(values, titles=titles, links=links, label=label, width=width)


def _stacked_bars(base, days, per_day, *, width: int = 720, height: int = 120) -> SafeString:
    """One bar per day, a segment per status (each a link to that day's jobs in that status)."""
    totals = [sum(per_day[day].values()) for day in days] if days else []
    high = max(totals, default=0) or 1
    slot = width / max(len(days), 1)
    parts = []
    for index, day in enumerate(days):
        top = float(height)
        for status in STATUS_ORDER:
            count = per_day[day].get(status, 0)
            if not count:
                continue
            segment = count / high * (height - 1)
            top -= segment
            url = _generations_url(
                base,
                status=status,
                created_at__gte=base.day_start(day),
                created_at__lt=base.day_start(day + timedelta(days=1)),
            )
            parts.append(
                format_html(
                    '<a href="{}"><rect x="{}" y="{}" width="{}" height="{}" fill="{}">'
                    "<title>{}: {} {}</title></rect></a>",
                    url,
                    round(index * slot + 1, 1),
                    round(top, 1),
                    round(max(slot - 2, 1), 1),
                    round(segment, 1),
                    STATUS_COLOURS[status],
                    f"{day:%Y-%m-%d}",
                    count,
                    status.label,
                )
            )
    return format_html(
        '<svg class="ops-bars" width="{}" height="{}" viewBox="0 0 {} {}" role="img" aria-label="{}">{}</svg>',
        width,
        height,
        width,
        height,
        "generations per day by status",
        SafeString("".join(parts)),
    )


# (key, title, build, wide): ops.dashboard wraps each in its Panel.
BUSINESS_PANELS = (
    ("revenue", "Revenue", revenue_panel, True),
    ("generations", "Generations", generations_panel, True),
    ("failures", "Failures by model, last 24 h", failures_panel, False),
    ("holds", "Open holds", holds_panel, False),
)
