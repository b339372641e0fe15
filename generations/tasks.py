"""Scheduled work of the generations app (ops declares the beat schedules). Each task is idempotent."""

from datetime import date, timedelta

from celery import shared_task
from django.utils import timezone

from generations import services


@shared_task(name="generations.tasks.generations_timeout")
def generations_timeout() -> int:
    """Every minute: jobs past GENERATION_TIMEOUT_SECONDS become `timeout` and their holds are released."""
    return services.generations_time_out()


@shared_task(name="generations.tasks.usage_rollup")
def usage_rollup(day: str | None = None) -> int:
    """Recomputes the usage of `day` (ISO date), or of yesterday and today so late jobs of yesterday count."""
    if day is not None:
        return services.usage_rollup(day=date.fromisoformat(day))
    today = timezone.now().date()
    return sum(services.usage_rollup(day=one) for one in (today - timedelta(days=1), today))
