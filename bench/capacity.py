"""Capacity, measured: does 1 GB hold 40,000 users, 4,000,000 operations, 400,000 provider logs and
200,000 debug logs? Loads exactly that into its own database and prints the size table by table.

    .venv/bin/python bench/capacity.py --load      # drop + create botdesk_capacity, migrate, load, ledger_check
    .venv/bin/python bench/capacity.py --check     # ANALYZE + ledger_check on the loaded database
    .venv/bin/python bench/capacity.py             # measure only (VACUUM ANALYZE, sizes, per-row bytes)
    .venv/bin/python bench/capacity.py --settle    # retention with default settings first (resolved holds
                                                   # past HOLD_RETENTION_DAYS go), VACUUM FULL what it emptied
    .venv/bin/python bench/capacity.py --prompt-retention-days 90   # then prompts and URLs cleared too
    .venv/bin/python bench/capacity.py --levers    # also measure each lever not applied, on table copies

The mix (design of issue 6): 2,000,000 paid generations (a job with a 120-character prompt and an
80-character result URL, its captured hold and its charge) and 2,000,000 other ledger operations
(top-ups with their payment, bonuses, refunds, referral rewards), over one year of history.
Only botdesk_capacity is ever dropped.

Why --settle: the loader writes one year at once, as if retention had never run. In production the
nightly retention keeps resolved holds (and, with PROMPT_RETENTION_DAYS, prompts) to their window, and
the space of what it removes is reused by new rows, so a table settles at about one window of data.
--settle runs the same retention command the beat schedule runs, then VACUUM FULL on the tables it
shrank (what `VACUUM FULL`/`pg_repack` does once after a backlog purge), so the sizes measured are that
settled state, not a year of backlog.
"""

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import psycopg.sql

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "botdesk_capacity"
URL = f"postgres://botdesk:botdesk@127.0.0.1:5432/{DATABASE}"
PROMISE = {"users": 40_000, "operations": 4_000_000, "provider_logs": 400_000, "debug_logs": 200_000}
GB = 1024**3
MB = 1024**2


def shell(*args: str, env: dict | None = None) -> float:
    began = time.monotonic()
    subprocess.run(args, check=True, cwd=ROOT, env={**os.environ, **(env or {})})
    return time.monotonic() - began


def manage(*args: str, **settings: str) -> float:
    """A manage.py command on the capacity database (extra settings through the environment); seconds."""
    env = {"DATABASE_URL": URL, "DJANGO_SETTINGS_MODULE": "config.settings.local", **settings}
    return shell(str(ROOT / ".venv/bin/python"), "manage.py", *args, env=env)


def load() -> None:
    shell("dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", DATABASE)
    shell("createdb", "-h", "127.0.0.1", "-U", "postgres", "-O", "botdesk", DATABASE)
    # The migrations need extensions a database owner may not create (vector is not trusted).
    for extension in ("pg_trgm", "vector"):
        shell("psql", "-q", "-h", "127.0.0.1", "-U", "postgres", "-d", DATABASE, "-c",
              f"CREATE EXTENSION IF NOT EXISTS {extension}")  # fmt: skip
    print(f"migrate: {manage('migrate', '-v0'):.1f} s")
    seconds = manage(
        "seed_demo",
        "--users", str(PROMISE["users"]), "--operations", str(PROMISE["operations"]),
        "--provider-logs", str(PROMISE["provider_logs"]), "--debug-logs", str(PROMISE["debug_logs"]),
    )  # fmt: skip
    print(f"seed_demo load: {seconds:.1f} s")
    check()


def settle(*, prompt_retention_days: int | None = None) -> None:
    """The nightly retention as the beat schedule runs it, then the tables it shrank compacted."""
    settings = {} if prompt_retention_days is None else {"PROMPT_RETENTION_DAYS": str(prompt_retention_days)}
    seconds = manage("cleanup_retention", "--max-seconds", "7200", **settings)
    print(
        f"retention ({', '.join(f'{k}={v}' for k, v in settings.items()) or 'default settings'}): {seconds:.1f} s"
    )
    tables = ["billing_hold"] if prompt_retention_days is None else ["generations_generation"]
    with psycopg.connect(URL, autocommit=True) as connection:
        for table in tables:
            began = time.monotonic()
            connection.execute(psycopg.sql.SQL("VACUUM FULL {}").format(psycopg.sql.Identifier(table)))
            print(f"VACUUM FULL {table}: {time.monotonic() - began:.1f} s")


def check() -> None:
    """ledger_check over the loaded database, after the ANALYZE autovacuum would have run by then."""
    with psycopg.connect(URL, autocommit=True) as connection:
        began = time.monotonic()
        connection.execute("ANALYZE")
        print(f"ANALYZE: {time.monotonic() - began:.1f} s")
    seconds = manage("ledger_check")
    print(f"ledger_check: passed in {seconds:.1f} s")


TABLES_SQL = """
SELECT c.relname, c.reltuples::bigint, pg_relation_size(c.oid), pg_indexes_size(c.oid),
       pg_total_relation_size(c.oid) - pg_relation_size(c.oid) - pg_indexes_size(c.oid)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND n.nspname = 'public'
ORDER BY pg_total_relation_size(c.oid) DESC
"""
INDEXES_SQL = """
SELECT t.relname, i.relname, pg_relation_size(i.oid)
FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE n.nspname = 'public' AND pg_relation_size(i.oid) >= %s
ORDER BY pg_relation_size(i.oid) DESC
"""


def measure(connection: psycopg.Connection) -> tuple[dict[str, tuple[int, int, int, int]], int]:
    with connection.cursor() as cursor:
        began = time.monotonic()
        cursor.execute("VACUUM ANALYZE")
        print(f"VACUUM ANALYZE: {time.monotonic() - began:.1f} s\n")
        cursor.execute("SELECT pg_database_size(current_database())")
        database = cursor.fetchone()[0]
        cursor.execute(TABLES_SQL)
        tables = {
            name: (rows, heap, indexes, toast) for name, rows, heap, indexes, toast in cursor.fetchall()
        }
        # Exact row counts where the table is big enough to matter (reltuples is an estimate).
        for name, (_estimate, *sizes) in tables.items():
            if sum(sizes) >= MB:
                cursor.execute(
                    psycopg.sql.SQL("SELECT COUNT(*) FROM {}").format(psycopg.sql.Identifier(name))
                )
                tables[name] = (cursor.fetchone()[0], *sizes)
        cursor.execute(INDEXES_SQL, [MB])
        indexes = cursor.fetchall()
    print(
        f"{'table':34} {'rows':>10} {'heap MB':>9} {'idx MB':>8} {'toast MB':>9} {'total MB':>9} {'B/row':>7}"
    )
    listed = 0
    for name, (rows, heap, index_bytes, toast) in tables.items():
        total = heap + index_bytes + toast
        listed += total
        if total < MB:
            continue
        per_row = f"{total / rows:.0f}" if rows > 0 else "-"
        print(
            f"{name:34} {rows:>10} {heap / MB:>9.1f} {index_bytes / MB:>8.1f} {toast / MB:>9.2f} "
            f"{total / MB:>9.1f} {per_row:>7}"
        )
    print(f"{'(tables under 1 MB)':34} {'':>10} {'':>9} {'':>8} {'':>9} "
          f"{sum(sum(v[1:]) for v in tables.values() if sum(v[1:]) < MB) / MB:>9.1f}")  # fmt: skip
    print(f"\ndatabase size: {database / MB:.1f} MB ({database / GB:.2f} GB) against a 1024 MB budget\n")
    print(f"{'index (>= 1 MB)':60} {'MB':>8}")
    for table, index, size in indexes:
        print(f"{table + '.' + index:60} {size / MB:>8.1f}")
    return tables, database


# A charge and another entry are not the same size: charges carry no description (it is derived from the
# job) and have no entry in the once-per-reference index, which covers credits only. So the ledger is
# split by what each kind of row really takes: its heap by the rows' own bytes, that index by the rows
# it covers, the other indexes (primary key, account, the BRIN, the partial operator one) per row.
LEDGER_SPLIT_SQL = """
SELECT COALESCE(SUM(pg_column_size(l.*)) FILTER (WHERE type = 2), 0),
       COALESCE(SUM(pg_column_size(l.*)), 0),
       pg_relation_size('ledger_entry_once_per_reference')
FROM billing_ledger_entry l
"""


def ledger_split(connection: psycopg.Connection, tables: dict) -> tuple[float, float]:
    """Bytes per charge and per other ledger entry, heap and indexes (see LEDGER_SPLIT_SQL)."""
    rows, heap, index_bytes, toast = tables["billing_ledger_entry"]
    charges = tables["generations_generation"][0]
    with connection.cursor() as cursor:
        cursor.execute(LEDGER_SPLIT_SQL)
        charge_row_bytes, all_row_bytes, once_per_reference = cursor.fetchone()
    shared = (index_bytes - once_per_reference) / rows
    charge = (heap + toast) * charge_row_bytes / all_row_bytes / charges + shared
    other = (heap + toast) * (all_row_bytes - charge_row_bytes) / all_row_bytes / (rows - charges)
    return charge, other + shared + once_per_reference / (rows - charges)


def per_unit(
    connection: psycopg.Connection, tables: dict[str, tuple[int, int, int, int]], database: int
) -> None:
    """Bytes each promised unit costs, and how many of it 1 GB holds on its own and in the mix."""

    def total(*names: str) -> int:
        return sum(sum(tables[name][1:]) for name in names if name in tables)

    def rows(name: str) -> int:
        return max(tables.get(name, (0,))[0], 1)

    per_charge, per_entry = ledger_split(connection, tables)
    users = rows("accounts_end_user")
    paid = rows("generations_generation")
    other = max(rows("billing_ledger_entry") - paid - users, 1)  # less the charges and welcome bonuses
    print(
        f"\nledger: a charge {per_charge:.0f} bytes, another entry {per_entry:.0f} bytes (heap and indexes)"
    )
    units = {
        # A user: the profile, the account and the welcome bonus entry.
        "user": ((total("accounts_end_user", "billing_account") + per_entry * users) / users, users),
        # A paid generation: the job, its hold and its charge.
        "paid generation": ((total("generations_generation", "billing_hold") + per_charge * paid) / paid, paid),
        # Another operation: its entry, plus a payment row for the top-ups among them.
        "other operation": ((total("billing_payment") + per_entry * other) / other, other),
        "provider log": (total("generations_provider_log") / rows("generations_provider_log"),
                         rows("generations_provider_log")),
        "debug log": (total("ops_debug_log") / rows("ops_debug_log"), rows("ops_debug_log")),
    }  # fmt: skip
    loaded = sum(size * count for size, count in units.values())
    rest = database - loaded  # the other tables and the system catalogs
    share = GB / database
    print(f"\n{'unit':18} {'loaded':>10} {'bytes':>7} {'1 GB alone':>12} {'1 GB, this mix':>15}")
    for unit, (size, count) in units.items():
        print(f"{unit:18} {count:>10,} {size:>7.0f} {GB / size:>12,.0f} {count * share:>15,.0f}")
    operation = (units["paid generation"][0] * paid + units["other operation"][0] * other) / (paid + other)
    print(f"{'operation (mix)':18} {paid + other:>10,} {operation:>7.0f} {GB / operation:>12,.0f} "
          f"{(paid + other) * share:>15,.0f}")  # fmt: skip
    print(
        f"(everything else, catalogs included: {rest / MB:.1f} MB; 1 GB holds {100 * share:.0f} % of what is loaded)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--load", action="store_true", help="drop, create, migrate and load botdesk_capacity")
    parser.add_argument("--check", action="store_true", help="ANALYZE, then ledger_check (without --load)")
    parser.add_argument(
        "--settle", action="store_true", help="run retention with default settings, compact what it emptied"
    )
    parser.add_argument(
        "--prompt-retention-days",
        type=int,
        default=None,
        help="run retention with PROMPT_RETENTION_DAYS=N (after --settle), compact the jobs",
    )
    parser.add_argument(
        "--levers", action="store_true", help="measure each lever not applied, on table copies"
    )
    parser.add_argument(
        "--database", default=DATABASE, help="measure another (already loaded) database; --load refuses it"
    )
    options = parser.parse_args()
    if options.database != DATABASE:
        if options.load or options.check:
            parser.error("--load and --check work on botdesk_capacity only")
        global URL
        URL = URL.rsplit("/", 1)[0] + "/" + options.database
    if options.load:
        load()
    elif options.check:
        check()
    if options.settle:
        settle()
    if options.prompt_retention_days is not None:
        settle(prompt_retention_days=options.prompt_retention_days)
    with psycopg.connect(URL, autocommit=True) as connection:
        tables, database = measure(connection)
        per_unit(connection, tables, database)
        if options.levers:
            sys.path.insert(0, str(Path(__file__).resolve().parent))
            from capacity_levers import levers_measure

            levers_measure(connection)


if __name__ == "__main__":
    main()
