"""Revenue per day: finished days of the ledger are cached (an append-only ledger never changes them),
so a warm dashboard reads only today's entries (one query either way)."""

from collections import defaultdict
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from billing import selectors
from billing.models import EntryType
from ops import charts
from ops.dashboard.base import DAYS, WIDE_CHART_WIDTH, Panel, changelist_url, day_start, per_day

ZERO = Decimal("0.00")
LEDGER_DAYS_CACHE_SECONDS = 26 * 3600


def build(now):
    today = now.date()
    since = today - timedelta(days=DAYS - 1)
    rows = _ledger_rows_for_window(since=since, today=today)
    revenue: dict[str, dict] = defaultdict(lambda: defaultdict(lambda: ZERO))
    topups: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for row in rows:
        if row["type"] == EntryType.TOPUP or row.get("cash_out"):
            topups[row["currency"]] += row["total"]
        else:
            # Charges are negative on the user's side: revenue is the other side of the entry.
            revenue[row["currency"]][row["day"]] -= row["total"]
    currency = settings.DEFAULT_CURRENCY
    days = per_day(revenue[currency], today=today)
    links = [ledger_url(currency=currency, day=day, type_=EntryType.CHARGE) for day, _amount in days]
    currencies = sorted({currency, *revenue, *topups})
    return {
        "currency": currency,
        "today": days[-1][1],
        "window": sum((amount for _day, amount in days), ZERO),
        "chart": charts.bars_svg(
            [float(amount) for _day, amount in days],
            titles=[f"{day:%Y-%m-%d}: {amount:.2f} {currency}" for day, amount in days],
            links=links,
            label=gettext("revenue per day in %(currency)s, last %(days)s days")
            % {"currency": currency, "days": DAYS},
            width=WIDE_CHART_WIDTH,
        ),
        "totals": [
            {
                "currency": code,
                "revenue": sum(revenue[code].values(), ZERO),
                "topups": topups[code],
                "topups_url": ledger_url(currency=code, type_=EntryType.TOPUP, since=since),
                "charges_url": ledger_url(currency=code, type_=EntryType.CHARGE, since=since),
            }
            for code in currencies
        ],
        "url": ledger_url(currency=currency),
        "days": DAYS,
    }


def _ledger_rows_for_window(*, since, today) -> list[dict]:
    """The window's per-day totals: finished days from the cache when there, today always from the ledger."""
    key = f"ops:dashboard:ledger-days:{since}:{today}"
    finished = cache.get(key)
    if finished is None:
        rows = list(selectors.ledger_daily_totals(since=day_start(since)))
        cache.set(key, [row for row in rows if row["day"] < today], LEDGER_DAYS_CACHE_SECONDS)
        return rows
    return finished + list(selectors.ledger_daily_totals(since=day_start(today)))


def ledger_url(*, currency: str, type_: int | None = None, day=None, since=None) -> str:
    filters: dict[str, Any] = {"currency": currency}
    if type_ is not None:
        filters["type__exact"] = int(type_)
    if day is not None:
        filters["created_at__gte"] = day_start(day)
        filters["created_at__lt"] = day_start(day + timedelta(days=1))
    elif since is not None:
        filters["created_at__gte"] = day_start(since)
    return changelist_url("billing.LedgerEntry", **filters)


PANEL = Panel("revenue", _("Revenue"), "billing.view_revenue", build, wide=True, order=50)
