from django.utils.translation import gettext_lazy as _

from billing import selectors
from billing.models import Hold
from ops.dashboard.base import Panel, changelist_url


def build(now):
    currencies = [
        {
            "currency": row["account__currency"],
            "count": row["count"],
            "amount": row["amount"],
            "oldest": row["oldest"],
            "overdue": row["overdue"],
        }
        for row in selectors.open_holds_by_currency(now=now)
    ]
    return {
        "currencies": currencies,
        "count": sum(row["count"] for row in currencies),
        "overdue": sum(row["overdue"] for row in currencies),
        "url": changelist_url("billing.Hold", status__exact=Hold.Status.OPEN),
    }


PANEL = Panel("holds", _("Open holds"), "billing.view_hold", build, order=80)
