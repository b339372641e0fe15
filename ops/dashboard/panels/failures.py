"""Failure rate by model over the last 24 hours (failed and timed out among finished jobs)."""

from datetime import timedelta

from django.utils.translation import gettext_lazy as _

from generations import selectors
from generations.models import Generation
from ops.dashboard.base import Panel
from ops.dashboard.panels.generations import generations_url

Status = Generation.Status


def build(now):
    since = now - timedelta(hours=24)
    window = {"created_at__gte": str(since)}
    models = [
        {
            "code": row["model__code"],
            "finished": row["finished"],
            "failed": row["failed"],
            "in_flight": row["in_flight"],
            "failure_percent": 100 * row["failed"] / row["finished"] if row["finished"] else 0.0,
            "url": generations_url(model=row["model_id"], **window),
            "failed_url": generations_url(model=row["model_id"], status=Status.FAILED, **window),
            "timeout_url": generations_url(model=row["model_id"], status=Status.TIMEOUT, **window),
        }
        for row in selectors.generations_failure_counts(since=since)
    ]
    models.sort(key=lambda model: (model["failure_percent"], model["failed"]), reverse=True)
    finished = sum(model["finished"] for model in models)
    failed = sum(model["failed"] for model in models)
    return {
        "models": models,
        "finished": finished,
        "failed": failed,
        "failure_percent": 100 * failed / finished if finished else 0.0,
        "failed_url": generations_url(status=Status.FAILED, **window),
        "timeout_url": generations_url(status=Status.TIMEOUT, **window),
    }


PANEL = Panel("failures", _("Failures by model, last 24 h"), "generations.view_generation", build, order=70)
