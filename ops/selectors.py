"""Reads of the ops app."""

import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import redis
from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import Count, QuerySet
from django.utils import timezone
from kombu import Connection

from billing.models import EntryType
from ops.capacity import Room, capacity_growth_per_day, capacity_room
from ops.models import DbSizeSnapshot, DebugLog, LedgerCheckRun, RetentionRun

logger = logging.getLogger(__name__)

# Load balancers poll health every few seconds and it needs no key: the broker is asked at most once
# per HEALTH_BROKER_CACHE_SECONDS per process, and never waits longer than
# HEALTH_BROKER_TIMEOUT_SECONDS, so health answers fast even while the broker is unreachable.
_broker_checks: dict[str, tuple[str, float]] = {}
_broker_checks_lock = threading.Lock()


def broker_check(url: str, *, timeout: float) -> str:
    """One bounded round trip to the broker: "ok" or "down"."""
    try:
        if url.startswith(("redis://", "rediss://", "unix://")):
            client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
            try:
                client.ping()
            finally:
                client.close()
        else:
            with Connection(url, connect_timeout=timeout) as broker:
                broker.ensure_connection(max_retries=1, interval_start=0, timeout=timeout)
    except Exception as exc:  # any broker failure means "down"; health must answer, not raise
        logger.debug("broker unreachable: %s", exc)
        return "down"
    return "ok"


def broker_status() -> str:
    url = settings.CELERY_BROKER_URL
    now = time.monotonic()
    cached = _broker_checks.get(url)
    if cached is not None and now - cached[1] < settings.HEALTH_BROKER_CACHE_SECONDS:
        return cached[0]
    status = broker_check(url, timeout=settings.HEALTH_BROKER_TIMEOUT_SECONDS)
    with _broker_checks_lock:
        previous = _broker_checks.get(url)
        _broker_checks[url] = (status, time.monotonic())
    if status == "down" and (previous is None or previous[0] == "ok"):
        logger.warning("broker unreachable (health reports broker: down)")
    return status


def health_report() -> dict[str, str | None]:
    report: dict[str, str | None] = {"status": "ok", "database": "ok", "pgvector": None, "broker": "ok"}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
            row = cursor.fetchone()
        report["pgvector"] = row[0] if row else None
    except DatabaseError as exc:
        logger.error("database unreachable: %s", exc)
        report.update(status="down", database="down")
    report["broker"] = broker_status()
    return report


# --- Database size -----------------------------------------------------------------------------------

GROWTH_WINDOW_DAYS = 30
GROWTH_FROM_SNAPSHOTS = "snapshots"
GROWTH_FROM_ACTIVITY = "activity"
BUDGET_HORIZON_DAYS = 100 * 365  # further than this, the budget is "not reached at this growth"
BYTES_PER_MB = 1024 * 1024


@dataclass(frozen=True)
class TableSize:
    name: str
    heap_bytes: int
    index_bytes: int
    toast_bytes: int
    total_bytes: int
    rows_estimate: int | None  # pg_class.reltuples; None until the table was first analyzed

    @property
    def bytes_per_row(self) -> int | None:
        return self.total_bytes // self.rows_estimate if self.rows_estimate else None


@dataclass(frozen=True)
class DbSizeReport:
    database_bytes: int
    budget_bytes: int
    tables: list[TableSize]
    snapshots: list[tuple[date, int]]  # oldest first, within GROWTH_WINDOW_DAYS
    growth_bytes_per_day: float | None
    projected_budget_date: date | None
    growth_source: str = GROWTH_FROM_SNAPSHOTS  # or GROWTH_FROM_ACTIVITY before two daily snapshots

    @property
    def used_percent(self) -> float:
        return 100.0 * self.database_bytes / self.budget_bytes if self.budget_bytes else 0.0

    @property
    def over_budget(self) -> bool:
        return self.database_bytes >= self.budget_bytes

    @property
    def room(self) -> list[Room]:
        return capacity_room(database_bytes=self.database_bytes, budget_bytes=self.budget_bytes)


# Heap is the table without its TOAST (pg_table_size counts TOAST, the free space map and the
# visibility map); every user schema, so tables of extensions and partitions show too.
TABLE_SIZES_SQL = """
    SELECT c.relname,
           pg_table_size(c.oid) - COALESCE(pg_total_relation_size(NULLIF(c.reltoastrelid, 0)), 0),
           pg_indexes_size(c.oid),
           COALESCE(pg_total_relation_size(NULLIF(c.reltoastrelid, 0)), 0),
           pg_total_relation_size(c.oid),
           c.reltuples::bigint
      FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'm', 'p')
       AND n.nspname NOT IN ('pg_catalog', 'information_schema')
       AND n.nspname !~ '^pg_toast'
     ORDER BY pg_total_relation_size(c.oid) DESC, c.relname
"""


def db_size_database_bytes() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_database_size(current_database())")
        return int(cursor.fetchone()[0])


def db_size_tables() -> list[TableSize]:
    with connection.cursor() as cursor:
        cursor.execute(TABLE_SIZES_SQL)
        rows = cursor.fetchall()
    return [
        TableSize(
            name=name,
            heap_bytes=int(heap),
            index_bytes=int(indexes),
            toast_bytes=int(toast),
            total_bytes=int(total),
            rows_estimate=int(rows) if rows is not None and rows >= 0 else None,
        )
        for name, heap, indexes, toast, total, rows in rows
    ]


def db_size_snapshots_recent(*, today: date, days: int = GROWTH_WINDOW_DAYS) -> QuerySet[DbSizeSnapshot]:
    return (
        DbSizeSnapshot.objects.filter(taken_on__gte=today - timedelta(days=days))
        .order_by("taken_on")
        .only("taken_on", "database_bytes")
    )


def db_size_report(*, today: date | None = None, budget_mb: int | None = None) -> DbSizeReport:
    """The database size page and command: three queries whatever the number of tables or snapshots, and
    a fourth (the last week's activity) only while there are fewer than two daily snapshots."""
    now = timezone.now() if today is None else datetime.combine(today, datetime.max.time(), tzinfo=UTC)
    today = now.date()
    budget_bytes = db_size_budget_bytes(budget_mb=budget_mb)
    database_bytes = db_size_database_bytes()
    tables = db_size_tables()
    snapshots = [(s.taken_on, s.database_bytes) for s in db_size_snapshots_recent(today=today)]
    growth, growth_source = db_size_growth(now=now, snapshots=snapshots)
    return DbSizeReport(
        database_bytes=database_bytes,
        budget_bytes=budget_bytes,
        tables=tables,
        snapshots=snapshots,
        growth_bytes_per_day=growth,
        projected_budget_date=db_size_budget_date(
            today=today, database_bytes=database_bytes, budget_bytes=budget_bytes, growth_bytes_per_day=growth
        ),
        growth_source=growth_source,
    )


def db_size_budget_bytes(*, budget_mb: int | None = None) -> int:
    return (budget_mb if budget_mb is not None else settings.DB_BUDGET_MB) * BYTES_PER_MB


ACTIVITY_DAYS = 7
# The last week's business, in one round trip: paid jobs, ledger credits and debits other than charges (a
# user's welcome bonus is counted with the user), new users. Each count reads its created_at index.
ACTIVITY_SQL = """
SELECT (SELECT COUNT(*) FROM generations_generation WHERE created_at >= %(since)s AND NOT is_free),
       (SELECT COUNT(*) FROM billing_ledger_entry WHERE created_at >= %(since)s AND type <> %(charge)s),
       (SELECT COUNT(*) FROM accounts_end_user WHERE created_at >= %(since)s)
"""


def db_size_growth_from_activity(*, now: datetime, days: int = ACTIVITY_DAYS) -> float:
    """Bytes a day the last `days` of activity add, at the bytes per unit of ops.capacity."""
    with connection.cursor() as cursor:
        cursor.execute(ACTIVITY_SQL, {"since": now - timedelta(days=days), "charge": EntryType.CHARGE})
        paid, entries, users = cursor.fetchone()
    return capacity_growth_per_day(
        paid_generations=paid, other_operations=max(entries - users, 0), users=users, days=days
    )


def db_size_growth(*, now: datetime, snapshots: list[tuple[date, int]]) -> tuple[float | None, str]:
    """The growth a day and where it comes from: the snapshots when there are two days, else the activity."""
    measured = db_size_growth_per_day(snapshots)
    if measured is not None:
        return measured, GROWTH_FROM_SNAPSHOTS
    return db_size_growth_from_activity(now=now), GROWTH_FROM_ACTIVITY


def db_size_growth_per_day(snapshots: list[tuple[date, int]]) -> float | None:
    """Average growth between the first and the last snapshot of the window; None with fewer than two days."""
    if len(snapshots) < 2:
        return None
    (first_day, first_bytes), (last_day, last_bytes) = snapshots[0], snapshots[-1]
    days = (last_day - first_day).days
    return (last_bytes - first_bytes) / days if days > 0 else None


def db_size_budget_date(
    *, today: date, database_bytes: int, budget_bytes: int, growth_bytes_per_day: float | None
) -> date | None:
    """The day the database reaches the budget at the current growth; today when already over it."""
    if database_bytes >= budget_bytes:
        return today
    if not growth_bytes_per_day or growth_bytes_per_day <= 0:
        return None
    days = int((budget_bytes - database_bytes) / growth_bytes_per_day)
    # A trickle of growth (a new database's first users) would put the date past any calendar.
    return today + timedelta(days=days) if days <= BUDGET_HORIZON_DAYS else None


# --- Runs ----------------------------------------------------------------------------------------------


def retention_runs_latest_per_policy() -> QuerySet[RetentionRun]:
    """The most recent run of each policy (one query: DISTINCT ON)."""
    return RetentionRun.objects.order_by("policy", "-started_at", "-id").distinct("policy")


def debug_log_counts_since(*, since: datetime) -> dict[int, int]:
    """{level: entries} since `since`; the created_at index bounds the scan to the window."""
    rows = (
        DebugLog.objects.filter(created_at__gte=since).values("level").annotate(count=Count("id")).order_by()
    )
    return {row["level"]: row["count"] for row in rows}


def ledger_check_run_latest() -> LedgerCheckRun | None:
    return LedgerCheckRun.objects.order_by("-started_at", "-id").first()
