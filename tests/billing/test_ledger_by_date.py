"""The ledger by date: created_at has a BRIN index, and date ranges also bound the primary key."""

import re
import zoneinfo
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing import selectors
from billing.models import Account, LedgerEntry
from billing.services import system_account_id
from tests.support.id_bounds import assert_hourly_bounds_split
from tests.support.ledger import account_of
from tests.support.users import user_create

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)


def entries_at(account: Account, *moments: datetime, first_id: int | None = None) -> list[int]:
    """Ledger rows stamped with their own times, in the order given (the ORM would stamp them now)."""
    counter_id = system_account_id(kind=Account.Kind.ADJUSTMENTS, currency="RUB")
    ids = []
    with connection.cursor() as cursor:
        for index, moment in enumerate(moments):
            cursor.execute(
                "INSERT INTO billing_ledger_entry (id, type, account_id, counter_account_id, currency, amount, "
                "balance_after, reference, description, created_at) "
                "VALUES (COALESCE(%s, nextval(pg_get_serial_sequence('billing_ledger_entry', 'id'))), 7, %s, %s, "
                "'RUB', 1, 0, '', '', %s) RETURNING id",
                [None if first_id is None else first_id + index * 37, account.pk, counter_id, moment],
            )
            ids.append(cursor.fetchone()[0])
    return ids


def first_id_at(moment: datetime) -> int | None:
    bound = selectors.first_id_at(LedgerEntry, moment)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {bound.sql}", bound.params)
        return cursor.fetchone()[0]


def test_the_first_id_at_a_moment_is_found_by_binary_search_over_ids_with_gaps(settings):
    # given only entries an hour apart whose ids have gaps (a sequence skips rolled-back inserts' ids)
    settings.WELCOME_BONUS = Decimal("0.00")
    start = timezone.now() - 30 * DAY
    user = user_create()
    account = Account.objects.create(kind=Account.Kind.USER, owner=user, currency="RUB")
    assert first_id_at(start) is None  # an empty ledger bounds nothing in
    ids = entries_at(account, *(start + hour * timedelta(hours=1) for hour in range(40)), first_id=10_000)
    assert LedgerEntry.objects.count() == 40

    # then the id bound of every moment splits the entries exactly where their times do
    assert_hourly_bounds_split(ids, start, first_id_at)


def test_admin_date_filter_lists_exactly_the_days_entries_through_an_id_range(admin_client):
    # given a year of entries, a few per day, in time order
    account = account_of(user_create())
    today = timezone.localdate(timezone=zoneinfo.ZoneInfo(settings.DISPLAY_TIME_ZONE))
    zone = zoneinfo.ZoneInfo(settings.DISPLAY_TIME_ZONE)  # the admin's days are the operators' days
    days = [today - offset * DAY for offset in (300, 200, 199, 100, 1)]
    by_day = {
        day: entries_at(
            account,
            *(
                datetime.combine(day, datetime.min.time(), tzinfo=zone) + timedelta(hours=h)
                for h in (0, 12, 23)
            ),
        )
        for day in days
    }

    # when an operator filters one old day, or the dashboard links a day by raw datetimes
    for query in (
        {"created_at__from": days[1], "created_at__to": days[1]},
        {
            "created_at__gte": datetime.combine(days[1], datetime.min.time(), tzinfo=zone).isoformat(),
            "created_at__lt": datetime.combine(days[2], datetime.min.time(), tzinfo=zone).isoformat(),
        },
    ):
        with CaptureQueriesContext(connection) as captured:
            response = admin_client.get("/admin/billing/ledgerentry/", query)

        # then exactly that day's entries are listed and totalled, and the list is bounded by id
        assert response.status_code == 200
        assert sorted(entry.pk for entry in response.context["cl"].result_list) == by_day[days[1]]
        assert response.context["totals"]["rows"][0]["total"] == Decimal("3.00")
        sqls = [query["sql"] for query in captured if "billing_ledger_entry" in query["sql"]]
        bounds = [sql for sql in sqls if "WITH RECURSIVE" in sql]
        reads = [sql for sql in sqls if "created_at" in sql and sql not in bounds]  # count, page, totals
        assert len(bounds) == 1  # looked up once, then literal ids
        assert len(reads) == 3 and all(re.search(r'"id" >= \d+ AND .*"id" < \d+', sql) for sql in reads), (
            reads
        )

    # and two days, from and to, take both
    response = admin_client.get(
        "/admin/billing/ledgerentry/", {"created_at__from": days[1], "created_at__to": days[2]}
    )
    assert (
        sorted(entry.pk for entry in response.context["cl"].result_list) == by_day[days[1]] + by_day[days[2]]
    )


def test_admin_date_filter_of_a_bad_datetime_is_refused_like_any_bad_filter(admin_client):
    response = admin_client.get("/admin/billing/ledgerentry/", {"created_at__gte": "not-a-date"})
    assert response.status_code == 302 and response.url.endswith("?e=1")


def test_ledger_export_of_a_date_range_holds_exactly_its_entries(admin_client):
    account = account_of(user_create())
    today = timezone.localdate(timezone=zoneinfo.ZoneInfo(settings.DISPLAY_TIME_ZONE))
    zone = zoneinfo.ZoneInfo(settings.DISPLAY_TIME_ZONE)  # the admin's days are the operators' days
    old = entries_at(account, datetime.combine(today - 50 * DAY, datetime.min.time(), tzinfo=zone))
    entries_at(account, datetime.combine(today - 40 * DAY, datetime.min.time(), tzinfo=zone))

    response = admin_client.get(
        "/admin/billing/ledgerentry/export/",
        {"created_at__from": today - 51 * DAY, "created_at__to": today - 45 * DAY},
    )

    lines = b"".join(response.streaming_content).decode("utf-8-sig").splitlines()
    assert [line.split(";")[0] for line in lines[1:]] == [str(pk) for pk in old]


def test_ledger_created_at_is_a_brin_index():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT am.amname FROM pg_class i JOIN pg_am am ON am.oid = i.relam WHERE i.relname = %s",
            ["ledger_entry_created_brin"],
        )
        assert cursor.fetchone() == ("brin",)


def test_payments_date_filter_lists_exactly_the_days_payments_through_an_id_range(admin_client):
    from billing.models import Payment

    user = user_create()
    zone = zoneinfo.ZoneInfo(settings.DISPLAY_TIME_ZONE)
    today = timezone.localdate(timezone=zone)
    days = [today - offset * DAY for offset in (120, 60, 59, 2)]
    by_day = {}
    for day in days:  # in time order, as payments are created
        payment = Payment.objects.create(user=user, provider="yookassa", amount=1, currency="RUB")
        Payment.objects.filter(pk=payment.pk).update(
            created_at=datetime.combine(day, datetime.min.time(), tzinfo=zone) + timedelta(hours=12)
        )
        by_day[day] = payment.pk

    with CaptureQueriesContext(connection) as captured:
        response = admin_client.get(
            "/admin/billing/payment/", {"created_at__from": days[1], "created_at__to": days[2]}
        )

    assert sorted(row.pk for row in response.context["cl"].result_list) == [by_day[days[1]], by_day[days[2]]]
    assert sum("WITH RECURSIVE" in query["sql"] for query in captured) == 1


def test_only_tables_whose_ids_follow_created_at_are_bounded():
    from billing.models import Hold

    with pytest.raises(ValueError, match="Hold"):
        selectors.first_id_at(Hold, timezone.now())
