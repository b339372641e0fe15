"""The levers that shrink the capacity database, each measured on the loaded botdesk_capacity.

Called by `bench/capacity.py --levers`. Each lever builds a variant of a table as a copy (lever_*
tables, dropped afterwards) or reads the size of an index it would remove, and prints the bytes saved.
Nothing in the real tables changes: schema changes belong to their apps and are reported, not made.
"""

import time

import psycopg

MB = 1024 * 1024


def size(cursor: psycopg.Cursor, relation: str) -> int:
    cursor.execute("SELECT pg_total_relation_size(%s::regclass)", [relation])
    return cursor.fetchone()[0]


def index_sizes(cursor: psycopg.Cursor, names: list[str]) -> dict[str, int]:
    cursor.execute(
        "SELECT relname, pg_relation_size(oid) FROM pg_class WHERE relkind = 'i' AND relname = ANY(%s)",
        [names],
    )
    return dict(cursor.fetchall())


def run(cursor: psycopg.Cursor, *statements: str) -> float:
    began = time.monotonic()
    for statement in statements:
        cursor.execute(statement)
    return time.monotonic() - began


def report(name: str, before: int, after: int, note: str = "") -> None:
    saved = before - after
    print(f"{name:64} {before / MB:>8.1f} {after / MB:>8.1f} {saved / MB:>8.1f}  {note}")


DROP_COPIES = """
DROP TABLE IF EXISTS lever_ledger_cents, lever_ledger_lean, lever_generation_retained, lever_payment_lean,
                     lever_brin_probe, lever_generation_lean
"""

# Ledger: amounts as bigint minor units, currency as a smallint code, columns ordered widest first
# (no alignment padding), and no description on charges (the reference "generation:<id>" names the job).
LEDGER_CENTS = """
CREATE TABLE lever_ledger_cents AS
SELECT id, account_id, counter_account_id, (amount * 100)::bigint AS amount_minor,
       (balance_after * 100)::bigint AS balance_after_minor, operator_id, created_at,
       type, currency, reference, description
FROM billing_ledger_entry
"""
LEDGER_LEAN = """
CREATE TABLE lever_ledger_lean AS
SELECT id, account_id, counter_account_id, (amount * 100)::bigint AS amount_minor,
       (balance_after * 100)::bigint AS balance_after_minor, operator_id, created_at,
       type, 1::smallint AS currency_code, reference,
       CASE WHEN type = 2 THEN '' ELSE description END AS description
FROM billing_ledger_entry
"""
LEDGER_AS_IS = """
CREATE TABLE lever_brin_probe AS SELECT * FROM billing_ledger_entry
"""

# Generations: blank the prompt and result URL of jobs older than 90 days (an operator setting,
# e.g. PROMPT_RETENTION_DAYS=90), with the trigram index rebuilt on the rest.
GENERATION_RETAINED = """
CREATE TABLE lever_generation_retained AS
SELECT id, user_id, model_id, status,
       CASE WHEN created_at < now() - interval '90 days' THEN '' ELSE prompt END AS prompt,
       parameters, cost, currency, is_free, hold_id, task_id,
       CASE WHEN created_at < now() - interval '90 days' THEN '' ELSE result_url END AS result_url,
       error_code, error_message, duration_ms, created_at, started_at, completed_at
FROM generations_generation
"""
GENERATION_RETAINED_TRGM = "CREATE INDEX lever_generation_retained_trgm ON lever_generation_retained USING gin (UPPER(prompt) gin_trgm_ops)"
GENERATION_COPY = "CREATE TABLE lever_generation_lean AS SELECT * FROM generations_generation"
GENERATION_COPY_TRGM = (
    "CREATE INDEX lever_generation_lean_trgm ON lever_generation_lean USING gin (UPPER(prompt) gin_trgm_ops)"
)

PAYMENT_LEAN = """
CREATE TABLE lever_payment_lean AS
SELECT id, user_id, provider, provider_payment_id, status, amount, currency,
       CASE WHEN status = 'pending' THEN confirmation_url ELSE '' END AS confirmation_url,
       details, created_at, resolved_at
FROM billing_payment
"""

BRIN_INDEXES = {
    "ledger_entry_created_idx": "CREATE INDEX lever_brin_ledger ON billing_ledger_entry USING brin (created_at)",
    "generation_created_idx": "CREATE INDEX lever_brin_generation ON generations_generation USING brin (created_at)",
    "provider_log_created_idx": "CREATE INDEX lever_brin_provider_log ON generations_provider_log USING brin (created_at)",
    "debug_log_created_at_idx": "CREATE INDEX lever_brin_debug_log ON ops_debug_log USING brin (created_at)",
}
BRIN_DROP = "DROP INDEX IF EXISTS lever_brin_ledger, lever_brin_generation, lever_brin_provider_log, lever_brin_debug_log"


def levers_measure(connection: psycopg.Connection) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")
        cursor.execute("SET maintenance_work_mem = '512MB'")
        cursor.execute(DROP_COPIES)
        print(f"\n{'lever (measured on botdesk_capacity)':64} {'now MB':>8} {'then MB':>8} {'saved':>8}")

        # 1. Indexes that could go or shrink.
        indexes = index_sizes(
            cursor,
            [
                "generation_prompt_trgm",
                "generation_user_created_idx",
                "generation_user_id_idx",
                *BRIN_INDEXES,
            ],
        )
        report(
            "generations: drop the prompt trigram index (search by user/task id)",
            indexes["generation_prompt_trgm"],
            0,
        )
        report(
            "generations: drop (user, created_at); windows use (user, -id)",
            indexes["generation_user_created_idx"],
            0,
            "ids grow with time: a window is an id range",
        )
        for statement in BRIN_INDEXES.values():
            run(cursor, statement)
        brin = index_sizes(
            cursor,
            ["lever_brin_ledger", "lever_brin_generation", "lever_brin_provider_log", "lever_brin_debug_log"],
        )
        run(cursor, BRIN_DROP)
        for (name, _), brin_name in zip(
            BRIN_INDEXES.items(),
            ["lever_brin_ledger", "lever_brin_generation", "lever_brin_provider_log", "lever_brin_debug_log"],
            strict=True,
        ):
            report(f"{name}: btree -> BRIN (append-only, time-ordered)", indexes[name], brin[brin_name])

        # 2. Column types and contents of the ledger (heap only; its indexes do not change).
        cursor.execute("SELECT pg_relation_size('billing_ledger_entry')")
        before = cursor.fetchone()[0]
        seconds = run(cursor, LEDGER_AS_IS)
        as_is = size(cursor, "lever_brin_probe")
        run(cursor, LEDGER_CENTS)
        cents = size(cursor, "lever_ledger_cents")
        run(cursor, LEDGER_LEAN)
        lean = size(cursor, "lever_ledger_lean")
        report(
            "ledger heap: as loaded, copied (baseline of the copies)", before, as_is, f"copy {seconds:.0f} s"
        )
        report("ledger heap: bigint minor units, widest columns first", as_is, cents)
        report("ledger heap: + smallint currency, no description on charges", as_is, lean)

        # 3. Retention of old prompts and result URLs as an operator setting (90 days).
        run(cursor, GENERATION_COPY, GENERATION_COPY_TRGM)
        copy = size(cursor, "lever_generation_lean")
        run(cursor, GENERATION_RETAINED, GENERATION_RETAINED_TRGM)
        retained = size(cursor, "lever_generation_retained")
        report("generations heap + trigram: prompts/URLs kept 90 days only", copy, retained)

        # 4. Payments: the confirmation URL matters only while the payment is pending.
        cursor.execute("SELECT pg_relation_size('billing_payment')")
        payment_heap = cursor.fetchone()[0]
        run(cursor, PAYMENT_LEAN)
        report(
            "payments heap: clear confirmation_url once resolved",
            payment_heap,
            size(cursor, "lever_payment_lean"),
        )

        # 5. Rows per operation: a paid generation writes a job, a hold and a charge.
        report(
            "holds: delete resolved holds after 30 days (keep the charge)",
            size(cursor, "billing_hold"),
            _holds_recent_bytes(cursor, days=30),
            "scaled by the share of holds under 30 days",
        )
        cursor.execute(DROP_COPIES)


def _holds_recent_bytes(cursor: psycopg.Cursor, *, days: int) -> int:
    cursor.execute(
        "SELECT pg_total_relation_size('billing_hold') * "
        "(SELECT COUNT(*) FILTER (WHERE created_at >= now() - %s * interval '1 day')::float / GREATEST(COUNT(*), 1) "
        "FROM billing_hold)",
        [days],
    )
    return int(cursor.fetchone()[0])
