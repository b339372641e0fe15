"""The users who spent most in the last 30 days (default currency), each linking to their card.

One aggregate over the window of the ledger's created_at index, cached for a few minutes: the
panel is a trend, and a busy day's window is hundreds of thousands of entries.
"""

from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from billing import selectors
from ops.dashboard.base import DAYS, TABLE_TEMPLATE, Panel

TOP = 10
CACHE_SECONDS = 300


def build(now):
    currency = settings.DEFAULT_CURRENCY
    key = f"ops:dashboard:top-spenders:{currency}:{now:%Y%m%d%H}{now.minute // 5}"
    rows = cache.get(key)
    if rows is None:
        rows = selectors.top_spenders(since=now - timedelta(days=DAYS), currency=currency, limit=TOP)
        cache.set(key, rows, CACHE_SECONDS)
    return {
        "columns": [
            gettext("user"),
            gettext("spent, %(currency)s") % {"currency": currency},
            gettext("entries"),
        ],
        "rows": [
            {
                "cells": [row["telegram_id"] or f"#{row['user_id']}", f"{row['spent']:.2f}", row["entries"]],
                "url": reverse("admin:accounts_enduser_change", args=[row["user_id"]]),
            }
            for row in rows
        ],
        "empty": gettext("Nobody has spent anything in the last %(days)s days.") % {"days": DAYS},
    }


PANEL = Panel(
    "top_spenders", _("Top spenders, 30 days"), "billing.view_revenue", build,
    order=55, template_name=TABLE_TEMPLATE,
)  # fmt: skip
