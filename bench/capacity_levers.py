"""The levers that shrink the capacity database, each measured on the loaded botdesk_capacity.

Called by `bench/capacity.py --levers`. Nothing in the real tables changes: schema changes belong to
their apps and are reported, not made. Each lever is measured one of three ways:
- an index that could go: its size as loaded (read from the catalog);
- an index that could change (BRIN instead of btree, partial instead of full): the new index is built
  on the real table, measured, and dropped;
- a row layout (column types, cleared columns, retention): the table is copied twice with
  CREATE TABLE AS, once as it is and once with the lever applied, and the two copies are compared, so
  the saving never includes the packing difference between a loaded table and a fresh copy.

The levers do not overlap (each byte is counted in one lever only: the prompt trigram index is dropped
before prompt retention is measured on the heap, holds lose their account index before the share kept
by hold retention is applied), so their sum is the saving of all of them together.
"""

import time
from dataclasses import dataclass

import psycopg

MB = 1024 * 1024
GB = 1024 * MB

# Operator settings assumed by the retention levers.
PROMPT_RETENTION_DAYS = 90  # as written in GENERATION_RETAINED
SHORTER_PROMPT_RETENTION_DAYS = 30
HOLD_RETENTION_DAYS = 30


@dataclass
class Lever:
    group: str
    name: str
    now: int
    then: int
    note: str = ""

    @property
    def saved(self) -> int:
        return self.now - self.then


def _one(cursor: psycopg.Cursor, sql: str, params: list | None = None):
    cursor.execute(sql, params or [])
    return cursor.fetchone()[0]


def relation_size(cursor: psycopg.Cursor, relation: str) -> int:
    """Heap (with toast) of a table, or the size of an index."""
    return _one(cursor, "SELECT pg_table_size(%s::regclass)", [relation])


def index_size(cursor: psycopg.Cursor, name: str) -> int:
    """The index's size; 0 once a migration has dropped it (the lever is applied)."""
    return _one(cursor, "SELECT COALESCE(pg_relation_size(to_regclass(%s)), 0)", [name])


def index_method(cursor: psycopg.Cursor, name: str) -> str | None:
    cursor.execute(
        "SELECT a.amname FROM pg_class c JOIN pg_am a ON a.oid = c.relam WHERE c.oid = to_regclass(%s)",
        [name],
    )
    row = cursor.fetchone()
    return row[0] if row else None


def timed(cursor: psycopg.Cursor, *statements: str) -> float:
    began = time.monotonic()
    for statement in statements:
        cursor.execute(statement)
    return time.monotonic() - began


# --- Indexes that could go ------------------------------------------------------------------------

DROPPABLE = [
    (
        "generations",
        "generation_prompt_trgm",
        "drop the prompt trigram index (operators find jobs by user, task id, date)",
    ),
    (
        "generations",
        "generation_user_created_idx",
        "drop (user_id, created_at): admission windows as a bounded newest-first scan of (user_id, id DESC)",
    ),
    (
        "generations",
        "generations_generation_model_id_fdc80568",
        "drop the model_id FK index (models are never deleted; model filters are date-bounded)",
    ),
    (
        "ledger",
        "billing_ledger_entry_account_id_7a3ce12d",
        "drop the account_id FK index (its prefix of (account_id, id DESC))",
    ),
    (
        "ledger",
        "billing_ledger_entry_counter_account_id_ff22ef1e",
        "drop the counter_account_id FK index (system accounts are never deleted)",
    ),
    (
        "payments",
        "billing_payment_user_id_a21ad6ba",
        "drop the user_id FK index (its prefix of (user_id, id DESC))",
    ),
    (
        "holds",
        "billing_hold_account_id_56c002f9",
        "drop the account_id FK index (open holds have their partial index)",
    ),
]

# btree on created_at -> BRIN: rows arrive in time order and the tables are append-only.
BRIN = [
    ("ledger", "billing_ledger_entry", "ledger_entry_created_idx"),
    ("generations", "generations_generation", "generation_created_idx"),
    ("payments", "billing_payment", "payment_created_idx"),
    ("provider logs", "generations_provider_log", "provider_log_created_idx"),
    ("debug logs", "ops_debug_log", "debug_log_created_at_idx"),
]


def index_levers(cursor: psycopg.Cursor) -> list[Lever]:
    """The index levers not applied yet: a dropped index or one already BRIN or partial is skipped."""
    levers = [
        Lever(group, note, index_size(cursor, name), 0, name)
        for group, name, note in DROPPABLE
        if index_method(cursor, name) is not None
    ]
    for group, table, name in BRIN:
        if index_method(cursor, name) != "btree":
            continue
        cursor.execute(f"CREATE INDEX lever_brin ON {table} USING brin (created_at)")
        brin = index_size(cursor, "lever_brin")
        cursor.execute("DROP INDEX lever_brin")
        levers.append(Lever(group, f"created_at btree -> BRIN ({name})", index_size(cursor, name), brin))
    # The operator column is set on manual adjustments only: a partial index keeps what FKs need.
    if index_method(cursor, "billing_ledger_entry_operator_id_44978955") is None:
        return levers
    cursor.execute(
        "CREATE INDEX lever_partial ON billing_ledger_entry (operator_id) WHERE operator_id IS NOT NULL"
    )
    partial = index_size(cursor, "lever_partial")
    cursor.execute("DROP INDEX lever_partial")
    levers.append(
        Lever(
            "ledger",
            "operator_id index partial (WHERE operator_id IS NOT NULL)",
            index_size(cursor, "billing_ledger_entry_operator_id_44978955"),
            partial,
        )
    )
    return levers


# --- Row layouts ----------------------------------------------------------------------------------

# Ledger: amounts as bigint minor units, currency as a smallint code, columns widest first (no
# alignment padding), no description on charges (the reference "generation:<id>" names the job).
LEDGER_AS_IS = "CREATE TABLE lever_a AS SELECT * FROM billing_ledger_entry"
LEDGER_LEAN = """
CREATE TABLE lever_b AS
SELECT id, account_id, counter_account_id, (amount * 100)::bigint AS amount_minor,
       (balance_after * 100)::bigint AS balance_after_minor, created_at, operator_id,
       type, 1::smallint AS currency_code, reference,
       CASE WHEN type = 2 THEN '' ELSE description END AS description
FROM billing_ledger_entry
"""

# Generations: status, currency and model as small codes, cost as integer minor units, widest first.
GENERATION_AS_IS = "CREATE TABLE lever_a AS SELECT * FROM generations_generation"
GENERATION_TYPES = """
CREATE TABLE lever_b AS
SELECT id, user_id, hold_id, created_at, started_at, completed_at, (cost * 100)::int AS cost_minor,
       duration_ms, model_id::smallint AS model_id, 1::smallint AS status_code, 1::smallint AS currency_code, is_free,
       prompt, result_url, parameters, task_id, error_code, error_message
FROM generations_generation
"""
# Prompts and result URLs cleared after PROMPT_RETENTION_DAYS (an operator setting); the job, its
# money and its timings stay.
GENERATION_RETAINED = """
CREATE TABLE lever_b AS
SELECT id, user_id, model_id, status,
       CASE WHEN created_at < now() - interval '90 days' THEN '' ELSE prompt END AS prompt,
       parameters, cost, currency, is_free, hold_id, task_id,
       CASE WHEN created_at < now() - interval '90 days' THEN '' ELSE result_url END AS result_url,
       error_code, error_message, duration_ms, created_at, started_at, completed_at
FROM generations_generation
"""

# Payments: the provider's id as uuid, and the confirmation URL only while the payment is pending.
PAYMENT_AS_IS = "CREATE TABLE lever_a AS SELECT * FROM billing_payment"
PAYMENT_LEAN = """
CREATE TABLE lever_b AS
SELECT id, user_id, provider, provider_payment_id::uuid AS provider_payment_id, status, amount, currency,
       CASE WHEN status = 'pending' THEN confirmation_url ELSE '' END AS confirmation_url,
       details, created_at, resolved_at
FROM billing_payment
"""
PAYMENT_INDEX = "CREATE UNIQUE INDEX lever_{copy}_pid ON lever_{copy} (provider, provider_payment_id)"


def compare(
    cursor: psycopg.Cursor, as_is: str, lean: str, *, indexes: tuple[str, ...] = ()
) -> tuple[int, int, float]:
    """Sizes of the as-is copy and the lean copy (heap, plus the listed indexes built on each)."""
    cursor.execute("DROP TABLE IF EXISTS lever_a, lever_b")
    seconds = timed(cursor, as_is, lean)
    sizes = []
    for copy in ("lever_a", "lever_b"):
        size = relation_size(cursor, copy)
        for index in indexes:
            cursor.execute(index.format(copy=copy.removeprefix("lever_")))
        size += _one(cursor, "SELECT pg_indexes_size(%s::regclass)", [copy])
        sizes.append(size)
    cursor.execute("DROP TABLE lever_a, lever_b")
    return sizes[0], sizes[1], seconds


def layout_levers(cursor: psycopg.Cursor) -> list[Lever]:
    levers = []
    now, then, seconds = compare(cursor, LEDGER_AS_IS, LEDGER_LEAN)
    levers.append(
        Lever(
            "ledger",
            "heap: bigint minor units, smallint currency, widest first, no description on charges",
            now,
            then,
            f"copies {seconds:.0f} s",
        )
    )
    now, then, seconds = compare(cursor, GENERATION_AS_IS, GENERATION_TYPES)
    levers.append(
        Lever(
            "generations",
            "heap: smallint status/currency/model, integer cost, widest first",
            now,
            then,
            f"copies {seconds:.0f} s",
        )
    )
    now, then, _ = compare(cursor, PAYMENT_AS_IS, PAYMENT_LEAN, indexes=(PAYMENT_INDEX,))
    levers.append(
        Lever(
            "payments",
            "heap + provider id index: provider id as uuid, confirmation URL cleared once resolved",
            now,
            then,
        )
    )
    return levers


# --- Retention (operator settings) and rows per operation -----------------------------------------


def retention_levers(cursor: psycopg.Cursor) -> list[Lever]:
    levers = []
    now, then, _ = compare(cursor, GENERATION_AS_IS, GENERATION_RETAINED)
    old = _one(
        cursor,
        "SELECT AVG((created_at < now() - %s * interval '1 day')::int) FROM generations_generation",
        [PROMPT_RETENTION_DAYS],
    )
    # A shorter setting, not counted in the total: the bytes of the values it would clear as well.
    shorter = _one(
        cursor,
        "SELECT COALESCE(SUM(pg_column_size(prompt) + pg_column_size(result_url) - 2), 0) "
        "FROM generations_generation WHERE created_at >= now() - %s * interval '1 day' "
        "AND created_at < now() - %s * interval '1 day'",
        [PROMPT_RETENTION_DAYS, SHORTER_PROMPT_RETENTION_DAYS],
    )
    levers.append(
        Lever(
            "generations",
            f"heap: prompts and result URLs kept {PROMPT_RETENTION_DAYS} days (PROMPT_RETENTION_DAYS)",
            now,
            then,
            f"{100 * old:.0f} % of jobs are older; {SHORTER_PROMPT_RETENTION_DAYS} days would clear "
            f"{shorter / MB:.0f} MB more",
        )
    )
    # A paid generation writes three rows: the job, the hold and the charge. Once the hold is captured
    # or released, the charge (in the ledger) and the job (its cost and status) carry every fact the
    # hold had; keeping resolved holds HOLD_RETENTION_DAYS for support is enough.
    kept = _one(
        cursor,
        "SELECT AVG((status = 'open' OR created_at >= now() - %s * interval '1 day')::int) FROM billing_hold",
        [HOLD_RETENTION_DAYS],
    )
    total = _one(cursor, "SELECT pg_total_relation_size('billing_hold')")
    fk_index = index_size(cursor, "billing_hold_account_id_56c002f9")  # counted by its own lever
    levers.append(
        Lever(
            "holds",
            f"rows per operation: resolved holds deleted after {HOLD_RETENTION_DAYS} days",
            total - fk_index,
            int((total - fk_index) * kept),
            f"{100 * kept:.1f} % of holds kept",
        )
    )
    return levers


def levers_measure(connection: psycopg.Connection) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")
        cursor.execute("SET maintenance_work_mem = '256MB'")
        cursor.execute("DROP TABLE IF EXISTS lever_a, lever_b")
        cursor.execute("DROP INDEX IF EXISTS lever_brin, lever_partial")
        database = _one(cursor, "SELECT pg_database_size(current_database())")
        began = time.monotonic()
        levers = [*index_levers(cursor), *layout_levers(cursor), *retention_levers(cursor)]
        seconds = time.monotonic() - began
    print(f"\nlevers, measured on the loaded tables and their copies ({seconds:.0f} s)\n")
    print(f"{'table':12} {'lever':92} {'now MB':>8} {'then MB':>8} {'saved MB':>9}  note")
    by_group: dict[str, int] = {}
    for lever in sorted(levers, key=lambda lever: (lever.group, -lever.saved)):
        by_group[lever.group] = by_group.get(lever.group, 0) + lever.saved
        print(
            f"{lever.group:12} {lever.name:92} {lever.now / MB:>8.1f} {lever.then / MB:>8.1f} "
            f"{lever.saved / MB:>9.1f}  {lever.note}"
        )
    saved = sum(lever.saved for lever in levers)
    print(f"\n{'table':12} {'saved MB':>9}")
    for group, group_saved in sorted(by_group.items(), key=lambda item: -item[1]):
        print(f"{group:12} {group_saved / MB:>9.1f}")
    after = database - saved
    print(
        f"\nall levers together: {database / MB:.0f} MB -> {after / MB:.0f} MB "
        f"(saved {saved / MB:.0f} MB, {100 * saved / database:.0f} %); "
        f"1 GB would hold {GB / after:.2f} x what is loaded"
    )
