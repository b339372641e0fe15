"""Reads of the generations app."""

import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Max, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts.models import EndUser
from core.pagination import page_newest_first
from generations.errors import GenerationsError
from generations.models import (
    FINAL_STATUSES,
    HOLD_REFERENCE_PREFIX,
    AIModel,
    Generation,
    Project,
    ProjectItem,
    UsageDaily,
)

PROJECT_DETAIL_ITEMS = 20
# "generation:<id>" as holds and charges are written: a positive bigint, no leading zeros.
_REFERENCE_ID = re.compile(rf"{HOLD_REFERENCE_PREFIX}:([1-9][0-9]{{0,17}})")
FAILURE_WINDOW = timedelta(hours=24)


def ai_models_active() -> QuerySet[AIModel]:
    return AIModel.objects.filter(is_active=True).order_by("sort_order", "code")


def generations_with_related() -> QuerySet[Generation]:
    return Generation.objects.select_related("user", "model")


def charge_descriptions(references: list[str]) -> dict[str, str]:
    """billing's describer of "generation:<id>": {reference: "<model code> generation #<id>"}, one query.

    The text charges used to store in the ledger; a reference whose job is unknown is left out.
    """
    ids = {}
    for reference in references:
        match = _REFERENCE_ID.fullmatch(reference)
        if match:
            ids[int(match[1])] = reference
    if not ids:
        return {}
    jobs = Generation.objects.filter(pk__in=ids).values_list("pk", "model__code")
    return {ids[pk]: f"{code} generation #{pk}" for pk, code in jobs}


def generation_get(*, generation_id: int) -> Generation:
    generation = generations_with_related().filter(pk=generation_id).first()
    if generation is None:
        raise GenerationsError(
            f"No generation {generation_id}.", code="not_found", details={"generation": generation_id}
        )
    return generation


def generations_page_for_user(
    *, user: EndUser, status: str | None, limit: int, cursor: str | None
) -> tuple[list[Generation], str | None]:
    """Newest first by keyset on the (user, id) index, one query whatever the history's length."""
    queryset = Generation.objects.select_related("model").filter(user=user)
    if status is not None:
        queryset = queryset.filter(status=status)
    rows, next_cursor = page_newest_first(queryset, limit=limit, cursor=cursor)
    for row in rows:
        # The caller already holds the user: no join, no extra query per row.
        row.user = user
    return list(rows), next_cursor


def window_newest_used(*, user_id: int, since: datetime, limit: int) -> tuple[int, datetime | None]:
    """Of the user's `limit` newest jobs (by the (user, -id) index), how many were created after `since`,
    and the oldest of those: the admission's count when it cannot read the plan's limit in SQL."""
    newest = Generation.objects.filter(user_id=user_id).order_by("-pk").values_list("created_at", flat=True)
    inside = [created_at for created_at in newest[:limit] if created_at > since]
    return len(inside), min(inside, default=None)


def generations_overdue_ids(*, older_than: datetime, limit: int) -> QuerySet[Generation]:
    """In-flight jobs created before `older_than`, oldest first, locked and skipped if another worker has them."""
    return (
        Generation.objects.filter(status__in=["pending", "processing"], created_at__lt=older_than)
        .order_by("created_at")
        .select_for_update(skip_locked=True)
        .values_list("pk", flat=True)[:limit]
    )


def projects_page_for_user(
    *, user: EndUser, limit: int, cursor: str | None
) -> tuple[list[Project], str | None]:
    rows, next_cursor = page_newest_first(Project.objects.filter(user=user), limit=limit, cursor=cursor)
    return list(rows), next_cursor


def project_get(*, project_id: int) -> Project:
    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        raise GenerationsError(f"No project {project_id}.", code="not_found", details={"project": project_id})
    return project


def project_items_newest(*, project: Project, limit: int = PROJECT_DETAIL_ITEMS) -> list[ProjectItem]:
    return list(ProjectItem.objects.filter(project=project).order_by("-pk")[:limit])


def failures_recent_by_model(*, since: datetime | None = None) -> QuerySet:
    """Failed and timed-out jobs since `since` (default 24 hours ago), grouped by model and error code."""
    since = since or timezone.now() - FAILURE_WINDOW
    return (
        Generation.objects.filter(status__in=["failed", "timeout"], created_at__gte=since)
        .values("model_id", "model__code", "status", "error_code")
        .annotate(failures=Count("pk"), last_at=Max("created_at"))
        .order_by("-failures", "model__code", "error_code")
    )


def generations_newest_for_user(*, user: EndUser, limit: int) -> list[Generation]:
    """The user card's newest jobs, by the (user, id) index."""
    return list(Generation.objects.filter(user=user).select_related("model").order_by("-pk")[:limit])


def last_generation_at_for_users(users: Sequence[EndUser]) -> dict[int, dict[str, Any]]:
    """When each user of a page last started a job: one probe of (user, id) per user, one query."""
    newest = Generation.objects.filter(user_id=OuterRef("pk")).order_by("-pk").values("created_at")[:1]
    rows = (
        EndUser.objects.filter(pk__in=[user.pk for user in users])
        .annotate(last=Subquery(newest))
        .values_list("pk", "last")
    )
    return {user_id: {"last_activity": last} for user_id, last in rows if last is not None}


# --- The operator dashboard (ops.dashboard panels) ------------------------------------------------

FAILED_STATUSES = (Generation.Status.FAILED, Generation.Status.TIMEOUT)


def usage_daily_window(*, since, until, statuses: Sequence[str]) -> QuerySet:
    """Finished days of the rollup (a few hundred rows): per day and model, counts by status and revenue."""
    return (
        UsageDaily.objects.filter(day__gte=since, day__lt=until)
        .values("day", "model_id", "model__code", "revenue", *statuses)
        .order_by()
    )


def generations_daily_counts(*, since: str | datetime) -> QuerySet:
    """Per day, model and status, live from the jobs: the generation_created_brin ranges after `since`."""
    return (
        Generation.objects.filter(created_at__gte=since)
        .annotate(day=TruncDate("created_at"))
        .values("day", "model_id", "model__code", "status")
        .annotate(
            count=Count("id"),
            revenue=Sum("cost", filter=Q(status=Generation.Status.SUCCEEDED, is_free=False)),
        )
        .order_by()
    )


def generations_failure_counts(*, since: datetime) -> QuerySet:
    return (
        Generation.objects.filter(created_at__gte=since)
        .values("model_id", "model__code")
        .annotate(
            finished=Count("id", filter=Q(status__in=FINAL_STATUSES)),
            failed=Count("id", filter=Q(status__in=FAILED_STATUSES)),
            in_flight=Count("id", filter=~Q(status__in=FINAL_STATUSES)),
        )
        .order_by()
    )
