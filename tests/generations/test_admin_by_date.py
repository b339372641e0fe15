"""Jobs by date: created_at has a BRIN index, and the admin's date ranges also bound the primary key."""

import re
import zoneinfo
from datetime import datetime, timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core import id_bounds
from generations.models import Generation
from tests.generations.helpers import model_create
from tests.generations.test_queries import ADMIN_BASE, GENERATION_CHANGELIST_QUERIES
from tests.support.id_bounds import assert_hourly_bounds_split
from tests.support.users import user_create

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)
CHANGELIST = "/admin/generations/generation/"
ZONE = zoneinfo.ZoneInfo(settings.DISPLAY_TIME_ZONE)  # the admin's days are the operators' days


def jobs_at(*moments: datetime, first_id: int | None = None) -> list[int]:
    """Jobs stamped with their own times, in the order given, with ids 37 apart from `first_id` if given
    (a sequence skips the ids of rolled-back admissions)."""
    user, model = user_create(), model_create()
    jobs = Generation.objects.bulk_create(
        [
            Generation(
                **({"id": first_id + index * 37} if first_id is not None else {}),
                user=user,
                model=model,
                status="failed",
                cost=model.price,
                currency="RUB",
                completed_at=moment,
            )
            for index, moment in enumerate(moments)
        ]
    )
    for job, moment in zip(jobs, moments, strict=True):  # created_at is auto_now_add: set it afterwards
        job.created_at = moment
    Generation.objects.bulk_update(jobs, ["created_at"])
    return [job.pk for job in jobs]


def first_id_at(moment: datetime) -> int | None:
    bound = id_bounds.first_id_at(Generation, moment)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {bound.sql}", bound.params)
        return cursor.fetchone()[0]


def listed_ids(response) -> list[int]:
    assert response.status_code == 200
    return sorted(job.pk for job in response.context["cl"].result_list)


def test_the_first_job_id_at_a_moment_splits_jobs_with_gaps_in_ids_exactly_where_their_times_do():
    # given no jobs, then jobs an hour apart whose ids have gaps
    start = timezone.now() - 30 * DAY
    assert first_id_at(start) is None  # an empty table bounds nothing in
    assert id_bounds.ids_within(Generation, since=start, until=start + DAY).children == []
    ids = jobs_at(*(start + hour * timedelta(hours=1) for hour in range(40)), first_id=50_000)

    # then the bound of every moment, on an hour and between two, is exact
    assert_hourly_bounds_split(ids, start, first_id_at)


def test_admin_date_filter_lists_exactly_the_days_jobs_through_an_id_range(admin_client):
    # given jobs over a year, on each day's first and last moments, with gaps in their ids
    today = timezone.localdate(timezone=ZONE)
    days = [today - offset * DAY for offset in (300, 200, 199, 100, 1)]
    midnight = {day: datetime.combine(day, datetime.min.time(), tzinfo=ZONE) for day in days}
    moments = [
        midnight[day] + offset
        for day in days
        for offset in (timedelta(0), 12 * timedelta(hours=1), DAY - timedelta(microseconds=1))
    ]
    ids = jobs_at(*moments, first_id=9_000)
    by_day = {day: ids[index * 3 : index * 3 + 3] for index, day in enumerate(days)}

    # when an operator filters one old day, or a link sends the day as raw datetimes
    for query in (
        {"created_at__from": days[1], "created_at__to": days[1]},
        {"created_at__gte": midnight[days[1]].isoformat(), "created_at__lt": midnight[days[2]].isoformat()},
    ):
        with CaptureQueriesContext(connection) as captured:
            response = admin_client.get(CHANGELIST, query)

        # then exactly that day's jobs are listed, the bounds read once and the list read by id
        assert listed_ids(response) == by_day[days[1]]
        sqls = [q["sql"] for q in captured if "generations_generation" in q["sql"]]
        assert sum("WITH RECURSIVE" in sql for sql in sqls) == 1
        reads = [sql for sql in sqls if "WITH RECURSIVE" not in sql and '"created_at" >=' in sql]
        assert reads and all(re.search(r'"id" >= \d+ AND .*"id" < \d+', sql) for sql in reads), reads

    # and a range of days takes both ends whole, an open end bounds one side only
    both = admin_client.get(CHANGELIST, {"created_at__from": days[1], "created_at__to": days[2]})
    assert listed_ids(both) == by_day[days[1]] + by_day[days[2]]
    since = admin_client.get(CHANGELIST, {"created_at__from": days[3]})
    assert listed_ids(since) == by_day[days[3]] + by_day[days[4]]
    until = admin_client.get(CHANGELIST, {"created_at__to": days[0]})
    assert listed_ids(until) == by_day[days[0]]


def test_admin_date_filter_of_an_empty_table_lists_nothing(admin_client):
    response = admin_client.get(
        CHANGELIST, {"created_at__from": "2020-01-01", "created_at__to": "2020-01-02"}
    )
    assert listed_ids(response) == []


def test_admin_date_filter_of_a_bad_datetime_is_refused_like_any_bad_filter(admin_client):
    response = admin_client.get(CHANGELIST, {"created_at__gte": "not-a-date"})
    assert response.status_code == 302 and response.url.endswith("?e=1")


def test_admin_date_filter_queries_do_not_grow_with_rows(admin_client, django_assert_num_queries):
    today = timezone.localdate(timezone=ZONE)
    day = today - 50 * DAY
    noon = datetime.combine(day, datetime.min.time(), tzinfo=ZONE) + 12 * timedelta(hours=1)
    for rows in (1, 50):
        jobs_at(*(noon + index * timedelta(seconds=1) for index in range(rows)))
        with django_assert_num_queries(ADMIN_BASE + GENERATION_CHANGELIST_QUERIES[""] + 1):  # + the id bounds
            response = admin_client.get(CHANGELIST, {"created_at__from": day, "created_at__to": day})
        assert response.status_code == 200


def test_generation_created_at_is_a_minmax_multi_brin_index():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT am.amname, pg_get_indexdef(i.oid) FROM pg_class i JOIN pg_am am ON am.oid = i.relam "
            "WHERE i.relname = %s",
            ["generation_created_brin"],
        )
        method, definition = cursor.fetchone()
    assert (
        method == "brin"
        and "timestamptz_minmax_multi_ops" in definition
        and "pages_per_range='32'" in definition
    )
