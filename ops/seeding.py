"""Demo and load data for seed_demo.

`demo_seed` goes through the services (users, bonuses, top-ups, jobs, a project, an assistant), so a
fresh `make run` shows every screen with data that was made the way production makes it.

`load_seed` writes what the services would write, at load scale, with set-based SQL inside one
transaction: `INSERT ... SELECT generate_series` on the server (no rows cross the wire), the money
computed with window functions so that every invariant of design.md section 4 holds afterwards
(`ledger_check` passes). Rows are inserted in time order, chunk by chunk, as production appends them,
so ids and `created_at` stay correlated and date-bounded index scans behave as they will in production.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from time import monotonic

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import EndUser
from accounts.services import end_user_upsert
from billing.models import Account, EntryType
from billing.services import system_account_id, telegram_stars_credit
from generations import services as generations_services
from generations.models import AIModel, Generation, Project

# --- Demo (through the services) --------------------------------------------------------------

DEMO_USERS = [
    ("100000001", {"username": "alice", "first_name": "Alice", "language_code": "en"}),
    ("100000002", {"username": "boris", "first_name": "Boris", "language_code": "ru"}),
    ("100000003", {"username": "chen", "first_name": "Chen", "language_code": "zh"}),
    ("device:demo-phone-1", {}),
]
# (user ref, Telegram Stars charge id, stars): the charge id makes each top-up happen once.
DEMO_TOPUPS = [
    ("100000001", "demo-stars-alice-1", 500),
    ("100000001", "demo-stars-alice-2", 250),
    ("100000002", "demo-stars-boris-1", 300),
]
# (user ref, model code, prompt, final status)
DEMO_GENERATIONS = [
    ("100000001", "flux-2-pro", "A lighthouse on a cliff at dawn, watercolour", "succeeded"),
    ("100000001", "recraft-v3", "Flat icon of a paper plane, teal and white", "succeeded"),
    ("100000001", "kling-2.1-master", "A cat surfing a wave in slow motion", "failed"),
    ("100000001", "suno-v4.5", "Lo-fi beat for studying, rainy evening", "succeeded"),
    ("100000002", "flux-2-pro", "Portrait of an old fisherman, Rembrandt lighting", "succeeded"),
    ("100000002", "veo-3-fast", "Drone shot over a snowy forest", "timeout"),
    ("100000003", "flux-schnell", "A red bicycle against a yellow wall", "succeeded"),
]
DEMO_DOCUMENT = (
    "Opening hours: Monday to Friday 9:00 to 18:00, Saturday 10:00 to 14:00.\n\n"
    "Prices: an image costs from 4 RUB, a five-second video from 45 RUB, a song 8 RUB.\n\n"
    "Refunds: a failed generation is never charged; the held money returns to the balance."
)


@dataclass
class DemoReport:
    users_created: int = 0
    topups_credited: int = 0
    generations_created: int = 0
    project_items_added: int = 0
    assistant_created: bool = False

    def __str__(self) -> str:
        return (
            f"demo data: {self.users_created} users created ({len(DEMO_USERS) - self.users_created} already "
            f"there), {self.topups_credited} top-ups, {self.generations_created} generations, "
            f"{self.project_items_added} project items, assistant {'created' if self.assistant_created else 'kept'}"
        )


def demo_seed() -> DemoReport:
    """Idempotent: every step is keyed (user refs, Stars charge ids, 'has no jobs yet'), so a rerun adds nothing."""
    report = DemoReport()
    users: dict[str, EndUser] = {}
    with transaction.atomic():
        for index, (ref, profile) in enumerate(DEMO_USERS):
            referrer = DEMO_USERS[0][0] if index == 1 else None
            users[ref], created = end_user_upsert(ref=ref, profile=profile, referrer_ref=referrer)
            report.users_created += created
    for ref, charge_id, stars in DEMO_TOPUPS:
        _, credited = telegram_stars_credit(
            user=users[ref], charge_id=charge_id, total_amount=stars, invoice_payload="demo"
        )
        report.topups_credited += credited
    report.generations_created = _demo_generations(users)
    report.project_items_added = _demo_project(users[DEMO_USERS[0][0]])
    report.assistant_created = _demo_assistant(users[DEMO_USERS[0][0]])
    return report


def _demo_generations(users: dict[str, EndUser]) -> int:
    models = {
        model.code: model for model in AIModel.objects.filter(code__in={g[1] for g in DEMO_GENERATIONS})
    }
    with_jobs = set(
        Generation.objects.filter(user__in=users.values()).values_list("user_id", flat=True).distinct()
    )
    created = 0
    for ref, model_code, prompt, status in DEMO_GENERATIONS:
        user = users[ref]
        if user.pk in with_jobs or model_code not in models:
            continue
        generation = generations_services.generation_create(
            user=user, model_code=model_code, prompt=prompt, parameters={"demo": True}
        )
        generations_services.generation_status_set(
            generation_id=generation.pk, status=Generation.Status.PROCESSING, task_id=f"demo-{generation.pk}"
        )
        outcome = {"status": status}
        if status == Generation.Status.SUCCEEDED:
            outcome["result_url"] = f"https://files.example.com/demo/{generation.pk}.webp"
        else:
            outcome.update(error_code="provider_error", error_message="The provider gave up (demo).")
        generations_services.generation_status_set(generation_id=generation.pk, **outcome)
        created += 1
    return created


def _demo_project(user: EndUser) -> int:
    if Project.objects.filter(user=user, name="Demo project").exists():
        return 0
    project = generations_services.project_create(
        user=user, name="Demo project", description="A folder of a user's results."
    )
    generation_ids = Generation.objects.filter(user=user).order_by("pk").values_list("pk", flat=True)
    for generation_id in generation_ids:
        generations_services.project_item_add(project_id=project.pk, generation_id=generation_id)
    return len(generation_ids)


def _demo_assistant(user: EndUser) -> bool:
    from assistants.models import Assistant
    from assistants.services import assistant_create, document_upload

    if Assistant.objects.filter(owner=user, name="Demo assistant").exists():
        return False
    assistant = assistant_create(
        owner=user, name="Demo assistant", instructions="Answer questions about the studio politely."
    )
    document_upload(assistant=assistant, title="Studio FAQ", text=DEMO_DOCUMENT)
    return True


# --- Load (set-based SQL) --------------------------------------------------------------------

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
        models = {
            m.code: m
            for m in AIModel.objects.filter(code__in=PAID_MIX, is_free=False, currency=self.currency)
        }
        if not models and self.operations:
            raise ValueError(f"no paid models in {self.currency} to load generations of")
        weighted = [
            models[code] for code, weight in PAID_MIX.items() if code in models for _ in range(weight)
        ]
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
        # Raise each user's opening top-up by the deepest dip of their history below zero.
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
        self.step(0, "staged")

    def sequences(self) -> dict[str, str]:
        self.cursor.execute(
            "SELECT pg_get_serial_sequence('generations_generation', 'id'), "
            "pg_get_serial_sequence('billing_hold', 'id'), pg_get_serial_sequence('billing_payment', 'id')"
        )
        return dict(zip(("generation_ids", "hold_ids", "payment_ids"), self.cursor.fetchone(), strict=True))

    def insert_operations(self) -> None:
        """Chunk by chunk in time order: payments, generations, holds, then the ledger entries."""
        self.cursor.execute("SELECT MIN(created_at), MAX(created_at) FROM seed_op")
        first, last = self.cursor.fetchone()
        if first is None:
            return
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
        for chunk in range(CHUNKS):
            window = {**params, "from": first + width * chunk, "to": first + width * (chunk + 1)}
            self.report.payments += self.sql(
                "payments",
                """
                INSERT INTO billing_payment (id, user_id, provider, provider_payment_id, status, amount, currency,
                                             confirmation_url, details, refunded_amount, created_at, resolved_at)
                SELECT payment_id, user_id, 'yookassa', uuid, 'succeeded', amount, %(currency)s,
                       'https://yoomoney.ru/checkout/payments/v2/contract?orderId=' || uuid, '{}', 0,
                       created_at - interval '40 seconds', created_at
                FROM (SELECT *, md5('payment' || payment_id)::uuid::text AS uuid FROM seed_op
                      WHERE payment_id IS NOT NULL AND created_at >= %(from)s AND created_at < %(to)s) p
                ORDER BY created_at
                """,
                window,
            )
            generations = self.sql(
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
            self.report.generations += generations
            self.sql(
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
            entries = self.sql(
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
                       CASE WHEN o.is_charge THEN m.code || ' generation #' || o.generation_id
                            WHEN o.type = %(topup)s THEN 'Top-up via YooKassa'
                            WHEN o.n < 0 THEN 'Welcome bonus'
                            WHEN o.type = %(bonus)s THEN 'Bonus'
                            WHEN o.type = %(referral)s THEN 'Referral reward'
                            ELSE 'Refund of a failed generation' END,
                       o.created_at
                FROM seed_op o LEFT JOIN generations_model m ON m.id = o.model_id
                WHERE o.created_at >= %(from)s AND o.created_at < %(to)s
                ORDER BY o.created_at, o.n
                """,
                window,
            )
            self.report.ledger_entries += entries
            self.report.operations += entries - self._welcome_rows(window)
            self.step(entries, "operations")

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
