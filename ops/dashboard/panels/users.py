from datetime import timedelta

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts import selectors
from ops import charts
from ops.dashboard.base import DAYS, WIDE_CHART_WIDTH, Panel, changelist_url, day_start, per_day


def build(now):
    today = now.date()
    since = today - timedelta(days=DAYS - 1)
    total = selectors.end_users_count()
    new_rows = selectors.end_users_new_per_day(since=day_start(since))
    days = per_day({row["day"]: row["count"] for row in new_rows}, today=today)
    links = [
        changelist_url(
            "accounts.EndUser",
            created_at__gte=day_start(day),
            created_at__lt=day_start(day + timedelta(days=1)),
        )
        for day, _count in days
    ]
    return {
        "total": total,
        "new_today": days[-1][1],
        "new_window": sum(count for _day, count in days),
        "chart": charts.bars_svg(
            [count for _day, count in days],
            titles=[
                gettext("%(day)s: %(count)s new") % {"day": f"{day:%Y-%m-%d}", "count": count}
                for day, count in days
            ],
            links=links,
            label=gettext("new users per day, last %(days)s days") % {"days": DAYS},
            width=WIDE_CHART_WIDTH,
        ),
        "url": changelist_url("accounts.EndUser"),
    }


PANEL = Panel("users", _("Users"), "accounts.view_enduser", build, wide=True, order=10)
