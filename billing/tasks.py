from celery import shared_task

from billing import services
from billing.idempotency import idempotency_records_purge


@shared_task
def holds_expire() -> int:
    return services.holds_expire()


@shared_task
def idempotency_keys_purge() -> int:
    return idempotency_records_purge()


@shared_task
def subscriptions_renew() -> dict[str, int]:
    return services.subscriptions_renew()
