"""The levers not applied (yet) that would shrink the capacity database, measured on the loaded botdesk_capacity.

Called by `bench/capacity.py --levers`. Nothing in the real tables changes: schema changes belong to
their apps and are reported, not made. The levers issue 14 applied (indexes dropped, BRIN on the ledger,
payments and jobs, resolved holds deleted, charges without a description) are in the migrations and the
retention policies, and bench/README.md has what each saved. What is left is measured one of two ways:
- an index that could change (BRIN instead of btree): the new index is built on the real table,
  measured, and dropped;
- a row layout (column types, cleared columns): the table is copied twice with CREATE TABLE AS, once as
  it is and once with the lever applied, and the two copies are compared, so the saving never includes
  the packing difference between a loaded table and a fresh copy.

The levers do not overlap (each byte is counted in one lever only), so their sum is the saving of all of
them together.
"""

import time
from dataclasses import dataclass

import psycopg

MB = 1024 * 1024
GB = 1024 * MB

# The operator setting assumed by the prompt retention lever.
PROMPT_RETENTION_DAYS = 90  # as written in GENERATION_RETAINED
SHORTER_PROMPT_RETENTION_DAYS = 30


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
    return _one(cursor, "SELECT pg_relation_size(%s::regclass)", [name])


def timed(cursor: psycopg.Cursor, *statements: str) -> float:
    began = time.monotonic()
    for statement in statements:
        cursor.execute(statement)
    return time.monotonic() - began


# --- Indexes that could change ----------------------------------------------------------------

# btree on created_at -> BRIN. The logs keep their btree: retention's batched deletes let new rows fill
# old pages, so a block range would span weeks; the measurement says what BRIN would save regardless.
BRIN = [
    ("provider logs", "generations_provider_log", "provider_log_created_idx"),
    ("debug logs", "ops_debug_log", "debug_log_created_at_idx"),
]


def index_levers(cursor: psycopg.Cursor) -> list[Lever]:
    levers = []
    for group, table, name in BRIN:
        cursor.execute(f"CREATE INDEX lever_brin ON {table} USING brin (created_at)")
        brin = index_size(cursor, "lever_brin")
        cursor.execute("DROP INDEX lever_brin")
        levers.append(Lever(group, f"created_at btree -> BRIN ({name})", index_size(cursor, name), brin))
    return levers


# --- Row layouts ----------------------------------------------------------------------------------

# Ledger: amounts as bigint minor units, currency as a smallint code, columns widest first (no
# alignment padding). Charges store no description already (billing.references derives it).
LEDGER_AS_IS = "CREATE TABLE lever_a AS SELECT * FROM billing_ledger_entry"
LEDGER_LEAN = """
CREATE TABLE lever_b AS
SELECT id, account_id, counter_account_id, (amount * 100)::bigint AS amount_minor,
       (balance_after * 100)::bigint AS balance_after_minor, created_at, operator_id,
       type, 1::smallint AS currency_code, reference,
       description
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
            "heap: bigint minor units, smallint currency, widest first",
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
    return levers


def levers_measure(connection: psycopg.Connection) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")
        cursor.execute("SET maintenance_work_mem = '256MB'")
        cursor.execute("DROP TABLE IF EXISTS lever_a, lever_b")
        cursor.execute("DROP INDEX IF EXISTS lever_brin")
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
