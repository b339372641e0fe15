"""ledger_check: every money invariant of design.md section 4, verified by SQL over the whole database.

Each check is one aggregate query that returns offending rows (at most a sample) so that it stays
cheap on millions of entries: sequential scans with hash aggregates, no per-row round trips.
"""

from dataclasses import dataclass, field

from django.db import connection

SAMPLE = 5


@dataclass
class CheckResult:
    invariant: str
    ok: bool
    detail: str = ""
    samples: list[tuple] = field(default_factory=list)


def _rows(sql: str, params: list | None = None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.fetchall()


def _check(invariant: str, sql: str, params: list | None = None, *, describe: str) -> CheckResult:
    rows = _rows(sql, params)
    return CheckResult(invariant, not rows, f"{len(rows)} {describe}" if rows else "", rows[:SAMPLE])


def ledger_invariants_check(*, hold_grace_seconds: int = 120) -> list[CheckResult]:
    """One result per invariant; the `ledger_check` command prints them and exits 1 on a failure."""
    results = [
        _check(
            "1a. user balance = sum of its ledger entries",
            """
            SELECT a.id, a.balance, COALESCE(e.total, 0) AS ledger
            FROM billing_account a
            LEFT JOIN (SELECT account_id, SUM(amount) AS total FROM billing_ledger_entry GROUP BY account_id) e
                   ON e.account_id = a.id
            WHERE a.kind = 'user' AND a.balance <> COALESCE(e.total, 0)
            """,
            describe="accounts whose stored balance differs from their ledger",
        ),
        _check(
            "1b. user held = sum of its open holds",
            """
            SELECT a.id, a.held, COALESCE(h.total, 0) AS open_holds
            FROM billing_account a
            LEFT JOIN (SELECT account_id, SUM(amount) AS total FROM billing_hold
                       WHERE status = 'open' GROUP BY account_id) h ON h.account_id = a.id
            WHERE a.kind = 'user' AND a.held <> COALESCE(h.total, 0)
            """,
            describe="accounts whose held differs from their open holds",
        ),
        _check(
            "2a. every entry moves money between two accounts of its own currency",
            """
            SELECT e.id, e.currency, a.currency, c.currency
            FROM billing_ledger_entry e
            JOIN billing_account a ON a.id = e.account_id
            JOIN billing_account c ON c.id = e.counter_account_id
            WHERE a.currency <> e.currency OR c.currency <> e.currency OR a.kind <> 'user' OR c.kind = 'user'
            LIMIT 100
            """,
            describe="entries crossing currencies or sides",
        ),
        _check(
            "2b. per currency, user balances and system balances sum to zero",
            """
            SELECT currency, SUM(user_side) AS users, SUM(system_side) AS system
            FROM (
                SELECT currency, balance AS user_side, 0 AS system_side FROM billing_account WHERE kind = 'user'
                UNION ALL
                SELECT currency, 0, -SUM(amount) FROM billing_ledger_entry GROUP BY currency
            ) sides
            GROUP BY currency
            HAVING SUM(user_side) + SUM(system_side) <> 0
            """,
            describe="currencies whose double entry does not balance",
        ),
        _check(
            "3. available balance (balance - held) never negative",
            "SELECT id, balance, held FROM billing_account WHERE kind = 'user' AND (balance - held < 0 OR held < 0)",
            describe="accounts with negative available balance",
        ),
        _check(
            "3b. the CHECK constraint on available balance is in force",
            """
            SELECT 'missing' WHERE NOT EXISTS (
                SELECT 1 FROM pg_constraint WHERE conname = 'account_available_not_negative' AND convalidated)
            """,
            describe="constraint missing",
        ),
        _check(
            "4. at most one credit per external payment and per one-time reference",
            """
            SELECT type, reference, COUNT(*) FROM billing_ledger_entry
            WHERE reference <> '' AND type IN (1, 3, 4, 5, 6, 8)
            GROUP BY type, reference HAVING COUNT(*) > 1
            """,
            describe="references credited more than once",
        ),
        _check(
            "5a. a captured hold has exactly the one charge it captured",
            # A refund's hold is captured by its refund debit (type 3), a job's by its charge (type 2).
            # Charges counted per (account, reference) first: joined row by row, the LIMIT made the
            # planner walk each hold's account in the ledger (over 10 minutes at 2M holds, 4M entries).
            """
            SELECT h.id, h.status, COALESCE(e.charges, 0)
            FROM billing_hold h
            LEFT JOIN (SELECT account_id, reference, COUNT(*) AS charges FROM billing_ledger_entry
                       WHERE type IN (2, 3) GROUP BY account_id, reference) e
                   ON e.reference = h.reference AND e.account_id = h.account_id
            WHERE h.status <> 'open'
              AND COALESCE(e.charges, 0)
                  <> CASE WHEN h.status = 'captured' AND h.captured_amount > 0 THEN 1 ELSE 0 END
            LIMIT 100
            """,
            describe="holds whose resolution and charges disagree",
        ),
        _check(
            "5b. no hold stays open past its expiry plus one scheduler period",
            "SELECT id, expires_at FROM billing_hold WHERE status = 'open' AND expires_at < now() - %s * interval '1 second'",
            [hold_grace_seconds],
            describe="holds open past expiry",
        ),
        _check(
            "7. ledger entries are append-only (trigger present and enabled)",
            """
            SELECT 'missing' WHERE NOT EXISTS (
                SELECT 1 FROM pg_trigger WHERE tgname = 'billing_ledger_entry_append_only' AND tgenabled = 'O')
            """,
            describe="trigger missing or disabled",
        ),
    ]
    results.extend(_payment_checks())
    results.extend(_refund_checks())
    return results


def _payment_checks() -> list[CheckResult]:
    """Invariant 4 on the payments, referral and promo tables."""
    return [
        _check(
            "4c. every referral reward row has exactly its one ledger credit",
            """
            SELECT r.id, COUNT(e.id)
            FROM billing_referral_reward r
            LEFT JOIN billing_ledger_entry e ON e.type = 5 AND e.reference = 'referral:' || r.payment_id
            GROUP BY r.id HAVING COUNT(e.id) <> 1
            LIMIT 100
            """,
            describe="referral rewards without exactly one credit",
        ),
        _check(
            "4d. a promo code's use count equals its redemptions",
            """
            SELECT p.id, p.used_count, COUNT(r.id)
            FROM billing_promo_code p LEFT JOIN billing_promo_redemption r ON r.promo_id = p.id
            GROUP BY p.id, p.used_count HAVING p.used_count <> COUNT(r.id)
            LIMIT 100
            """,
            describe="promo codes whose counter disagrees with their redemptions",
        ),
        _check(
            "4e. every promo redemption has exactly its one ledger credit",
            """
            SELECT r.id, COUNT(e.id)
            FROM billing_promo_redemption r
            LEFT JOIN billing_ledger_entry e ON e.type = 6 AND e.reference = 'promo:' || r.promo_id || ':' || r.user_id
            GROUP BY r.id HAVING COUNT(e.id) <> 1
            LIMIT 100
            """,
            describe="redemptions without exactly one credit",
        ),
        _check(
            "4b. every succeeded payment is credited exactly once, and nothing else is",
            """
            SELECT p.id, p.status, COUNT(e.id)
            FROM billing_payment p
            LEFT JOIN billing_ledger_entry e ON e.type = 1 AND e.reference = 'payment:' || p.id
            GROUP BY p.id, p.status
            HAVING COUNT(e.id) <> CASE WHEN p.status = 'succeeded' THEN 1 ELSE 0 END
            LIMIT 100
            """,
            describe="payments credited a wrong number of times",
        ),
    ]


def _refund_checks() -> list[CheckResult]:
    """Invariant 8: refunds of a payment within its credit; a charge refunded at most once."""
    return [
        _check(
            "8a. a payment's refunded amount is its pending and succeeded refunds, within the payment",
            """
            SELECT p.id, p.amount, p.refunded_amount, COALESCE(r.total, 0)
            FROM billing_payment p
            LEFT JOIN (SELECT payment_id, SUM(amount) AS total FROM billing_refund
                       WHERE status <> 'failed' GROUP BY payment_id) r ON r.payment_id = p.id
            WHERE p.refunded_amount <> COALESCE(r.total, 0) OR p.refunded_amount > p.amount
               OR (r.total IS NOT NULL AND p.status <> 'succeeded')
            LIMIT 100
            """,
            describe="payments whose refunds disagree with them",
        ),
        _check(
            "8b. a succeeded refund has exactly one refund debit of its amount, other refunds none",
            """
            SELECT r.id, r.status, COALESCE(e.entries, 0), COALESCE(e.total, 0)
            FROM billing_refund r
            FULL JOIN (SELECT substring(reference FROM '^refund(?:-late)?:([0-9]+)$')::bigint AS refund_id,
                              COUNT(*) AS entries, -SUM(amount) AS total
                       FROM billing_ledger_entry
                       WHERE type = 3 AND reference ~ '^refund(-late)?:[0-9]+$'
                       GROUP BY 1) e ON e.refund_id = r.id
            WHERE r.id IS NULL
               OR COALESCE(e.entries, 0) <> CASE WHEN r.status = 'succeeded' THEN 1 ELSE 0 END
               OR COALESCE(e.total, 0) <> CASE WHEN r.status = 'succeeded' THEN r.amount ELSE 0 END
            LIMIT 100
            """,
            describe="refunds whose ledger debits disagree with them",
        ),
        _check(
            "8c. the succeeded refunds of a payment never add up to more than it credited",
            """
            SELECT p.id, p.amount, SUM(r.amount)
            FROM billing_payment p JOIN billing_refund r ON r.payment_id = p.id AND r.status = 'succeeded'
            GROUP BY p.id, p.amount HAVING SUM(r.amount) > p.amount
            LIMIT 100
            """,
            describe="payments refunded beyond their credit",
        ),
        _check(
            "8d. a charge is refunded at most once, by exactly its captured amount",
            # Against its hold while the hold is kept; once retention deleted the resolved hold, against
            # the ledger's one charge of the refund's reference (only the refunded charges are counted).
            """
            SELECT c.id, e.hold_id, h.status, COALESCE(h.captured_amount, ch.total), c.amount,
                   COALESCE(e.entries, 0), e.total
            FROM billing_charge_refund c
            LEFT JOIN billing_hold h ON h.id = c.hold_id
            LEFT JOIN (SELECT reference, COUNT(*) AS charges, -SUM(amount) AS total FROM billing_ledger_entry
                       WHERE type = 2 AND reference IN (SELECT reference FROM billing_charge_refund)
                       GROUP BY reference) ch ON h.id IS NULL AND ch.reference = c.reference
            FULL JOIN (SELECT substr(reference, 15)::bigint AS hold_id, COUNT(*) AS entries, SUM(amount) AS total
                       FROM billing_ledger_entry
                       WHERE type = 3 AND reference ~ '^charge-refund:[0-9]+$'
                       GROUP BY 1) e ON e.hold_id = c.hold_id
            WHERE c.id IS NULL
               OR (h.id IS NOT NULL AND (h.status <> 'captured' OR c.amount <> h.captured_amount))
               OR (h.id IS NULL AND (ch.charges IS DISTINCT FROM 1 OR c.amount <> ch.total))
               OR COALESCE(e.entries, 0) <> 1 OR e.total <> c.amount
            LIMIT 100
            """,
            describe="charge refunds that disagree with their hold, their charge or the ledger",
        ),
    ]
