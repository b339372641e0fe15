"""Writes of the ops app: debug log entries, schedule sync, retention runs, size snapshots, ledger checks."""

import importlib
import io
import json
import logging
import time
import traceback
from collections.abc import Iterator
from datetime import date, datetime
from functools import reduce
from operator import or_
from typing import Any
from zoneinfo import ZoneInfo

from celery import current_app
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.management import CommandError, call_command, get_commands
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models import Max, Q, QuerySet, Subquery
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from ops import selectors
from ops.db import maintenance_statement_timeout
from ops.errors import OpsError
from ops.locks import lock_key
from ops.models import (
    DEBUG_LOG_MESSAGE_MAX,
    DbSizeSnapshot,
    DebugLog,
    LedgerCheckRun,
    RetentionRun,
    ScheduleSync,
)
from ops.redaction import redact_text, redact_value
from ops.retention import RETENTION_POLICIES, RetentionPolicy
from ops.schedules import SCHEDULE_TIMEZONE, SCHEDULES, Schedule, periodic_task_definition

logger = logging.getLogger(__name__)

DEBUG_LOG_CONTEXT_MAX_BYTES = 4096
DEBUG_LOG_SOURCE_MAX = 100
# 5,000 rows per DELETE: each batch commits in well under a second, so no lock is held for long.
RETENTION_BATCH_SIZE = 5000
LEDGER_CHECK_COMMAND = "ledger_check"
LEDGER_CHECK_OUTPUT_MAX = 20_000


# --- Debug log -----------------------------------------------------------------------------------


def debug_log_create(
    *, level: int, message: str, source: str, context: dict[str, Any] | None = None
) -> DebugLog:
    """Stores one debug log entry; the message is cut to 1000 characters, the context must stay small."""
    if level not in DebugLog.Level.values:
        raise OpsError(
            f"Unknown level {level!r}.", code="validation_error", details={"level": "unknown level"}
        )
    context = context if context is not None else {}
    if not isinstance(context, dict):
        raise OpsError(
            "Context must be an object.", code="validation_error", details={"context": "not an object"}
        )
    encoded = json.dumps(context, ensure_ascii=False, default=str)
    if len(encoded.encode()) > DEBUG_LOG_CONTEXT_MAX_BYTES:
        raise OpsError(
            f"Context must be at most {DEBUG_LOG_CONTEXT_MAX_BYTES} bytes as JSON.",
            code="validation_error",
            details={"context": f"larger than {DEBUG_LOG_CONTEXT_MAX_BYTES} bytes"},
        )
    # A bot may quote its own token or a webhook URL: scrubbed like every log record (ops.redaction).
    return DebugLog.objects.create(
        level=level,
        message=redact_text(message)[:DEBUG_LOG_MESSAGE_MAX],
        source=source[:DEBUG_LOG_SOURCE_MAX],
        context=redact_value(json.loads(encoded)),
    )


# --- Beat schedules --------------------------------------------------------------------------------


def schedules_sync(
    *, schedules: tuple[Schedule, ...] = SCHEDULES, using: str = DEFAULT_DB_ALIAS
) -> dict[str, str]:
    """Writes the code-declared schedules into django-celery-beat; returns {name: outcome}.

    Outcomes: "created", "updated" (the row still held what the last sync wrote, so the operator had not
    touched it), "unchanged", or "kept" (an operator edited the row in the admin: their version stays,
    and a warning says so when the code's definition changed meanwhile). Deleting a row in the admin
    brings back the code's definition on the next sync; disabling it is how an operator turns one off.
    """
    outcomes: dict[str, str] = {}
    with transaction.atomic(using=using):
        # Two hosts migrating at once take turns here instead of racing on the unique names.
        with connections[using].cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [lock_key("ops.schedules_sync")])
        for schedule in schedules:
            outcomes[schedule.name] = _schedule_sync_one(schedule, using=using)
    return outcomes


def _schedule_sync_one(schedule: Schedule, *, using: str) -> str:
    desired = schedule.definition(task_installed=_task_installed(schedule.task))
    task = (
        PeriodicTask.objects.using(using)
        .select_related("crontab", "interval", "solar", "clocked")
        .select_for_update(of=("self",))
        .filter(name=schedule.name)
        .first()
    )
    record = ScheduleSync.objects.using(using).filter(name=schedule.name).first()
    if task is not None:
        current = periodic_task_definition(task)
        if current == desired:
            _schedule_record(schedule.name, desired, record=record, using=using)
            return "unchanged"
        if record is None or current != record.definition:
            if record is not None and desired != record.definition:
                logger.warning(
                    "schedule %s was edited in the admin and the code's definition changed too; "
                    "kept the operator's version (delete the row to take the code's)",
                    schedule.name,
                    extra={"context": {"schedule": schedule.name, "code": desired, "database": current}},
                )
            else:
                logger.info("schedule %s was edited in the admin; kept the operator's version", schedule.name)
            return "kept"
    _periodic_task_write(schedule, desired, using=using)
    _schedule_record(schedule.name, desired, record=record, using=using)
    return "created" if task is None else "updated"


def _task_installed(task_name: str) -> bool:
    module_name = task_name.rpartition(".")[0]
    try:
        importlib.import_module(module_name)
    except ImportError:
        return False
    except Exception:  # a broken module of another app must not break migrate
        logger.exception("importing %s for the schedule sync failed", module_name)
        return False
    return task_name in current_app.tasks


def _periodic_task_write(schedule: Schedule, desired: dict[str, Any], *, using: str) -> None:
    minute, hour, day_of_month, month_of_year, day_of_week = schedule.cron.split()
    crontab_fields = {
        "minute": minute,
        "hour": hour,
        "day_of_month": day_of_month,
        "month_of_year": month_of_year,
        "day_of_week": day_of_week,
        "timezone": ZoneInfo(SCHEDULE_TIMEZONE),
    }
    crontab = CrontabSchedule.objects.using(using).filter(**crontab_fields).order_by("pk").first()
    if crontab is None:
        crontab = CrontabSchedule.objects.using(using).create(**crontab_fields)
    PeriodicTask.objects.using(using).update_or_create(
        name=schedule.name,
        defaults={
            "task": desired["task"],
            "crontab": crontab,
            "interval": None,
            "solar": None,
            "clocked": None,
            "enabled": desired["enabled"],
            "args": json.dumps(desired["args"]),
            "kwargs": json.dumps(desired["kwargs"]),
            "description": desired["description"],
        },
    )


def _schedule_record(
    name: str, definition: dict[str, Any], *, record: ScheduleSync | None, using: str
) -> None:
    if record is None:
        ScheduleSync.objects.using(using).create(name=name, definition=definition)
    elif record.definition != definition:
        record.definition = definition
        record.synced_at = timezone.now()
        record.save(using=using, update_fields=["definition", "synced_at"])


# --- Retention -------------------------------------------------------------------------------------


def retention_cleanup_run(
    *,
    policies: tuple[RetentionPolicy, ...] = RETENTION_POLICIES,
    now: datetime | None = None,
    batch_size: int = RETENTION_BATCH_SIZE,
    max_seconds: float | None = None,
) -> list[RetentionRun]:
    """Applies every retention policy that is on; one RetentionRun per policy, a failing policy does not
    stop the rest."""
    now = now or timezone.now()
    budget = max_seconds if max_seconds is not None else settings.RETENTION_MAX_SECONDS
    deadline = time.monotonic() + budget
    return [
        retention_policy_apply(policy=policy, now=now, batch_size=batch_size, deadline=deadline)
        for policy in policies
        if policy.enabled
    ]


def retention_policy_apply(
    *, policy: RetentionPolicy, now: datetime, batch_size: int, deadline: float
) -> RetentionRun:
    """Deletes the policy's expired rows (or empties their `clear_fields`), oldest first, one short
    autocommitted statement per batch."""
    started = time.monotonic()
    cutoff = policy.cutoff(now)
    run = RetentionRun(policy=policy.name, table="", cutoff=cutoff, started_at=timezone.now())
    try:
        model = policy.model()
        run.table = model._meta.db_table
        run.save(force_insert=True)
        manager = model._base_manager
        expired = manager.filter(**policy.expired_filter(cutoff))
        if policy.only_if is not None:
            expired = expired.filter(policy.only_if)
        expired = expired.order_by(policy.walk_by or policy.timestamp_field)
        clearing = (
            _expired_fields_clear(policy=policy, expired=expired, batch_size=batch_size)
            if policy.clear_fields
            else None
        )
        while True:
            if clearing is not None:
                removed, more = next(clearing)
            else:
                batch = expired.values("pk")[:batch_size]
                _, per_model = manager.filter(pk__in=Subquery(batch)).delete()
                removed = per_model.get(model._meta.label, 0)
                more = removed >= batch_size
            run.rows_deleted += removed
            run.batches += 1
            if not more:
                run.complete = True
                break
            if time.monotonic() >= deadline:
                logger.warning(
                    "retention %s stopped at its time budget after %s rows; the next run continues",
                    policy.name,
                    run.rows_deleted,
                )
                break
    except SoftTimeLimitExceeded:
        # Celery wants the task to stop now: record how far it got, then let the task end.
        run.error = "stopped by the task's soft time limit"
        _retention_run_finish(run, started=started)
        raise
    except Exception as exc:  # recorded on the run and logged; the other policies still run
        run.error = "".join(traceback.format_exception_only(exc)).strip()[:2000]
        logger.exception("retention %s failed", policy.name, extra={"context": {"policy": policy.name}})
    _retention_run_finish(run, started=started)
    return run


def _expired_fields_clear(
    *, policy: RetentionPolicy, expired: QuerySet, batch_size: int
) -> Iterator[tuple[int, bool]]:
    """Empties the policy's fields of expired rows, oldest first; yields per batch the rows it cleared
    and whether there may be more.

    Only rows with something left to empty are taken, so a second run changes nothing. Each batch reads
    at most `batch_size` ids by the timestamp's index, from where the previous batch stopped, then empties
    those rows by primary key. A run starts at the latest cutoff a complete run of the policy reached:
    every row created before it was emptied then, and a job gets its prompt and result within minutes of
    its creation, so the nightly run reads only what newly expired, not every job emptied before.
    """
    field = policy.timestamp_field
    blank = dict.fromkeys(policy.clear_fields, "")
    left = reduce(or_, (~Q(**{name: ""}) for name in policy.clear_fields))
    start = RetentionRun.objects.filter(policy=policy.name, complete=True, error="").aggregate(
        reached=Max("cutoff")
    )["reached"]
    while True:
        candidates = expired.filter(left)
        if start is not None:
            candidates = candidates.filter(**{f"{field}__gte": start})
        batch = list(candidates.values_list("pk", field)[:batch_size])
        if not batch:
            yield 0, False
            return
        cleared = expired.model._base_manager.filter(left, pk__in=[pk for pk, _ in batch]).update(**blank)
        start = batch[-1][1]
        yield cleared, len(batch) == batch_size


def _retention_run_finish(run: RetentionRun, *, started: float) -> None:
    run.finished_at = timezone.now()
    run.duration_ms = int((time.monotonic() - started) * 1000)
    if run.pk is None:  # the policy failed before its run was recorded
        run.save(force_insert=True)
    else:
        run.save(update_fields=["finished_at", "duration_ms", "rows_deleted", "batches", "complete", "error"])


# --- Database size ---------------------------------------------------------------------------------


def db_size_snapshot_take(*, today: date | None = None) -> DbSizeSnapshot:
    """Records today's database and table sizes; running it twice a day keeps the latest figures."""
    today = today or timezone.now().date()
    database_bytes = selectors.db_size_database_bytes()
    tables = {table.name: table.total_bytes for table in selectors.db_size_tables()}
    snapshot, _ = DbSizeSnapshot.objects.update_or_create(
        taken_on=today,
        defaults={"taken_at": timezone.now(), "database_bytes": database_bytes, "tables": tables},
    )
    return snapshot


# --- Ledger check ----------------------------------------------------------------------------------


def ledger_check_run_record() -> LedgerCheckRun:
    """Runs billing's `ledger_check` command and records the outcome; exit 1 means an invariant broke."""
    run = LedgerCheckRun(started_at=timezone.now())
    output = io.StringIO()
    if LEDGER_CHECK_COMMAND not in get_commands():
        run.status, run.exit_code = LedgerCheckRun.Status.ERROR, None
        output.write(
            "The ledger_check command is not installed (billing/management/commands/ledger_check.py)."
        )
    else:
        try:
            with maintenance_statement_timeout():
                call_command(LEDGER_CHECK_COMMAND, stdout=output, stderr=output)
        except SystemExit as exc:
            # sys.exit() and sys.exit(0) are success; a message instead of a number is a failure.
            run.exit_code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except CommandError as exc:
            output.write(f"\n{exc}")
            run.exit_code = exc.returncode
        except Exception:
            output.write("\n" + traceback.format_exc())
            run.status = LedgerCheckRun.Status.ERROR
        else:
            run.exit_code = 0
        if not run.status:
            run.status = LedgerCheckRun.Status.PASSED if run.exit_code == 0 else LedgerCheckRun.Status.FAILED
    run.output = output.getvalue()[-LEDGER_CHECK_OUTPUT_MAX:]
    run.finished_at = timezone.now()
    run.save(force_insert=True)
    if run.status != LedgerCheckRun.Status.PASSED:
        # ERROR level: the debug log handler stores it, and the dashboard shows the last run.
        logger.error(
            "ledger_check %s (exit code %s): %s",
            run.status,
            run.exit_code,
            run.output[-500:],
            extra={"context": {"ledger_check_run": run.pk, "exit_code": run.exit_code}},
        )
    return run
