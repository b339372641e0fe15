"""Benchmark: the service path (hold + capture) against a raw-SQL charge loop, in one run.

    .venv/bin/python bench/billing_ledger.py [--seconds 10] [--workers 16] [--storage-rows 1000000]

Creates (and drops at the start of each run) its own database `botdesk_bench_money`, migrates it, and
measures for a hot account (every worker charges the same user) and across 10,000 accounts:
  raw      BEGIN; UPDATE billing_account ... WHERE balance - held >= x RETURNING balance; INSERT entry; COMMIT
  raw two-step  the service's protocol in hand-written SQL: hold (UPDATE held + INSERT hold, COMMIT),
           then capture (UPDATE hold + UPDATE account + INSERT entry, COMMIT)
  service  billing.services.hold_create + hold_capture (two single statements, each autocommitted,
           as a caller outside a transaction runs them; the API runs them inside its request's transaction)
Workers are processes (no GIL sharing), each with its own connection. Prints charges per second and the
ratio service/raw. Then loads --storage-rows ledger entries and prints bytes per entry with indexes.
"""

import argparse
import multiprocessing
import os
import statistics
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "botdesk_bench_money"
DATABASE_URL = f"postgres://botdesk:botdesk@127.0.0.1:5432/{DB_NAME}"
ACCOUNTS = 10_000
PRICE = Decimal("1.00")


def admin_sql(sql: str) -> None:
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-q", "-c", sql], check=True)


def prepare_database() -> None:
    admin_sql(f"DROP DATABASE IF EXISTS {DB_NAME}")
    admin_sql(f"CREATE DATABASE {DB_NAME} OWNER botdesk")
    env = {**os.environ, "DATABASE_URL": DATABASE_URL, "DJANGO_SETTINGS_MODULE": "config.settings.local"}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)


def django_setup() -> None:
    os.environ["DATABASE_URL"] = DATABASE_URL
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.local"
    # As in production: with DEBUG on, Django wraps every cursor to record each query's SQL and time.
    os.environ["DEBUG"] = "false"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def seed_accounts() -> tuple[list[int], list[int]]:
    """ACCOUNTS users with a large balance each, through one SQL statement per table."""
    from django.db import connection

    from billing.services import system_account_id

    counter = system_account_id(kind="payments", currency="RUB")
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO accounts_end_user (telegram_id, username, first_name, last_name, language_code, created_at, updated_at) "
            "SELECT 900000000 + n, '', '', '', '', now(), now() FROM generate_series(1, %s) n",
            [ACCOUNTS],
        )
        cursor.execute(
            "INSERT INTO billing_account (kind, owner_id, currency, balance, held, created_at) "
            "SELECT 'user', id, 'RUB', 1000000, 0, now() FROM accounts_end_user WHERE telegram_id > 900000000"
        )
        cursor.execute(
            "INSERT INTO billing_ledger_entry (type, account_id, counter_account_id, currency, amount, balance_after, reference, description, created_at) "
            "SELECT 1, id, %s, 'RUB', 1000000, 1000000, 'bench-seed:' || id, '', now() FROM billing_account WHERE kind = 'user'",
            [counter],
        )
        cursor.execute("SELECT owner_id, id FROM billing_account WHERE kind = 'user' ORDER BY id")
        rows = cursor.fetchall()
    return [owner for owner, _ in rows], [account for _, account in rows]


def raw_worker(args) -> int:
    account_ids, deadline, worker_index = args
    import psycopg

    revenue_id = int(os.environ["BENCH_REVENUE_ID"])
    done = 0
    with psycopg.connect(f"host=127.0.0.1 dbname={DB_NAME} user=botdesk password=botdesk") as conn:
        while time.time() < deadline:
            account_id = account_ids[(worker_index + done * 16) % len(account_ids)]
            with conn.transaction(), conn.cursor() as cursor:
                cursor.execute(
                    "UPDATE billing_account SET balance = balance - %s WHERE id = %s AND balance - held >= %s RETURNING balance",
                    [PRICE, account_id, PRICE],
                )
                (balance,) = cursor.fetchone()
                cursor.execute(
                    "INSERT INTO billing_ledger_entry (type, account_id, counter_account_id, currency, amount, balance_after, reference, description, created_at) "
                    "VALUES (2, %s, %s, 'RUB', %s, %s, '', '', now())",
                    [account_id, revenue_id, -PRICE, balance],
                )
            done += 1
    return done


def raw_two_step_worker(args) -> int:
    """The same protocol as the service (hold, then capture, two transactions) in hand-written SQL."""
    account_ids, deadline, worker_index = args
    import psycopg

    revenue_id = int(os.environ["BENCH_REVENUE_ID"])
    done = 0
    with psycopg.connect(f"host=127.0.0.1 dbname={DB_NAME} user=botdesk password=botdesk") as conn:
        while time.time() < deadline:
            account_id = account_ids[(worker_index + done * 16) % len(account_ids)]
            with conn.transaction(), conn.cursor() as cursor:
                cursor.execute(
                    "UPDATE billing_account SET held = held + %s WHERE id = %s AND balance - held >= %s",
                    [PRICE, account_id, PRICE],
                )
                cursor.execute(
                    "INSERT INTO billing_hold (account_id, amount, status, reference, created_at, expires_at) "
                    "VALUES (%s, %s, 'open', %s, now(), now() + interval '1 hour') RETURNING id",
                    [account_id, PRICE, f"raw:{os.getpid()}:{done}"],
                )
                (hold_id,) = cursor.fetchone()
            with conn.transaction(), conn.cursor() as cursor:
                cursor.execute(
                    "UPDATE billing_hold SET status = 'captured', captured_amount = amount, resolved_at = now() "
                    "WHERE id = %s AND status = 'open'",
                    [hold_id],
                )
                cursor.execute(
                    "UPDATE billing_account SET balance = balance - %s, held = held - %s WHERE id = %s RETURNING balance",
                    [PRICE, PRICE, account_id],
                )
                (balance,) = cursor.fetchone()
                cursor.execute(
                    "INSERT INTO billing_ledger_entry (type, account_id, counter_account_id, currency, amount, balance_after, reference, description, created_at) "
                    "VALUES (2, %s, %s, 'RUB', %s, %s, %s, '', now())",
                    [account_id, revenue_id, -PRICE, balance, f"raw:{os.getpid()}:{done}"],
                )
            done += 1
    return done


def service_worker(args) -> int:
    owner_ids, deadline, worker_index = args
    django_setup()
    from accounts.models import EndUser
    from billing import services

    users: dict[int, EndUser] = {}  # built lazily: 10,000 model instances per process would eat the phase
    done = 0
    while time.time() < deadline:
        owner_id = owner_ids[(worker_index + done * 16) % len(owner_ids)]
        user = users.get(owner_id) or users.setdefault(owner_id, EndUser(pk=owner_id, telegram_id=1))
        hold = services.hold_create(
            user=user, amount=PRICE, currency="RUB", reference=f"bench:{os.getpid()}:{done}"
        )
        services.hold_capture(hold_id=hold.pk)
        done += 1
    return done


def run_phase(worker, targets: list[int], workers: int, seconds: float) -> float:
    deadline = time.time() + seconds
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        counts = pool.map(worker, [(targets, deadline, index) for index in range(workers)])
    return sum(counts) / seconds


def storage(rows: int) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id) FROM billing_account WHERE kind = 'user'")
        (account_id,) = cursor.fetchone()
        cursor.execute("SELECT id FROM billing_account WHERE kind = 'revenue'")
        (revenue_id,) = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM billing_ledger_entry")
        (before,) = cursor.fetchone()
        cursor.execute(
            "INSERT INTO billing_ledger_entry (type, account_id, counter_account_id, currency, amount, balance_after, reference, description, created_at) "
            "SELECT 2, %s + (n %% %s), %s, 'RUB', -1.00, 999.00, 'generation:' || n, '', now() FROM generate_series(1, %s) n",
            [account_id, ACCOUNTS, revenue_id, rows],
        )
        cursor.execute(
            "SELECT count(*), pg_relation_size('billing_ledger_entry'), pg_indexes_size('billing_ledger_entry'), pg_total_relation_size('billing_ledger_entry') FROM billing_ledger_entry"
        )
        count, heap, indexes, total = cursor.fetchone()
    print(
        f"storage: {count:,} entries ({before:,} before the load): heap {heap / count:.0f} B, "
        f"indexes {indexes / count:.0f} B, total {total / count:.0f} B per entry ({total / 2**20:.0f} MiB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--storage-rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    options = parser.parse_args()

    prepare_database()
    django_setup()
    from django.db import connections

    from billing.services import system_account_id

    owners, account_ids = seed_accounts()
    os.environ["BENCH_REVENUE_ID"] = str(system_account_id(kind="revenue", currency="RUB"))
    connections.close_all()

    print(
        f"{options.workers} worker processes, {options.seconds:.0f} s per phase, {options.repeats} rounds, median shown"
    )
    for label, raw_targets, service_targets in (
        ("hot account", account_ids[:1], owners[:1]),
        (f"{ACCOUNTS:,} accounts", account_ids, owners),
    ):
        rates: dict[str, list[float]] = {"raw": [], "raw two-step": [], "service": []}
        for _ in range(options.repeats):
            rates["raw"].append(run_phase(raw_worker, raw_targets, options.workers, options.seconds))
            rates["raw two-step"].append(
                run_phase(raw_two_step_worker, raw_targets, options.workers, options.seconds)
            )
            rates["service"].append(
                run_phase(service_worker, service_targets, options.workers, options.seconds)
            )
        raw, two_step, service = (
            statistics.median(rates[name]) for name in ("raw", "raw two-step", "service")
        )
        print(
            f"{label:>16}: raw {raw:6.0f}/s   raw two-step {two_step:6.0f}/s   service {service:6.0f}/s   "
            f"service/raw {service / raw:.2f}   service/raw two-step {service / two_step:.2f}"
        )

    connections.close_all()
    from django.core.management import call_command

    call_command("ledger_check")  # after every charge of the run, before the synthetic storage load
    storage(options.storage_rows)


if __name__ == "__main__":
    main()
