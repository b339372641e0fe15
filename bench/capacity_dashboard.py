"""How fast the operator dashboard builds on the capacity database (4M operations).

    DATABASE_URL=postgres://botdesk:botdesk@127.0.0.1:5432/botdesk_capacity \\
        .venv/bin/python bench/capacity_dashboard.py [--runs 7]

Prints, per panel, the median build time and its query count; the plans of the panels' biggest queries;
then the admin index and the changelists its figures link to through the test client, cold (first
request, cache cleared) and warm (median of the other runs), with their query counts.
"""

import argparse
import html
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

import django

django.setup()

from django.core.cache import cache  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import Operator  # noqa: E402
from billing.selectors import ledger_daily_totals  # noqa: E402
from generations.models import Generation  # noqa: E402
from generations.selectors import generations_daily_counts, generations_failure_counts  # noqa: E402
from ops.dashboard import DAYS, PANELS, dashboard_build  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    now = timezone.now()
    print(f"{'panel':14} {'median ms':>10} {'max ms':>8} {'queries':>8}")
    overall = []
    for panel in PANELS:
        timings = []
        for _ in range(runs):
            with CaptureQueriesContext(connection) as queries:
                began = time.perf_counter()
                dashboard_build(now=now, panels=(panel,))
                timings.append((time.perf_counter() - began) * 1000)
        overall.append(statistics.median(timings))
        print(f"{panel.key:14} {statistics.median(timings):>10.1f} {max(timings):>8.1f} {len(queries):>8}")
    print(f"{'all panels':14} {sum(overall):>10.1f}")
    window = now - timedelta(days=DAYS)
    plans = {
        "revenue (ledger, 30 days)": ledger_daily_totals(since=window),
        "generations live (30 days, as if never rolled up)": generations_daily_counts(since=window),
        "generations live (today, as usual)": generations_daily_counts(since=now.replace(hour=0, minute=0)),
        "failures (24 h)": generations_failure_counts(since=now - timedelta(hours=24)),
    }
    for name, queryset in plans.items():
        print(f"\n{name}:\n{queryset.explain(analyze=True, buffers=True)}")
    changelists(now, runs=runs)


def changelists(now, *, runs: int) -> None:
    """The whole admin index and the filtered changelists its figures link to, through the test client."""
    operator, _ = Operator.objects.get_or_create(
        username="capacity-bench", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(operator)
    panels = {panel.key: panel.data for panel in dashboard_build(now=now)}
    urls = {
        "admin index (every panel)": "/admin/",
        "ledger: charges of one day (a revenue bar)": _first_link(panels["revenue"]["chart"]),
        "ledger: top-ups of 30 days": panels["revenue"]["totals"][0]["topups_url"],
        "generations: one day in one status": _first_link(panels["generations"]["chart"]),
        "generations: one model, 30 days": panels["generations"]["top_models"][0]["url"],
        "generations: failed in 24 h": panels["failures"]["failed_url"],
        "holds: open": panels["holds"]["url"],
    }
    # The lists whose indexes issue 14 dropped or changed (BRIN on created_at, no prompt index, no
    # (user, created_at)): an old day newest first, a prompt searched among one user's jobs, one user's
    # ledger and payments, the same old day in the ledger.
    old_day = (now - timedelta(days=180)).date().isoformat()
    user_id, prompt = Generation.objects.order_by("-id").values_list("user_id", "prompt").first()
    prompt_word = max(prompt.split(), key=len)
    urls |= {
        "generations: a day 180 days back": f"/admin/generations/generation/?created_at__from={old_day}&created_at__to={old_day}",
        "generations: one user's prompts searched": f"/admin/generations/generation/?user={user_id}&q={prompt_word}",
        "ledger: a day 180 days back": f"/admin/billing/ledgerentry/?created_at__from={old_day}&created_at__to={old_day}",
        "payments: a day 180 days back": f"/admin/billing/payment/?created_at__from={old_day}&created_at__to={old_day}",
    }
    print(f"\n{'page':48} {'cold ms':>8} {'queries':>8} {'median ms':>10} {'queries':>8}")
    for name, url in urls.items():
        timings, counts = [], []
        # The first run is cold: the cached finished days of the revenue chart are cleared first.
        cache.clear()
        for _ in range(runs):
            with CaptureQueriesContext(connection) as queries:
                began = time.perf_counter()
                response = client.get(url)
                timings.append((time.perf_counter() - began) * 1000)
            counts.append(len(queries))
            assert response.status_code == 200, (url, response.status_code)
        print(
            f"{name:48} {timings[0]:>8.1f} {counts[0]:>8} {statistics.median(timings[1:] or timings):>10.1f} "
            f"{counts[-1]:>8}   {url}"
        )


def _first_link(svg: str) -> str:
    return html.unescape(svg.split('href="', 1)[1].split('"', 1)[0])


if __name__ == "__main__":
    main()
