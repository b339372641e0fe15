"""Writes of the generations app: jobs and their money, projects, provider logs, usage rollups.

A job's money follows its status in the same transaction: creating it holds the cost, `succeeded`
captures the hold (a ledger `charge`), any other final status releases it. Every status change is a
compare-and-set UPDATE on the status the caller read, so two concurrent calls resolve a job once.
"""

import json
import logging
import math
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Subquery
from django.utils import timezone

from accounts.models import BotEventType, EndUser
from accounts.selectors import (
    IDENTITY_FIELDS,
    end_user_ensure_active,
    end_user_not_found,
    user_ref_params,
    user_ref_parse,
    webhook_takers,
)
from accounts.services import bot_event_record, bot_events_record, end_user_current
from billing import selectors as billing_selectors
from billing import services as billing_services
from generations import presenters, selectors
from generations.errors import GenerationsError, RateLimited
from generations.models import (
    ERROR_CODE_MAX_LENGTH,
    ERROR_MESSAGE_MAX_LENGTH,
    FINAL_STATUSES,
    IN_FLIGHT_STATUSES,
    PROMPT_MAX_LENGTH,
    AIModel,
    Generation,
    Project,
    ProjectItem,
    ProviderLog,
)

logger = logging.getLogger(__name__)
# pg_advisory_xact_lock(space, key): this space serialises one user's admissions, nothing else.
ADMISSION_LOCK_SPACE = 4_004_001
# A slot in flight frees when a job finishes, which nobody can predict: a short, honest hint.
CONCURRENT_RETRY_AFTER_SECONDS = 5
# A hold outlives its job's deadline, so the timeout sweep (not billing's expiry) releases it.
HOLD_GRACE_SECONDS = 120
PROJECT_ITEM_JSON_MAX_BYTES = 16_384
Status = Generation.Status


# --- Jobs ------------------------------------------------------------------------------------


# A create is four statements of its own (bench/README.md, API hot path: each round trip counts):
#   1. who: the user the ref (or id) names, following a merge to the user that stays, and, with plan
#      limits on, the transaction-scoped admission lock on that user (only for a row found). Both rows
#      are locked FOR KEY SHARE, as accounts.services.end_user_current does: a merge in flight (it holds
#      FOR UPDATE on both users) finishes first, and none starts before this job commits, so the merge
#      moves it; the named row is found by its identity first and locked by id, so a merge that freed
#      that identity meanwhile is still followed. A user that stays but was itself merged on later (two
#      hops, rare) is resolved by end_user_current;
#   2. what and whether: the model's price, a fresh job id, the plan that applies and the user's
#      counts; a new statement takes a new snapshot, after the lock, so it sees every job a concurrent
#      admission of the same user committed;
#   3. the hold (billing, `generation:<id>` by the id drawn in 2, no savepoint since it cannot exist);
#   4. the INSERT of the job with its hold.
# Raw SQL: compiling the ORM's forms cost more than running them, and RETURNING/LATERAL/nextval are
# beyond it. The admission lock key, (4004001, user id mod 2^31), is unchanged, so during a deploy old
# and new processes serialise on the same lock.
CREATE_USER_SQL = """
WITH named AS (
    SELECT id FROM accounts_end_user
    WHERE id = %(user_id)s OR telegram_id = %(telegram_id)s OR device_id = %(device_id)s
       OR external_id = %(external_id)s
), current AS (
    SELECT id, merged_into_id FROM accounts_end_user WHERE id = (SELECT id FROM named) FOR KEY SHARE
)
SELECT u.id, u.telegram_id, u.device_id, u.external_id, u.merged_into_id, u.is_blocked,
       CASE WHEN %(lock)s THEN pg_advisory_xact_lock(%(lock_space)s, (u.id %% 2147483648)::int) END
FROM accounts_end_user u
WHERE u.id = (SELECT COALESCE(merged_into_id, id) FROM current)
FOR KEY SHARE OF u
"""

# The plan is billing's rule (billing.selectors.plan_for_user, the same SQL): an active subscription's
# plan, else `free`; tests/generations/test_rate_limits.py holds the two to the same answer.
# A rate-limit window only has to say whether the user reached the plan's limit, so it reads the user's
# `limit` newest jobs by (user_id, id DESC) and counts those inside the window; the oldest of them is the
# one whose leaving frees a slot (Retry-After). Within one user ids follow creation times: admissions of
# a user are serialised by the admission lock, and each takes its id after its time. An unlimited (null)
# window reads nothing; jobs in flight are counted by their partial index. `lim` reads the limits from
# the plan's JSON as _limit_value does (a number, or a string of digits; anything else is unlimited) and
# returns them, so Python can tell when it reads a value otherwise (then it counts on its own). The
# windows take the user id from `lim` rather than as a literal, so they are planned for a typical user:
# a literal of a user owning a large share of the table tempts the planner into walking the primary key
# backwards and filtering, which for such a user gone quiet reads far back into the table.
CREATE_ADMISSION_SQL = """
SELECT m.id, CASE WHEN m.is_free THEN 0.00 ELSE m.price END, m.currency, m.is_free,
       nextval(pg_get_serial_sequence('generations_generation', 'id')),
       plan.code, plan.limits, c.concurrent,
       lim.per_minute, per_minute.used, per_minute.oldest, lim.per_day, per_day.used, per_day.oldest
FROM (SELECT COUNT(*) AS concurrent FROM generations_generation
      WHERE %(count)s AND user_id = %(user_id)s AND status IN ('pending', 'processing')) c
LEFT JOIN LATERAL (
    SELECT p.code, p.limits FROM billing_plan p
    WHERE p.code = %(free)s
       OR p.id IN (SELECT s.plan_id FROM billing_subscription s
                   WHERE s.user_id = %(user_id)s AND (s.expires_at IS NULL OR s.expires_at > %(now)s))
    ORDER BY p.code = %(free)s
    LIMIT 1
) plan ON %(count)s
LEFT JOIN LATERAL (
    SELECT %(user_id)s::bigint AS user_id,
           MAX(l.value) FILTER (WHERE l.key = 'per_minute') AS per_minute,
           MAX(l.value) FILTER (WHERE l.key = 'per_day') AS per_day
    FROM (SELECT key, CASE WHEN jsonb_typeof(value) = 'number'
                             OR value #>> '{}' ~ '^[[:space:]]*[-+]?[0-9]+[[:space:]]*$'
                           THEN LEAST(GREATEST(trunc((value #>> '{}')::numeric), 0), 2147483647)::int
                      END AS value
          FROM jsonb_each(CASE WHEN jsonb_typeof(plan.limits) = 'object' THEN plan.limits END)) l
) lim ON true
LEFT JOIN LATERAL (
    SELECT COUNT(*) AS used, MIN(newest.created_at) AS oldest
    FROM (SELECT g.created_at FROM generations_generation g
          WHERE lim.per_minute IS NOT NULL AND g.user_id = lim.user_id
          ORDER BY g.id DESC LIMIT lim.per_minute) newest
    WHERE newest.created_at > %(per_minute_since)s
) per_minute ON true
LEFT JOIN LATERAL (
    SELECT COUNT(*) AS used, MIN(newest.created_at) AS oldest
    FROM (SELECT g.created_at FROM generations_generation g
          WHERE lim.per_day IS NOT NULL AND g.user_id = lim.user_id
          ORDER BY g.id DESC LIMIT lim.per_day) newest
    WHERE newest.created_at > %(per_day_since)s
) per_day ON true
LEFT JOIN generations_model m ON m.code = %(model_code)s AND m.is_active
"""
# The most a limit is read as (the int column of `lim`); the columns of each window follow WINDOWS.
LIMIT_CAP = 2**31 - 1
# The rate-limit windows the admission reads, by their plan limit's name.
WINDOWS = {"per_minute": timedelta(minutes=1), "per_day": timedelta(days=1)}


def admission_params(*, user_id: int, model_code: str, limits_on: bool, now: datetime) -> dict[str, Any]:
    """CREATE_ADMISSION_SQL's parameters (tests EXPLAIN the statement with them)."""
    return {
        "user_id": user_id,
        "model_code": model_code,
        "count": limits_on,
        "free": billing_selectors.FREE_PLAN_CODE,
        "now": now,
        **{f"{name}_since": now - window for name, window in WINDOWS.items()},
    }


ADMISSION_LOCK_SQL = "SELECT pg_advisory_xact_lock(%s, %s)"

GENERATION_INSERT_SQL = """
INSERT INTO generations_generation
    (id, user_id, model_id, status, prompt, parameters, cost, currency, is_free, hold_id,
     task_id, result_url, error_code, error_message, created_at, api_key_id)
VALUES (%(id)s, %(user_id)s, %(model_id)s, 'pending', %(prompt)s, %(parameters)s::jsonb, %(cost)s,
        %(currency)s, %(is_free)s, %(hold_id)s, '', '', '', '', %(now)s, %(api_key_id)s)
"""


def generation_create(
    *,
    prompt: str,
    parameters: dict[str, Any],
    user: EndUser | None = None,
    user_ref: str | None = None,
    model_code: str | None = None,
    model: AIModel | None = None,
    api_key_id: int | None = None,
) -> Generation:
    """Admits a job under the user's plan limits and holds its cost; free models never touch the balance.

    The user is named by `user_ref` (the API's `{user}` form: no lookup of its own) or given as `user`;
    either way a merged user's job goes to the user it was merged into. The model is named by
    `model_code` (the API's way) or given as `model`; either way the price is read from the catalog
    inside the transaction. Raises AccountsError not_found (unknown user), RateLimited (429),
    GenerationsError not_found (unknown or inactive model), InsufficientFunds (402), in that order,
    all before anything is written. One transaction: a refused job leaves nothing behind. `api_key_id`
    (the requesting bot's key) is whose webhook hears of a timeout.
    """
    if (model_code is None) == (model is None):
        raise TypeError("give exactly one of model_code and model")
    if (user is None) == (user_ref is None):
        raise TypeError("give exactly one of user and user_ref")
    model_code = model_code if model_code is not None else model.code
    limits_on = settings.RATE_LIMITS_ENABLED
    # No savepoint of its own: every failure propagates, so the caller's transaction (or idempotent_call's)
    # undoes it all. A caller that catches these errors inside its own transaction must give the call its
    # own atomic() block.
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        identity = user_ref_params(user_ref) if user_ref is not None else dict.fromkeys(IDENTITY_FIELDS)
        cursor.execute(
            CREATE_USER_SQL,
            {
                "user_id": user.pk if user else None,
                **identity,
                "lock": limits_on,
                "lock_space": ADMISSION_LOCK_SPACE,
            },
        )
        found = cursor.fetchone()
        if found is None:
            raise end_user_not_found(user_ref if user_ref is not None else f"#{user.pk}")
        user = EndUser(
            pk=found[0], telegram_id=found[1], device_id=found[2], external_id=found[3], is_blocked=found[5]
        )
        if found[4] is not None:
            user = end_user_current(user=user)
            if limits_on:
                cursor.execute(ADMISSION_LOCK_SQL, [ADMISSION_LOCK_SPACE, user.pk % 2**31])
        # A blocked user starts nothing (bot-api.md v1.1): the flag came with the row, no extra query.
        end_user_ensure_active(user)
        now = timezone.now()
        cursor.execute(
            CREATE_ADMISSION_SQL,
            admission_params(user_id=user.pk, model_code=model_code, limits_on=limits_on, now=now),
        )
        model_id, cost, currency, is_free, generation_id, plan_code, limits, concurrent, *windows = (
            cursor.fetchone()
        )
        if limits_on:
            _admission_check(
                user_id=user.pk,
                plan_code=plan_code,
                limits=limits,
                concurrent_used=concurrent,
                windows=windows,
                now=now,
            )
        if model_id is None:
            raise GenerationsError(
                f"No active model {model_code[:64]!r}.",
                code="not_found",
                details={"model": "unknown or inactive"},
            )
        generation = Generation(
            pk=generation_id,
            user=user,
            model=AIModel(pk=model_id, code=model_code),
            status=Status.PENDING,
            prompt=prompt[:PROMPT_MAX_LENGTH],
            parameters=parameters,
            cost=cost,
            currency=currency,
            is_free=is_free,
            created_at=now,
            api_key_id=api_key_id,
        )
        if not is_free:
            hold_seconds = max(
                settings.HOLD_TTL_SECONDS, settings.GENERATION_TIMEOUT_SECONDS + HOLD_GRACE_SECONDS
            )
            generation.hold_id = billing_services.hold_create(
                user=user,
                amount=cost,
                currency=currency,
                reference=generation.hold_reference,
                expires_at=now + timedelta(seconds=hold_seconds),
                reference_is_new=True,
            ).pk
        cursor.execute(
            GENERATION_INSERT_SQL,
            {
                "id": generation.pk,
                "user_id": user.pk,
                "model_id": model_id,
                "prompt": generation.prompt,
                "parameters": json.dumps(parameters),
                "cost": cost,
                "currency": currency,
                "is_free": is_free,
                "hold_id": generation.hold_id,
                "now": now,
                "api_key_id": api_key_id,
            },
        )
    return generation


def _admission_check(
    *,
    user_id: int,
    plan_code: str | None,
    limits: Any,
    concurrent_used: int,
    windows: list[Any],
    now: datetime,
) -> None:
    """Refuses a job over the plan's per-minute, concurrent or per-day limit (429 with Retry-After).

    One user's admissions are serialised by the transaction-scoped advisory lock CREATE_USER_SQL took
    before the counts were read, so N simultaneous requests see each other's committed jobs and exactly
    `limit` of them pass. `windows` is, per window of WINDOWS, the limit the SQL read from the plan and
    how many of the user's that many newest jobs are inside the window, and the oldest of those.
    """
    if plan_code is None:
        raise RuntimeError("the free plan is missing: run migrate")
    if isinstance(limits, str):  # Django's psycopg setup leaves json columns of raw rows undecoded
        limits = json.loads(limits)
    plan_limits = {
        name: _limit_value(plan_code, limits, name) for name in ("per_minute", "concurrent", "per_day")
    }
    concurrent = plan_limits["concurrent"]
    if concurrent is not None and concurrent_used >= concurrent:
        _refuse("concurrent", concurrent, CONCURRENT_RETRY_AFTER_SECONDS)
    read = dict(zip(WINDOWS, (windows[i : i + 3] for i in range(0, len(windows), 3)), strict=True))
    for name, window in WINDOWS.items():
        if plan_limits[name] is None:
            continue
        limit = min(plan_limits[name], LIMIT_CAP)
        read_limit, used, oldest = read[name]
        if read_limit != limit:  # a value the SQL reads otherwise than Python (a "1_000"): count here
            used, oldest = selectors.window_newest_used(user_id=user_id, since=now - window, limit=limit)
        if used >= limit:
            wait = (oldest + window - now).total_seconds() if oldest else window.total_seconds()
            _refuse(name, limit, max(1, math.ceil(wait)))


def _limit_value(plan_code: str, limits: Any, name: str) -> int | None:
    """A plan's limit as an int; null (or absent) is unlimited. Operators edit limits as JSON in the
    admin, so a malformed value is logged and treated as unlimited rather than failing every request."""
    value = limits.get(name) if isinstance(limits, dict) else None
    if value is None:
        return None
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        logger.error("plan %s has a malformed %s limit %r; treated as unlimited", plan_code, name, value)
        return None


def _refuse(limit_name: str, limit: int, retry_after: int) -> None:
    raise RateLimited(
        f"Plan limit reached: {limit} {limit_name.replace('_', ' ')}.",
        details={"limit": limit_name, "max": limit},
        retry_after=retry_after,
    )


_ALLOWED_FROM = {
    Status.PROCESSING: (Status.PENDING,),
    Status.SUCCEEDED: IN_FLIGHT_STATUSES,
    Status.FAILED: IN_FLIGHT_STATUSES,
    Status.TIMEOUT: IN_FLIGHT_STATUSES,
    Status.CANCELED: IN_FLIGHT_STATUSES,
}

# One statement decides a move: it changes the job only from a state the move starts from (and, for a
# success, only before the deadline), and returns the row with what the answer needs (the user's
# identities, the model's code). Raw SQL for RETURNING with the join, which the ORM's update() lacks.
# Every move shares the tail (the join, the condition, the returned row); only its SET differs.
_MOVE_TAIL = """
FROM generations_model m, accounts_end_user u
WHERE g.id = %(id)s AND g.status = ANY(%(from_statuses)s) AND m.id = g.model_id AND u.id = g.user_id
  AND g.created_at > %(deadline)s
RETURNING g.id, g.user_id, g.model_id, g.status, g.prompt, g.parameters, g.cost, g.currency, g.is_free,
          g.hold_id, g.task_id, g.result_url, g.error_code, g.error_message, g.duration_ms, g.created_at,
          g.started_at, g.completed_at, g.api_key_id, m.code, u.telegram_id, u.device_id, u.external_id
"""
# A final move's duration: the bot's figure, or the time since the job started (or was created).
_MOVE_DURATION = """
    duration_ms = LEAST(2147483647, GREATEST(0, COALESCE(%(duration_ms)s,
    (EXTRACT(EPOCH FROM (%(now)s - COALESCE(g.started_at, g.created_at))) * 1000)::bigint)))"""
_MOVE_SQL = {
    Status.PROCESSING: """
UPDATE generations_generation g SET status = %(status)s, started_at = %(now)s,
    task_id = COALESCE(%(task_id)s, g.task_id)"""
    + _MOVE_TAIL,
    Status.SUCCEEDED: """
UPDATE generations_generation g SET status = %(status)s, completed_at = %(now)s,
    task_id = COALESCE(%(task_id)s, g.task_id), result_url = %(result_url)s,"""
    + _MOVE_DURATION
    + _MOVE_TAIL,
    "ended": """
UPDATE generations_generation g SET status = %(status)s, completed_at = %(now)s,
    task_id = COALESCE(%(task_id)s, g.task_id), error_code = %(error_code)s, error_message = %(error_message)s,"""
    + _MOVE_DURATION
    + _MOVE_TAIL,
}


def generation_status_set(
    *,
    generation_id: int,
    status: str,
    task_id: str | None = None,
    result_url: str | None = None,
    error_code: str | None = None,
    error_message: str | None = None,
    duration_ms: int | None = None,
) -> Generation:
    """Moves a job along pending -> processing -> succeeded | failed | timeout | canceled.

    Repeating the state a job is already in is a no-op; any other move out of a final state is a
    conflict. `succeeded` captures the hold, the other final states release it, in the same
    transaction as the status. A job past GENERATION_TIMEOUT_SECONDS can no longer succeed (the
    timeout sweep releases it instead). Concurrent calls: the conditional UPDATE lets one move win;
    the others find the job moved on and answer a no-op or a conflict.
    """
    if status not in _ALLOWED_FROM:
        raise GenerationsError(
            f"Cannot set status {status!r}.", code="validation_error", details={"status": "not settable"}
        )
    now = timezone.now()
    params = {
        "id": generation_id,
        "status": status,
        "from_statuses": list(_ALLOWED_FROM[status]),
        "now": now,
        # Only a success is bound by the deadline; any other move ends the job as the sweep would.
        "deadline": now - timedelta(seconds=settings.GENERATION_TIMEOUT_SECONDS)
        if status == Status.SUCCEEDED
        else datetime.min.replace(tzinfo=UTC),
        "task_id": task_id or None,
        "result_url": result_url or "",
        "error_code": (error_code or "")[:ERROR_CODE_MAX_LENGTH],
        "error_message": (error_message or "")[:ERROR_MESSAGE_MAX_LENGTH],
        "duration_ms": duration_ms,
    }
    sql = _MOVE_SQL.get(status, _MOVE_SQL["ended"])
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
        if row is not None:
            generation = _generation_from_row(row)
            _settle_hold(generation, status=status)
            if status == Status.TIMEOUT:
                # Whoever timed the job out (the bot itself here, or the sweep), the event reports it.
                bot_event_record(api_key_id=generation.api_key_id, event_type=BotEventType.GENERATION_TIMEOUT,
                                 data=lambda: presenters.generation_out(generation))  # fmt: skip
            return generation
    return _status_unmoved(generation_id=generation_id, status=status)


def _generation_from_row(row: tuple) -> Generation:
    *fields, model_code, telegram_id, device_id, external_id = row
    values = dict(zip(_GENERATION_COLUMNS, fields, strict=True))
    # Django leaves jsonb undecoded on its connections (JSONField decodes it); a raw cursor must too.
    if isinstance(values["parameters"], str):
        values["parameters"] = json.loads(values["parameters"])
    generation = Generation(**values)
    generation.model = AIModel(pk=generation.model_id, code=model_code)
    generation.user = EndUser(
        pk=generation.user_id, telegram_id=telegram_id, device_id=device_id, external_id=external_id
    )
    return generation


_GENERATION_COLUMNS = (
    "id",
    "user_id",
    "model_id",
    "status",
    "prompt",
    "parameters",
    "cost",
    "currency",
    "is_free",
    "hold_id",
    "task_id",
    "result_url",
    "error_code",
    "error_message",
    "duration_ms",
    "created_at",
    "started_at",
    "completed_at",
    "api_key_id",
)


def _status_unmoved(*, generation_id: int, status: str) -> Generation:
    """The move did not apply: the job is unknown, already there (a no-op), past it, or overdue."""
    generation = selectors.generation_get(generation_id=generation_id)
    if generation.status == status:
        return generation
    if generation.status in _ALLOWED_FROM[status] and status == Status.SUCCEEDED:
        raise GenerationsError(
            f"Generation {generation_id} ran past its deadline and is being timed out.",
            code="conflict",
            details={"status": "timeout"},
        )
    raise GenerationsError(
        f"Generation {generation_id} is already {generation.status}.",
        code="conflict",
        details={"status": generation.status},
    )


def _settle_hold(generation: Generation, *, status: str) -> None:
    if generation.hold_id is None or status not in FINAL_STATUSES:
        return
    if status == Status.SUCCEEDED:
        # No description: billing derives "<model code> generation #<id>" from the reference when shown.
        billing_services.hold_capture(hold_id=generation.hold_id)
    else:
        billing_services.hold_release(hold_id=generation.hold_id)


def generations_time_out(*, batch_size: int = 200) -> int:
    """Marks jobs past GENERATION_TIMEOUT_SECONDS as `timeout` and releases their holds.

    Safe on two workers at once: each batch locks its rows with SKIP LOCKED, and the UPDATE is
    conditional on the job still being in flight, so every job is timed out (and released) once.
    """
    timed_out = 0
    while True:
        now = timezone.now()
        cutoff = now - timedelta(seconds=settings.GENERATION_TIMEOUT_SECONDS)
        with transaction.atomic():
            ids = list(selectors.generations_overdue_ids(older_than=cutoff, limit=batch_size))
            if not ids:
                return timed_out
            with connection.cursor() as cursor:
                cursor.execute(
                    "UPDATE generations_generation SET status = 'timeout', completed_at = %s, "
                    "error_code = CASE WHEN error_code = '' THEN 'timeout' ELSE error_code END, "
                    "duration_ms = LEAST(2147483647, "
                    "  (EXTRACT(EPOCH FROM (%s - COALESCE(started_at, created_at))) * 1000)::bigint) "
                    "WHERE id = ANY(%s) AND status IN ('pending', 'processing') RETURNING id, hold_id, api_key_id",
                    [now, now, ids],
                )
                rows = cursor.fetchall()
            for hold_id in sorted(hold_id for _, hold_id, _ in rows if hold_id is not None):
                billing_services.hold_release(hold_id=hold_id)
            _timeout_events_record(keys={job_id: api_key_id for job_id, _, api_key_id in rows if api_key_id})
            timed_out += len(rows)
        if len(ids) < batch_size:
            return timed_out


def _timeout_events_record(*, keys: dict[int, int]) -> None:
    """generation.timeout for the jobs whose key has a webhook for it: at most three queries a batch."""
    takers = webhook_takers(api_key_ids=set(keys.values()), event_type=BotEventType.GENERATION_TIMEOUT)
    wanted = [job_id for job_id, api_key_id in keys.items() if api_key_id in takers]
    if wanted:
        jobs = selectors.generations_with_related().filter(pk__in=wanted).order_by("pk")
        bot_events_record(
            event_type=BotEventType.GENERATION_TIMEOUT,
            items=[(job.api_key_id, presenters.generation_out(job)) for job in jobs],
        )


def generations_user_merge(*, source: EndUser, target: EndUser) -> None:
    """Re-points an anonymous user's jobs, projects and logs to the user it was merged into.

    Runs in accounts' merge transaction. Holds are billing's to move: its merge (balances_user_merge)
    re-points the source's open holds, with their held amount, to the target's account, so a source job
    is captured or released on the target's money; capture/release address the hold by id, so the job
    row needs nothing more.
    """
    Generation.objects.filter(user=source).update(user=target)
    Project.objects.filter(user=source).update(user=target)
    ProviderLog.objects.filter(user=source).update(user=target)


def generations_user_forget(*, user: EndUser) -> None:
    """The person asked to be forgotten: their prompts go; the jobs, costs and results' status stay."""
    Generation.objects.filter(user=user).exclude(prompt="").update(prompt="")
    ProviderLog.objects.filter(user=user).exclude(prompt="").update(prompt="")


def generation_refund(
    *, generation_id: int, reason: str = "", api_key: Any = None, operator: Any = None
) -> tuple[Any, bool]:
    """Gives a succeeded generation's charge back, at most once; returns (billing's refund, created now).

    409 when it was never charged (not succeeded, or free). A repeat returns the first refund.
    """
    generation = (
        Generation.objects.only("pk", "status", "is_free", "hold_id", "completed_at")
        .filter(pk=generation_id)
        .first()
    )
    if generation is None:
        raise GenerationsError(
            f"No generation {generation_id}.", code="not_found", details={"generation": generation_id}
        )
    if generation.status != Status.SUCCEEDED or generation.is_free or generation.hold_id is None:
        raise GenerationsError(
            f"Generation {generation_id} was never charged ({generation.status}"
            f"{', free' if generation.is_free else ''}).",
            code="conflict",
            details={"generation": "never charged"},
        )
    # The success captured the hold in the transaction that set completed_at: once billing has deleted
    # the resolved hold (HOLD_RETENTION_DAYS), that is where the ledger's charge is found.
    charge = billing_services.ChargeRef(
        reference=generation.hold_reference, charged_at=generation.completed_at
    )
    return billing_services.charge_refund(
        hold_id=generation.hold_id, charge=charge, reason=reason, api_key=api_key, operator=operator
    )


# --- Projects --------------------------------------------------------------------------------


def project_create(*, user: EndUser, name: str, description: str = "") -> Project:
    name = name.strip()
    if not name:
        raise GenerationsError(
            "A project needs a name.", code="validation_error", details={"name": "required"}
        )
    with transaction.atomic():
        return Project.objects.create(user=end_user_current(user=user), name=name, description=description)


def _json_bounded(value: Any, *, field: str) -> Any:
    if len(json.dumps(value, ensure_ascii=False).encode()) > PROJECT_ITEM_JSON_MAX_BYTES:
        raise GenerationsError(
            f"{field} is too large.",
            code="validation_error",
            details={field: f"at most {PROJECT_ITEM_JSON_MAX_BYTES} bytes of JSON"},
        )
    return value


def project_item_add(
    *,
    project_id: int,
    generation_id: int | None = None,
    model_code: str = "",
    inputs: dict[str, Any] | None = None,
    outputs: dict[str, Any] | None = None,
    status: str = "",
) -> ProjectItem:
    """Adds a generation (by id, of the project's own user) or an outside result to a project's history."""
    with transaction.atomic():
        project = Project.objects.select_for_update().filter(pk=project_id).first()
        if project is None:
            raise GenerationsError(
                f"No project {project_id}.", code="not_found", details={"project": project_id}
            )
        item = ProjectItem(project=project, model_code=model_code, status=status)
        if generation_id is not None:
            generation = selectors.generation_get(generation_id=generation_id)
            if generation.user_id != project.user_id:
                raise GenerationsError(
                    "The generation belongs to another user.",
                    code="validation_error",
                    details={"generation": "belongs to another user"},
                )
            item.generation = generation
            item.model_code = generation.model.code
            item.status = generation.status
            item.inputs = {"prompt": generation.prompt, "parameters": generation.parameters}
            item.outputs = {"result_url": generation.result_url} if generation.result_url else {}
        else:
            item.inputs = _json_bounded(inputs or {}, field="inputs")
            item.outputs = _json_bounded(outputs or {}, field="outputs")
        item.save(force_insert=True)
        project.items_count += 1
        project.last_item_at = item.created_at
        project.save(update_fields=["items_count", "last_item_at"])
    return item


# --- Provider logs and usage -----------------------------------------------------------------


def provider_log_create(
    *,
    user_ref: str | None,
    model_code: str,
    prompt: str,
    result_url: str,
    error_message: str,
    duration_ms: int | None,
) -> None:
    """One INSERT (the user is resolved by a subquery in it); an unknown user leaves the log unowned."""
    user_id: Any = None
    if user_ref:
        field, value = user_ref_parse(user_ref)
        user_id = Subquery(EndUser.objects.filter(**{field: value}).values("pk")[:1])
    ProviderLog.objects.create(
        user_id=user_id,
        model_code=model_code[:64],
        prompt=prompt[:PROMPT_MAX_LENGTH],
        result_url=result_url,
        error_message=error_message[:ERROR_MESSAGE_MAX_LENGTH],
        duration_ms=duration_ms,
    )


def usage_rollup(*, day: date) -> int:
    """Recomputes one UTC day of per-model usage from the jobs; running it again gives the same rows."""
    start = datetime.combine(day, time.min, tzinfo=UTC)
    end = start + timedelta(days=1)
    computed_at = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO generations_usage_daily
                (day, model_id, currency, total, pending, processing, succeeded, failed, timeout, canceled,
                 revenue, mean_duration_ms, computed_at)
            SELECT %s, model_id, currency, COUNT(*),
                   COUNT(*) FILTER (WHERE status = 'pending'),
                   COUNT(*) FILTER (WHERE status = 'processing'),
                   COUNT(*) FILTER (WHERE status = 'succeeded'),
                   COUNT(*) FILTER (WHERE status = 'failed'),
                   COUNT(*) FILTER (WHERE status = 'timeout'),
                   COUNT(*) FILTER (WHERE status = 'canceled'),
                   COALESCE(SUM(cost) FILTER (WHERE status = 'succeeded'), 0),
                   ROUND(AVG(duration_ms) FILTER (WHERE status = 'succeeded'))::integer,
                   %s
            FROM generations_generation
            WHERE created_at >= %s AND created_at < %s
            GROUP BY model_id, currency
            ON CONFLICT (day, model_id, currency) DO UPDATE SET
                total = EXCLUDED.total, pending = EXCLUDED.pending, processing = EXCLUDED.processing,
                succeeded = EXCLUDED.succeeded, failed = EXCLUDED.failed, timeout = EXCLUDED.timeout,
                canceled = EXCLUDED.canceled, revenue = EXCLUDED.revenue,
                mean_duration_ms = EXCLUDED.mean_duration_ms, computed_at = EXCLUDED.computed_at
            """,
            [day, computed_at, start, end],
        )
        rows = cursor.rowcount
        cursor.execute(
            "DELETE FROM generations_usage_daily WHERE day = %s AND computed_at < %s", [day, computed_at]
        )
    return rows
