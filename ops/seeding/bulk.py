"""The load data of seed_demo --users/--operations: what the services would write, at load scale.

`load_seed` writes with set-based SQL inside one transaction: `INSERT ... SELECT generate_series` on the
server (no rows cross the wire), the money computed with window functions so that every invariant of
design.md section 4 holds afterwards (`ledger_check` passes). Rows are inserted in time order, chunk by
chunk, as production appends them, so ids and `created_at` stay correlated and date-bounded index scans
behave as they will in production.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from time import monotonic

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from billing.models import Account, EntryType
from billing.services import system_account_id
from generations import services as generations_services
from generations.models import AIModel

# Credits of the "other" half of the operations: (entry type, share in percent).
OTHER_MIX = [
    (EntryType.TOPUP, 40),
    (EntryType.BONUS, 25),
    (EntryType.REFUND, 20),
    (EntryType.REFERRAL_REWARD, 15),
]
# Paid models sold, with how often (cheap images dominate, as in the first bots).
PAID_MIX = {
    "flux-2-pro": 6,
    "recraft-v3": 4,
    "gpt-4o-mini": 6,
    "suno-v4.5": 2,
    "kling-2.1-master": 1,
    "veo-3-fast": 1,
}
PROMPT_PHRASES = [
    "a portrait of an old woman in soft window light",
    "cinematic photo of neon city street at night",
    "watercolor landscape with mountains and lake at sunrise",
    "cute cat astronaut floating in space",
    "minimalist logo for coffee shop",
    "vintage poster of a train station",
    "oil painting of stormy sea",
    "isometric room with plants and books",
    "anime girl with umbrella in rain",
    "product shot of sneakers on white background",
    "fantasy castle above the clouds",
    "detailed highly realistic 4k dramatic lighting",
]
PROMPT_WORDS = [word for phrase in PROMPT_PHRASES for word in phrase.split()]
FIRST_NAMES = [
    "Alex",
    "Maria",
    "Ivan",
    "Olga",
    "Dmitry",
    "Anna",
    "Sergey",
    "Elena",
    "Pavel",
    "Irina",
    "Chen",
    "Sam",
]
LANGUAGES = ["ru", "en", "uk", "kk", "de", "es"]
CHUNKS = 20
LOG_CHUNK = 100_000
# Distinct 120-character prompts; jobs and logs draw from them (people repeat prompts, and a
# 120-character value is stored inline, uncompressed, so repeats cost the same bytes as unique ones).
PROMPT_POOL = 100_000
ENTRY_TYPES = {
    "topup": int(EntryType.TOPUP),
    "charge": int(EntryType.CHARGE),
    "refund": int(EntryType.REFUND),
    "bonus": int(EntryType.BONUS),
    "referral": int(EntryType.REFERRAL_REWARD),
}


@dataclass
class LoadReport:
    users: int = 0
    operations: int = 0
    generations: int = 0
    ledger_entries: int = 0
    payments: int = 0
    provider_logs: int = 0
    debug_logs: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    def __str__(self) -> str:
        timings = ", ".join(f"{step} {secs:.1f} s" for step, secs in self.seconds.items())
        return (
            f"loaded {self.users} users, {self.operations} operations ({self.generations} paid generations, "
            f"{self.ledger_entries} ledger entries, {self.payments} payments), {self.provider_logs} provider "
            f"logs, {self.debug_logs} debug logs; {timings}"
        )


Progress = Callable[[int, str], None]


def load_seed(
    *,
    users: int,
    operations: int,
    provider_logs: int = 0,
    debug_logs: int = 0,
    days: int = 365,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> LoadReport:
    """Loads `users` end users (account, welcome bonus) and `operations` money operations, half paid
    generations (job, captured hold, charge) and half other credits (top-ups with their payment,
    bonuses, refunds, referral rewards), spread over `days`; plus provider and debug logs within the
    log retention window. One transaction: a failed load leaves nothing behind.
    """
    if users < 1 or operations < 0:
        raise ValueError("need at least one user and a non-negative number of operations")
    now = (now or timezone.now()).astimezone(UTC)
    step = progress or (lambda rows, stage: None)
    report = LoadReport()
    loader = _Loader(users=users, operations=operations, days=days, now=now, step=step, report=report)
    with transaction.atomic():
        with connection.cursor() as cursor:
            loader.cursor = cursor
            cursor.execute("SET LOCAL work_mem = '256MB'")
            # A load is one long transaction of long statements, unlike any request.
            cursor.execute("SET LOCAL statement_timeout = 0")
            loader.run(provider_logs=provider_logs, debug_logs=debug_logs)
        committing = monotonic()
    # The foreign keys are DEFERRABLE INITIALLY DEFERRED (Django's default): they are checked here.
    report.seconds["commit"] = monotonic() - committing
    loader.usage_rollups()
    return report


class _Loader:
    def __init__(self, *, users, operations, days, now, step, report) -> None:
        self.users, self.operations, self.days, self.now = users, operations, days, now
        self.start = now - timedelta(days=days)
        self.step, self.report = step, report
        self.currency = settings.DEFAULT_CURRENCY
        self.cursor = None

    def sql(self, stage: str, statement: str, params: dict | None = None) -> int:
        began = monotonic()
        self.cursor.execute(statement, params or {})
        self.report.seconds[stage] = self.report.seconds.get(stage, 0.0) + monotonic() - began
        return self.cursor.rowcount

    def run(self, *, provider_logs: int, debug_logs: int) -> None:
        self.system = {
            kind: system_account_id(kind=kind, currency=self.currency)
            for kind in (
                Account.Kind.PAYMENTS,
                Account.Kind.REVENUE,
                Account.Kind.BONUSES,
                Account.Kind.REFERRAL_REWARDS,
            )
        }
        self.load_users()
        self.prompts = max(1, min(PROMPT_POOL, self.operations // 2 + provider_logs))
        self.stage_prompts()
        # Even without operations: the welcome bonuses are staged and inserted the same way.
        self.stage_operations()
        self.insert_operations()
        self.settle_balances()
        self.load_provider_logs(provider_logs)
        self.load_debug_logs(debug_logs)
        # Dropped now rather than at commit, so that a caller's outer transaction may load twice.
        self.sql("cleanup", "DROP TABLE IF EXISTS seed_user, seed_prompt, seed_op, seed_raw")

    # Users, their accounts and welcome bonuses.
    def load_users(self) -> None:
        self.cursor.execute("SELECT COALESCE(MAX(telegram_id), 0) FROM accounts_end_user")
        base = max(self.cursor.fetchone()[0], 7_000_000_000) + 1
        self.sql(
            "users",
            "CREATE TEMP TABLE seed_user (idx int PRIMARY KEY, user_id bigint, account_id bigint, created_at timestamptz) ON COMMIT DROP",
        )
        # Users join over the first 70 % of the window, so the last months have the most activity.
        self.report.users = self.sql(
            "users",
            """
            WITH created AS (
                INSERT INTO accounts_end_user
                    (telegram_id, username, first_name, last_name, language_code, created_at, updated_at)
                SELECT %(base)s + g, 'user' || (%(base)s + g), (%(names)s::text[])[1 + g %% 12], '',
                       (%(languages)s::text[])[1 + g %% 6], stamp, stamp
                FROM generate_series(0, %(users)s - 1) g,
                     LATERAL (SELECT %(start)s::timestamptz
                                     + (%(growth)s * g / %(users)s) * interval '1 second' AS stamp) t
                ORDER BY g
                RETURNING id, telegram_id, created_at
            )
            INSERT INTO seed_user (idx, user_id, created_at)
            SELECT (telegram_id - %(base)s)::int, id, created_at FROM created
            """,
            {
                "base": base,
                "names": FIRST_NAMES,
                "languages": LANGUAGES,
                "users": self.users,
                "start": self.start,
                "growth": self.days * 86400 * 0.7,
            },
        )
        # One user in five came through a friend's link.
        self.sql(
            "users",
            """
            UPDATE accounts_end_user u SET referrer_id = r.user_id
            FROM seed_user s JOIN seed_user r ON r.idx = s.idx - 3
            WHERE u.id = s.user_id AND s.idx %% 5 = 4
            """,
        )
        self.sql(
            "users",
            """
            WITH opened AS (
                INSERT INTO billing_account (kind, owner_id, currency, balance, held, created_at)
                SELECT 'user', user_id, %(currency)s, 0, 0, created_at FROM seed_user ORDER BY idx
                RETURNING id, owner_id
            )
            UPDATE seed_user s SET account_id = opened.id FROM opened WHERE opened.owner_id = s.user_id
            """,
            {"currency": self.currency},
        )
        self.step(self.users, "users")

    def stage_prompts(self) -> None:
        # The subquery refers to the outer row, so it runs once per prompt, not once in all.
        self.sql(
            "stage",
            """
            CREATE TEMP TABLE seed_prompt ON COMMIT DROP AS
            SELECT i, rpad(left((SELECT string_agg(w[1 + floor(random() * array_length(w, 1))::int], ' ')
                                 FROM generate_series(1, 24) s, (SELECT %(words)s::text[] AS w) words
                                 WHERE s > i * 0), 120), 120, ' detailed') AS prompt
            FROM generate_series(0, %(prompts)s - 1) i
            """,
            {"prompts": self.prompts, "words": list(PROMPT_WORDS)},
        )
        self.sql("stage", "CREATE UNIQUE INDEX ON seed_prompt (i)")

    def stage_operations(self) -> None:
        """Every operation as one row of a temporary table, with its amount, time and future ids.

        Operation g belongs to pair g/2 of user (g/2) mod N: a credit, then a paid generation, so each
        user's history alternates in time. The user's first credit is a top-up raised to cover any dip
        below zero, which keeps every prefix of the history, hence every balance_after, >= 0.
        """
        self.stage_raw_operations(self.paid_models_weighted())
        self.stage_welcome_bonuses()
        self.raise_opening_topups()
        self.stage_ids_and_balances()
        self.step(0, "staged")

    def paid_models_weighted(self) -> list[AIModel]:
        """The paid models of PAID_MIX, each repeated as often as it sells."""
        models = {
            m.code: m
            for m in AIModel.objects.filter(code__in=PAID_MIX, is_free=False, currency=self.currency)
        }
        if not models and self.operations:
            raise ValueError(f"no paid models in {self.currency} to load generations of")
        return [models[code] for code, weight in PAID_MIX.items() if code in models for _ in range(weight)]

    def stage_raw_operations(self, weighted: list[AIModel]) -> None:
        """seed_raw: each operation's user, type, model, amount and time, drawn on the server."""
        mix_bounds, total = [], 0
        for entry_type, share in OTHER_MIX:
            total += share
            mix_bounds.append((entry_type, total / 100))
        half = -(-self.operations // 2)
        pairs_per_user = max(1, -(-half // self.users))
        self.sql(
            "stage",
            """
            CREATE TEMP TABLE seed_raw ON COMMIT DROP AS
            SELECT g AS n, u.user_id, u.account_id, is_charge, opening,
                   CASE WHEN is_charge THEN %(charge)s
                        WHEN opening OR r_kind < %(topup_bound)s THEN %(topup)s
                        WHEN r_kind < %(bonus_bound)s THEN %(bonus)s
                        WHEN r_kind < %(refund_bound)s THEN %(refund)s
                        ELSE %(referral)s END::smallint AS type,
                   CASE WHEN is_charge THEN (%(model_ids)s::bigint[])[1 + r_model] END AS model_id,
                   CASE WHEN is_charge THEN -(%(prices)s::numeric[])[1 + r_model]
                        WHEN opening OR r_kind < %(topup_bound)s THEN 100 + 50 * floor(r_amount * 19)
                        WHEN r_kind < %(bonus_bound)s THEN (ARRAY[20, 50, 100])[1 + floor(r_amount * 3)::int]
                        WHEN r_kind < %(refund_bound)s THEN (%(prices)s::numeric[])[1 + r_model]
                        ELSE 10 * (1 + floor(r_amount * 10)) END::numeric(14, 2) AS amount,
                   CASE WHEN is_charge THEN 5 + floor(r_amount * 115)::int END AS duration_s,
                   u.created_at + (%(end)s::timestamptz - u.created_at)
                       * ((k + 0.1 + 0.5 * is_charge::int + 0.3 * random()) / %(pairs)s) AS created_at
            FROM (
                SELECT g, (g / 2) %% %(users)s AS idx, (g / 2) / %(users)s AS k, g %% 2 = 1 AS is_charge,
                       g / 2 < %(users)s AND g %% 2 = 0 AS opening,
                       random() AS r_kind, random() AS r_amount,
                       floor(random() * %(model_count)s)::int AS r_model
                FROM generate_series(0, %(operations)s - 1) g
            ) ops JOIN seed_user u USING (idx)
            """,
            {
                "model_ids": [m.pk for m in weighted],
                "prices": [m.price for m in weighted],
                "model_count": len(weighted),
                "topup_bound": mix_bounds[0][1],
                "bonus_bound": mix_bounds[1][1],
                "refund_bound": mix_bounds[2][1],
                "end": self.now - timedelta(hours=1),
                "pairs": pairs_per_user,
                "users": self.users,
                "operations": self.operations,
                **ENTRY_TYPES,
            },
        )

    def stage_welcome_bonuses(self) -> None:
        """One welcome bonus per loaded user, at the user's creation (negative n: before any operation)."""
        welcome = settings.WELCOME_BONUS
        if welcome > 0:
            self.sql(
                "stage",
                """
                INSERT INTO seed_raw (n, user_id, account_id, is_charge, opening, type, amount, created_at)
                SELECT -1 - idx, user_id, account_id, false, false, %(bonus)s, %(welcome)s, created_at
                FROM seed_user
                """,
                {"welcome": welcome, **ENTRY_TYPES},
            )

    def raise_opening_topups(self) -> None:
        """Raise each user's opening top-up by the deepest dip of their history below zero."""
        self.sql(
            "stage",
            """
            WITH dips AS (
                SELECT account_id, MIN(running) AS lowest FROM (
                    SELECT account_id, SUM(amount) OVER (PARTITION BY account_id ORDER BY created_at, n) AS running
                    FROM seed_raw) r
                GROUP BY account_id HAVING MIN(running) < 0
            )
            UPDATE seed_raw o SET amount = o.amount - dips.lowest
            FROM dips WHERE o.account_id = dips.account_id AND o.opening
            """,
        )

    def stage_ids_and_balances(self) -> None:
        """seed_op: seed_raw in time order with each row's balance_after and the ids it will insert."""
        self.sql(
            "stage",
            """
            CREATE TEMP TABLE seed_op ON COMMIT DROP AS
            SELECT ordered.*,
                   CASE WHEN is_charge THEN nextval(%(generation_ids)s::regclass) END AS generation_id,
                   CASE WHEN is_charge THEN nextval(%(hold_ids)s::regclass) END AS hold_id,
                   CASE WHEN type = %(topup)s AND n >= 0 THEN nextval(%(payment_ids)s::regclass) END AS payment_id
            -- Ids are drawn in time order (the subquery's order), as production would draw them.
            FROM (SELECT r.*, SUM(amount) OVER (PARTITION BY account_id ORDER BY created_at, n) AS balance_after
                  FROM seed_raw r ORDER BY created_at, n) ordered
            """,
            {**ENTRY_TYPES, **self.sequences()},
        )
        self.sql("stage", "CREATE INDEX ON seed_op (created_at)")
        self.sql("stage", "DROP TABLE seed_raw")

    def sequences(self) -> dict[str, str]:
        self.cursor.execute(
            "SELECT pg_get_serial_sequence('generations_generation', 'id'), "
            "pg_get_serial_sequence('billing_hold', 'id'), pg_get_serial_sequence('billing_payment', 'id')"
        )
        return dict(zip(("generation_ids", "hold_ids", "payment_ids"), self.cursor.fetchone(), strict=True))

    def insert_operations(self) -> None:
        """Chunk by chunk in time order: payments, generations, holds, then the ledger entries."""
        for window in self.operation_windows():
            self.report.payments += self.insert_payments(window)
            self.report.generations += self.insert_generations(window)
            self.insert_holds(window)
            entries = self.insert_ledger_entries(window)
            self.report.ledger_entries += entries
            self.report.operations += entries - self._welcome_rows(window)
            self.step(entries, "operations")

    def operation_windows(self) -> list[dict]:
        """CHUNKS consecutive time windows over seed_op, each with the parameters every insert takes."""
        self.cursor.execute("SELECT MIN(created_at), MAX(created_at) FROM seed_op")
        first, last = self.cursor.fetchone()
        if first is None:
            return []
        width = (last - first) / CHUNKS + timedelta(microseconds=1)
        params = {
            "currency": self.currency,
            "payments_account": self.system[Account.Kind.PAYMENTS],
            "revenue_account": self.system[Account.Kind.REVENUE],
            "bonuses_account": self.system[Account.Kind.BONUSES],
            "referral_account": self.system[Account.Kind.REFERRAL_REWARDS],
            "prompts": self.prompts,
            **ENTRY_TYPES,
        }
        return [
            {**params, "from": first + width * chunk, "to": first + width * (chunk + 1)}
            for chunk in range(CHUNKS)
        ]

    def insert_payments(self, window: dict) -> int:
        """The succeeded YooKassa payment behind each top-up, resolved 40 seconds after it was opened.

        Its confirmation URL is empty, as the UPDATE that resolves a payment leaves it (it only matters while
        the payment is pending)."""
        return self.sql(
            "payments",
            """
            INSERT INTO billing_payment (id, user_id, provider, provider_payment_id, status, amount, currency,
                                         confirmation_url, details, refunded_amount, created_at, resolved_at)
            SELECT payment_id, user_id, 'yookassa', uuid, 'succeeded', amount, %(currency)s,
                   '', '{}', 0,
                   created_at - interval '40 seconds', created_at
            FROM (SELECT *, md5('payment' || payment_id)::uuid::text AS uuid FROM seed_op
                  WHERE payment_id IS NOT NULL AND created_at >= %(from)s AND created_at < %(to)s) p
            ORDER BY created_at
            """,
            window,
        )

    def insert_generations(self, window: dict) -> int:
        """Each paid generation, succeeded, its prompt drawn from the staged pool."""
        return self.sql(
            "generations",
            """
            INSERT INTO generations_generation
                (id, user_id, model_id, status, prompt, parameters, cost, currency, is_free, hold_id, task_id,
                 result_url, error_code, error_message, duration_ms, created_at, started_at, completed_at)
            SELECT generation_id, user_id, model_id, 'succeeded', p.prompt, '{}', -amount, %(currency)s,
                   false, hold_id, '',
                   'https://files.botdesk-cdn.example/images/1/' || md5('result' || generation_id) || '.webp',
                   '', '', duration_s * 1000, created_at - duration_s * interval '1 second',
                   created_at - duration_s * interval '1 second' + interval '1 second', created_at
            FROM seed_op JOIN seed_prompt p ON p.i = generation_id %% %(prompts)s
            WHERE is_charge AND created_at >= %(from)s AND created_at < %(to)s
            ORDER BY created_at
            """,
            window,
        )

    def insert_holds(self, window: dict) -> int:
        """Each paid generation's hold, captured in full when the job succeeded."""
        return self.sql(
            "holds",
            """
            INSERT INTO billing_hold
                (id, account_id, amount, captured_amount, status, reference, created_at, expires_at, resolved_at)
            SELECT hold_id, account_id, -amount, -amount, 'captured', 'generation:' || generation_id,
                   created_at - duration_s * interval '1 second',
                   created_at - duration_s * interval '1 second' + interval '17 minutes', created_at
            FROM seed_op WHERE is_charge AND created_at >= %(from)s AND created_at < %(to)s
            ORDER BY created_at
            """,
            window,
        )

    def insert_ledger_entries(self, window: dict) -> int:
        """One entry per operation against its system account, with its reference and description.

        A charge stores no description, as hold_capture writes it: its text is derived from its job."""
        return self.sql(
            "ledger",
            """
            INSERT INTO billing_ledger_entry
                (type, account_id, counter_account_id, currency, amount, balance_after, reference, description,
                 created_at)
            SELECT o.type, o.account_id,
                   CASE o.type WHEN %(topup)s THEN %(payments_account)s
                               WHEN %(bonus)s THEN %(bonuses_account)s
                               WHEN %(referral)s THEN %(referral_account)s
                               ELSE %(revenue_account)s END,
                   %(currency)s, o.amount, o.balance_after,
                   CASE WHEN o.is_charge THEN 'generation:' || o.generation_id
                        WHEN o.type = %(topup)s THEN 'payment:' || o.payment_id
                        WHEN o.n < 0 THEN 'welcome:' || o.user_id
                        WHEN o.type = %(bonus)s THEN 'bonus:load-' || o.account_id || '-' || o.n
                        WHEN o.type = %(referral)s THEN 'referral:load-' || o.account_id || '-' || o.n
                        ELSE 'refund:load-' || o.account_id || '-' || o.n END,
                   CASE WHEN o.is_charge THEN ''
                        WHEN o.type = %(topup)s THEN 'Top-up via YooKassa'
                        WHEN o.n < 0 THEN 'Welcome bonus'
                        WHEN o.type = %(bonus)s THEN 'Bonus'
                        WHEN o.type = %(referral)s THEN 'Referral reward'
                        ELSE 'Refund of a failed generation' END,
                   o.created_at
            FROM seed_op o
            WHERE o.created_at >= %(from)s AND o.created_at < %(to)s
            ORDER BY o.created_at, o.n
            """,
            window,
        )

    def _welcome_rows(self, window: dict) -> int:
        self.cursor.execute(
            "SELECT COUNT(*) FROM seed_op WHERE n < 0 AND created_at >= %(from)s AND created_at < %(to)s",
            window,
        )
        return self.cursor.fetchone()[0]

    def settle_balances(self) -> None:
        """Stored balances from the ledger itself (invariant 1); holds are all captured, so held stays 0."""
        self.sql(
            "balances",
            """
            UPDATE billing_account a SET balance = e.total
            FROM (SELECT account_id, SUM(amount) AS total FROM billing_ledger_entry
                  WHERE account_id IN (SELECT account_id FROM seed_user) GROUP BY account_id) e
            WHERE a.id = e.account_id
            """,
        )

    def load_provider_logs(self, count: int) -> None:
        """Within the retention window (older ones would be deleted by the nightly cleanup)."""
        retention = settings.LOG_RETENTION_DAYS * 86400
        for offset in range(0, count, LOG_CHUNK):
            rows = self.sql(
                "provider logs",
                """
                INSERT INTO generations_provider_log
                    (user_id, model_code, prompt, result_url, error_message, duration_ms, created_at)
                SELECT u.user_id, (%(codes)s::text[])[1 + g %% %(code_count)s], p.prompt,
                       CASE WHEN failed THEN '' ELSE 'https://files.botdesk-cdn.example/images/1/' || md5('log' || g) || '.webp' END,
                       CASE WHEN failed THEN 'Provider returned 502: upstream timed out' ELSE '' END,
                       1000 + (g::bigint * 7919) %% 90000,
                       %(now)s::timestamptz - %(retention)s * (1 - g::float / %(count)s) * interval '1 second'
                FROM (SELECT g, floor(random() * %(users)s)::int AS idx, random() < 0.05 AS failed
                      FROM generate_series(%(first)s, %(last)s) g) x
                JOIN seed_user u USING (idx) JOIN seed_prompt p ON p.i = g %% %(prompts)s
                ORDER BY g
                """,
                {
                    "codes": list(PAID_MIX),
                    "code_count": len(PAID_MIX),
                    "now": self.now,
                    "retention": retention,
                    "count": count,
                    "users": self.users,
                    "first": offset,
                    "last": min(offset + LOG_CHUNK, count) - 1,
                    "prompts": self.prompts,
                },
            )
            self.report.provider_logs += rows
            self.step(rows, "provider logs")

    def load_debug_logs(self, count: int) -> None:
        retention = settings.LOG_RETENTION_DAYS * 86400
        for offset in range(0, count, LOG_CHUNK):
            rows = self.sql(
                "debug logs",
                """
                INSERT INTO ops_debug_log (created_at, level, source, message, context)
                SELECT %(now)s::timestamptz - %(retention)s * (1 - g::float / %(count)s) * interval '1 second',
                       CASE WHEN g %% 10 = 0 THEN 40 ELSE 30 END,
                       CASE WHEN g %% 3 = 0 THEN 'ops.slow' WHEN g %% 3 = 1 THEN 'django.request' ELSE 'bot:demo-bot' END,
                       CASE WHEN g %% 3 = 0
                            THEN 'Slow query ' || (100 + g %% 900) || ' ms: SELECT ... FROM generations_generation WHERE user_id = %%s ORDER BY id DESC LIMIT 21'
                            ELSE 'Slow request ' || (100 + g %% 900) || ' ms: GET /api/v1/users/' || (7000000000 + g %% 40000) || '/generations?limit=20' END,
                       jsonb_build_object('duration_ms', 100 + g %% 900, 'path', '/api/v1/users/generations')
                FROM generate_series(%(first)s, %(last)s) g
                ORDER BY g
                """,
                {
                    "now": self.now,
                    "retention": retention,
                    "count": count,
                    "first": offset,
                    "last": min(offset + LOG_CHUNK, count) - 1,
                },
            )
            self.report.debug_logs += rows
            self.step(rows, "debug logs")

    def usage_rollups(self) -> None:
        """The daily per-model rollup the dashboard reads for finished days, as the nightly task would."""
        if not self.operations:
            return
        began = monotonic()
        today = self.now.date()
        for offset in range(self.days + 1, 0, -1):
            generations_services.usage_rollup(day=today - timedelta(days=offset))
        self.report.seconds["usage rollup"] = monotonic() - began


def load_total_rows(*, users: int, operations: int, provider_logs: int, debug_logs: int) -> int:
    return users + operations + users * (settings.WELCOME_BONUS > 0) + provider_logs + debug_logs
