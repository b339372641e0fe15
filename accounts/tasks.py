"""Delivery of bot events to their webhooks (accounts/webhook_delivery.py). Each task is idempotent."""

from celery import shared_task

from accounts import webhook_delivery


# acks_late (the project default) and the claim's lease together: a task lost with its worker is
# either redelivered by the broker or found by the sweep, and a duplicate run finds nothing to do.
@shared_task(name="accounts.tasks.bot_event_deliver")
def bot_event_deliver(event_id: int) -> str:
    return webhook_delivery.bot_event_deliver(event_id=event_id)


@shared_task(name="accounts.tasks.bot_events_sweep")
def bot_events_sweep() -> int:
    """Every minute: queues the events whose attempt is due (retries, lost tasks, killed workers)."""
    return webhook_delivery.bot_events_due_enqueue()
