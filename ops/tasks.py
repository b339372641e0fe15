"""Scheduled jobs of the ops app. Each takes the leader lock, so two beats or many workers run it once."""

from celery import shared_task

from ops import services
from ops.locks import singleton


@shared_task(name="ops.tasks.retention_cleanup")
@singleton("ops.retention_cleanup")
def retention_cleanup() -> int:
    return sum(run.rows_deleted for run in services.retention_cleanup_run())


@shared_task(name="ops.tasks.db_size_snapshot")
@singleton("ops.db_size_snapshot")
def db_size_snapshot() -> int:
    return services.db_size_snapshot_take().pk


@shared_task(name="ops.tasks.ledger_check")
@singleton("ops.ledger_check")
def ledger_check() -> str:
    return services.ledger_check_run_record().status
