"""How fast the user card and the user list render on a large database (bench/README.md, Operator console).

    DATABASE_URL=postgres://botdesk:botdesk@127.0.0.1:5432/botdesk_wt10_bench \\
        .venv/bin/python bench/admin_user_card.py [--runs 7]

Logs in through Django's test client as a superuser and as a Support operator (created if missing), then
times each page: the first request (cold) and the median and worst of the next `--runs` (warm), with the
query count. Pages: the card of the user with the most ledger entries and of a few random users, the
user list (newest first, and searched by Telegram id), and the ledger and payments lists filtered to
one user, with their totals line. Prints the plan of the list's facts query too.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

import django

django.setup()

from django.apps import apps as django_apps  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from accounts.models import EndUser, Operator  # noqa: E402
from billing.models import Account  # noqa: E402
from ops.roles import roles_sync  # noqa: E402


def operator(username: str, *, role: str | None) -> Operator:
    user = Operator.objects.filter(username=username).first()
    if user is None:
        user = Operator.objects.create_user(username=username, password="bench", is_staff=True)
        if role is None:
            user.is_superuser = True
            user.save(update_fields=["is_superuser"])
        else:
            roles_sync(django_apps)
            user.groups.add(Group.objects.get(name=role))
    return user


def timed(client: Client, url: str, runs: int) -> tuple[float, float, float, int, int]:
    def once() -> tuple[float, int, int]:
        with CaptureQueriesContext(connection) as queries:
            began = time.perf_counter()
            response = client.get(url)
            elapsed = (time.perf_counter() - began) * 1000
        return elapsed, len(queries), response.status_code

    cold, _, _ = once()
    warm = [once() for _ in range(runs)]
    times = [elapsed for elapsed, _, _ in warm]
    return cold, statistics.median(times), max(times), warm[-1][1], warm[-1][2]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    users = EndUser.objects.count()
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = 'billing_ledger_entry'")
        entries = cursor.fetchone()[0]
        # The user with the most entries: their card and lists are the worst case (a one-off full scan).
        cursor.execute("SET statement_timeout = 0")
        cursor.execute(
            "SELECT account_id, COUNT(*) FROM billing_ledger_entry GROUP BY account_id ORDER BY 2 DESC LIMIT 1"
        )
        heaviest_account, heaviest_entries = cursor.fetchone()
        cursor.execute("RESET statement_timeout")
    heavy = Account.objects.get(pk=heaviest_account).owner
    sample = list(EndUser.objects.filter(telegram_id__isnull=False).order_by("?")[:3])
    print(
        f"database: {users:,} users, ~{entries:,} ledger entries; heaviest user {heavy.display_ref}: {heaviest_entries:,} entries"
    )
    pages = [
        ("card, heaviest user", f"/admin/accounts/enduser/{heavy.pk}/change/"),
        *[
            (f"card, user {user.display_ref}", f"/admin/accounts/enduser/{user.pk}/change/")
            for user in sample
        ],
        ("user list", "/admin/accounts/enduser/"),
        ("user list, search", f"/admin/accounts/enduser/?q={sample[0].telegram_id}"),
        ("ledger of heaviest", f"/admin/billing/ledgerentry/?user={heavy.pk}"),
        ("payments of heaviest", f"/admin/billing/payment/?user={heavy.pk}"),
    ]
    for login, role in (("bench-admin", None), ("bench-support", "Support")):
        client = Client()
        client.force_login(operator(login, role=role))
        print(f"\n{login} ({role or 'superuser'})")
        print(f"{'page':28} {'cold ms':>8} {'warm ms':>8} {'max ms':>8} {'queries':>8} {'status':>6}")
        for label, url in pages:
            cold, median, worst, queries, status = timed(client, url, runs)
            print(f"{label:28} {cold:>8.1f} {median:>8.1f} {worst:>8.1f} {queries:>8} {status:>6}")

    from billing.selectors import user_list_facts

    page = list(EndUser.objects.order_by("-id")[:50])
    with CaptureQueriesContext(connection) as queries:
        user_list_facts(page)
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + queries.captured_queries[0]["sql"])
        print("\nplan of the list's facts query (billing):")
        print("\n".join(row[0] for row in cursor.fetchall()))


if __name__ == "__main__":
    main()
