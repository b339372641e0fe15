"""Beat schedules declared in code; `services.schedules_sync` writes them into django-celery-beat.

Tasks are named by their dotted Celery name, so ops can schedule jobs of apps it must not import
(and of apps whose tasks are not written yet: such a schedule is created disabled and switched on by
the first sync after the task exists).

To add a schedule: one `Schedule(...)` line below. Times are cron expressions in UTC
("minute hour day-of-month month day-of-week"); hourly and daily jobs are staggered so they do not
all start on the same minute.
"""

import json
from dataclasses import dataclass, field
from typing import Any

SCHEDULE_TIMEZONE = "UTC"


@dataclass(frozen=True)
class Schedule:
    name: str
    task: str
    cron: str
    description: str
    kwargs: dict[str, Any] = field(default_factory=dict)

    def definition(self, *, task_installed: bool) -> dict[str, Any]:
        """What the periodic task row should hold, in the comparable form of `periodic_task_definition`."""
        description = self.description
        if not task_installed:
            description += " (disabled by the sync: the task is not installed yet)"
        return {
            "task": self.task,
            "schedule": f"cron {self.cron} {SCHEDULE_TIMEZONE}",
            "enabled": task_installed,
            "args": [],
            "kwargs": self.kwargs,
            "description": description,
        }


SCHEDULES: tuple[Schedule, ...] = (
    Schedule(
        "retention-cleanup",
        "ops.tasks.retention_cleanup",
        "0 3 * * *",
        "Deletes rows past their retention (debug and provider logs, processed payment notifications, old "
        "run records and size snapshots, expired sessions) in small batches.",
    ),
    Schedule(
        "holds-expire",
        "billing.tasks.holds_expire",
        "* * * * *",
        "Releases holds past their expiry.",
    ),
    Schedule(
        "generations-timeout",
        "generations.tasks.generations_timeout",
        "* * * * *",
        "Marks generations with no final status after GENERATION_TIMEOUT_SECONDS as timeout.",
    ),
    Schedule(
        "bot-events-sweep",
        "accounts.tasks.bot_events_sweep",
        "* * * * *",
        "Queues the delivery of bot events whose next attempt is due: retries after a failed delivery, "
        "and anything a lost task or a killed worker left behind.",
    ),
    Schedule(
        "idempotency-keys-purge",
        "billing.tasks.idempotency_keys_purge",
        "15 * * * *",
        "Deletes idempotency records older than IDEMPOTENCY_KEY_TTL_HOURS (24 h).",
    ),
    Schedule(
        "subscriptions-renew",
        "billing.tasks.subscriptions_renew",
        "25 * * * *",
        "Renews subscriptions that end within two hours when the balance pays for the next period; "
        "one that has ended unpaid returns to the free plan.",
    ),
    Schedule(
        "usage-rollup",
        "generations.tasks.usage_rollup",
        "10 0 * * *",
        "Recomputes daily usage per model and currency (jobs by status, revenue, mean duration) from the "
        "jobs, for yesterday (now complete) and today so far.",
    ),
    Schedule(
        "db-size-snapshot",
        "ops.tasks.db_size_snapshot",
        "30 3 * * *",
        "Records the database and table sizes of the day (after retention), for growth and budget.",
    ),
    Schedule(
        "ledger-check",
        "ops.tasks.ledger_check",
        "0 4 * * *",
        "Runs billing's ledger_check over the whole database; a failure is logged as an error.",
    ),
)


def periodic_task_definition(task) -> dict[str, Any]:
    """The operator-editable parts of a django-celery-beat PeriodicTask (run counters excluded)."""
    if task.crontab_id is not None:
        crontab = task.crontab
        cron = " ".join(
            (crontab.minute, crontab.hour, crontab.day_of_month, crontab.month_of_year, crontab.day_of_week)
        )
        schedule = f"cron {cron} {crontab.timezone}"
    elif task.interval_id is not None:
        schedule = f"every {task.interval.every} {task.interval.period}"
    elif task.solar_id is not None:
        schedule = f"solar {task.solar.event} {task.solar.latitude} {task.solar.longitude}"
    else:
        schedule = f"clocked {task.clocked.clocked_time.isoformat()}" if task.clocked_id else "none"
    return {
        "task": task.task,
        "schedule": schedule,
        "enabled": task.enabled,
        "args": json.loads(task.args or "[]"),
        "kwargs": json.loads(task.kwargs or "{}"),
        "description": task.description,
    }
