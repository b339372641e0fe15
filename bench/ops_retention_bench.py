"""Retention cost on 1M expired debug-log rows, and what partitioning by day would change.

Run against your own database (it inserts and deletes a million rows):
    DATABASE_URL=postgres://botdesk:botdesk@127.0.0.1:5432/botdesk_ops \\
        .venv/bin/python bench/ops_retention_bench.py [--rows 1000000] [--fresh 100000]

It prints: insert time, the cleanup's rows/s and per-batch times, the locks the cleanup takes, the
insert latency a concurrent writer (the logging handler) sees during the cleanup, the table size before,
after and after VACUUM, and the same expiry done by dropping daily partitions.
"""

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

import django

django.setup()

from django.db import connection, connections  # noqa: E402
from django.utils import timezone  # noqa: E402

from ops import services  # noqa: E402
from ops.models import DebugLog  # noqa: E402
from ops.retention import retention_policy_get  # noqa: E402

MB = 1024 * 1024
# A 120-character message and a small context: the shape the handler and the bots write.
FILL_SQL = """
    INSERT INTO ops_debug_log (created_at, level, source, message, context)
    SELECT now() - make_interval(days => %s) - (g %% 86400) * interval '1 second',
           30 + 10 * (g %% 2), 'bench', repeat('m', 120), jsonb_build_object('where', 'bench:1', 'n', g)
      FROM generate_series(1, %s) AS g
"""


def table_mb(name: str) -> float:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_total_relation_size(%s::regclass)", [name])
        return cursor.fetchone()[0] / MB


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


class DeleteTimer:
    """execute_wrapper timing each DELETE the cleanup issues."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            if sql.lstrip().upper().startswith("DELETE"):
                self.seconds.append(time.perf_counter() - started)


def concurrent_writer(stop: threading.Event, latencies: list[float]) -> None:
    """Inserts debug-log rows one by one, like the logging handler under load, and times each."""
    try:
        while not stop.is_set():
            started = time.perf_counter()
            DebugLog.objects.create(level=30, source="bench-writer", message="during cleanup")
            latencies.append(time.perf_counter() - started)
            time.sleep(0.005)
    finally:
        connections.close_all()


def lock_sampler(stop: threading.Event, pid: int, seen: set[str]) -> None:
    """Samples the locks the cleanup's session holds on tables (not its own row locks)."""
    try:
        with connection.cursor() as cursor:
            while not stop.is_set():
                cursor.execute(
                    "SELECT c.relname, l.mode FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                    "WHERE l.pid = %s AND l.granted AND c.relname LIKE 'ops_debug_log%%'",
                    [pid],
                )
                seen.update(f"{name}: {mode}" for name, mode in cursor.fetchall())
                time.sleep(0.01)
    finally:
        connections.close_all()


def bench_delete(rows: int, fresh: int, batch_size: int) -> None:
    DebugLog.objects.filter(source__in=["bench", "bench-writer"]).delete()
    started = time.perf_counter()
    with connection.cursor() as cursor:
        # Expired rows spread over 10 days past the 30-day retention; fresh ones from the last 10 days.
        per_day = rows // 10
        for day in range(40, 30, -1):
            cursor.execute(FILL_SQL, [day, per_day])
        for day in range(10, 0, -1):
            cursor.execute(FILL_SQL, [day, fresh // 10])
        cursor.execute("VACUUM ANALYZE ops_debug_log")
    print(f"insert: {rows + fresh:,} rows in {time.perf_counter() - started:.1f} s")
    size_before = table_mb("ops_debug_log")
    print(f"ops_debug_log before: {size_before:,.1f} MB")

    stop = threading.Event()
    latencies: list[float] = []
    locks: set[str] = set()
    timer = DeleteTimer()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    writer = threading.Thread(target=concurrent_writer, args=(stop, latencies))
    sampler = threading.Thread(target=lock_sampler, args=(stop, pid, locks))
    writer.start()
    sampler.start()
    started = time.perf_counter()
    with connection.execute_wrapper(timer):
        (run,) = services.retention_cleanup_run(
            policies=(retention_policy_get(name="debug-logs"),), batch_size=batch_size, max_seconds=3600
        )
    elapsed = time.perf_counter() - started
    stop.set()
    writer.join()
    sampler.join()

    print(
        f"cleanup: {run.rows_deleted:,} rows in {elapsed:.1f} s = {run.rows_deleted / elapsed:,.0f} rows/s, "
        f"{run.batches} batches of {batch_size:,}, complete={run.complete}"
    )
    print(
        "  per batch (one DELETE, its own transaction): "
        f"median {statistics.median(timer.seconds) * 1000:.0f} ms, "
        f"p95 {percentile(timer.seconds, 0.95) * 1000:.0f} ms, max {max(timer.seconds) * 1000:.0f} ms"
    )
    print(f"  table locks held by the cleanup: {sorted(locks) or 'none sampled'}")
    print(
        f"  concurrent writer: {len(latencies):,} inserts during the cleanup, "
        f"p50 {percentile(latencies, 0.5) * 1000:.1f} ms, p99 {percentile(latencies, 0.99) * 1000:.1f} ms, "
        f"max {max(latencies) * 1000:.1f} ms"
    )
    print(f"ops_debug_log after delete: {table_mb('ops_debug_log'):,.1f} MB (dead rows until vacuum)")
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE ops_debug_log")
    print(
        f"VACUUM: {time.perf_counter() - started:.1f} s; after: {table_mb('ops_debug_log'):,.1f} MB "
        "(space is reused by new rows, not returned to the OS)"
    )
    DebugLog.objects.filter(source__in=["bench", "bench-writer"]).delete()


def bench_partitions(rows: int) -> None:
    """The same expiry with a table partitioned by day: DROP the 10 expired daily partitions."""
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_debug_log_part")
        cursor.execute(
            "CREATE TABLE bench_debug_log_part (id bigserial, created_at timestamptz NOT NULL, "
            "level smallint NOT NULL, source varchar(100) NOT NULL, message varchar(1000) NOT NULL, "
            "context jsonb NOT NULL) PARTITION BY RANGE (created_at)"
        )
        today = timezone.now().date()
        for day in range(41, -1, -1):
            start = today - timezone.timedelta(days=day)
            cursor.execute(
                f"CREATE TABLE bench_debug_log_part_{day} PARTITION OF bench_debug_log_part "
                "FOR VALUES FROM (%s) TO (%s)",
                [start, start + timezone.timedelta(days=1)],
            )
        cursor.execute("CREATE INDEX ON bench_debug_log_part (created_at)")
        started = time.perf_counter()
        per_day = rows // 10
        for day in range(40, 30, -1):
            cursor.execute(FILL_SQL.replace("ops_debug_log", "bench_debug_log_part"), [day, per_day])
        cursor.execute("ANALYZE bench_debug_log_part")
        print(f"partitioned insert: {rows:,} rows in {time.perf_counter() - started:.1f} s")
        cursor.execute(
            "SELECT sum(c.reltuples)::bigint FROM pg_class c WHERE c.relname = ANY(%s)",
            [[f"bench_debug_log_part_{day}" for day in range(41, 30, -1)]],
        )
        rows = cursor.fetchone()[0]
        started = time.perf_counter()
        for day in range(41, 30, -1):
            cursor.execute(f"DROP TABLE bench_debug_log_part_{day}")
        elapsed = time.perf_counter() - started
        print(
            f"partitions: dropped 11 daily partitions ({rows:,} rows) in {elapsed * 1000:.0f} ms; "
            "each DROP takes an ACCESS EXCLUSIVE lock on the parent for that moment"
        )
        cursor.execute("DROP TABLE bench_debug_log_part")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="expired rows")
    parser.add_argument("--fresh", type=int, default=100_000, help="rows inside the retention window")
    parser.add_argument("--batch-size", type=int, default=services.RETENTION_BATCH_SIZE)
    parser.add_argument("--skip-partitions", action="store_true")
    args = parser.parse_args()
    print(f"database: {connection.settings_dict['NAME']}")
    bench_delete(args.rows, args.fresh, args.batch_size)
    if not args.skip_partitions:
        bench_partitions(args.rows)


if __name__ == "__main__":
    main()
