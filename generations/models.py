"""Paid AI jobs: the model catalog, generation jobs, projects and their history, provider logs, usage.

Money is billing's: a paid generation holds its cost through `billing.services.hold_create` under the
reference "generation:<id>" and keeps only the hold's id (generations never imports billing's models).
"""

from decimal import Decimal

from django.contrib.postgres.indexes import BrinIndex
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.id_bounds import id_bounded

MONEY = {"max_digits": 14, "decimal_places": 2}
PROMPT_MAX_LENGTH = 1000
ERROR_MESSAGE_MAX_LENGTH = 500
ERROR_CODE_MAX_LENGTH = 64
URL_MAX_LENGTH = 2048
TASK_ID_MAX_LENGTH = 255


class AIModel(models.Model):
    """A model the bots sell (flux-2-pro, kling...). Never deleted once used: switch `is_active` off."""

    class Category(models.TextChoices):
        IMAGE = "image", _("image")
        VIDEO = "video", _("video")
        AUDIO = "audio", _("audio")
        TEXT = "text", _("text")

    code = models.SlugField(
        max_length=64, unique=True, help_text=_("What bots send as `model`."), verbose_name=_("code")
    )
    name = models.CharField(max_length=128, verbose_name=_("name"))
    category = models.CharField(max_length=8, choices=Category.choices, verbose_name=_("category"))
    provider = models.CharField(
        max_length=64, help_text=_("Who runs it, e.g. bfl, replicate, kling."), verbose_name=_("provider")
    )
    price = models.DecimalField(**MONEY, default=Decimal("0.00"), verbose_name=_("price"))
    currency = models.CharField(max_length=8, default="RUB", verbose_name=_("currency"))
    is_free = models.BooleanField(default=False, verbose_name=_("is free"))
    is_active = models.BooleanField(default=True, verbose_name=_("is active"))
    sort_order = models.PositiveSmallIntegerField(default=0, verbose_name=_("sort order"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name_plural = _("AI models")
        db_table = "generations_model"
        verbose_name = _("AI model")
        ordering = ["sort_order", "code"]
        constraints = [
            # A free model costs nothing and a paid one costs something: no "paid at 0.00" ambiguity.
            models.CheckConstraint(
                name="ai_model_price_matches_free",
                condition=Q(is_free=True, price=0) | Q(is_free=False, price__gt=0),
            ),
        ]

    def __str__(self) -> str:
        return self.code


# billing's holds and charges name a job "generation:<id>"; the charge's text is derived from it
# (generations.selectors.charge_descriptions), not stored with each ledger row.
HOLD_REFERENCE_PREFIX = "generation"


class Generation(models.Model):
    """One paid (or free) AI job and its state machine: pending -> processing -> a final status."""

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        PROCESSING = "processing", _("processing")
        SUCCEEDED = "succeeded", _("succeeded")
        FAILED = "failed", _("failed")
        TIMEOUT = "timeout", _("timeout")
        CANCELED = "canceled", _("canceled")

    # Indexed by (user, -id) below; a plain FK index would only cost writes.
    user = models.ForeignKey(
        "accounts.EndUser",
        on_delete=models.PROTECT,
        related_name="generations",
        db_index=False,
        verbose_name=_("user"),
    )
    # Not indexed: models are never deleted (is_active goes off), and one model's jobs are read within a
    # date range, by generation_created_brin (the admin's model filter alone shows the last 30 days).
    model = models.ForeignKey(
        AIModel,
        on_delete=models.PROTECT,
        related_name="generations",
        db_index=False,
        verbose_name=_("model"),
    )
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING, verbose_name=_("status")
    )
    prompt = models.CharField(max_length=PROMPT_MAX_LENGTH, blank=True, default="", verbose_name=_("prompt"))
    parameters = models.JSONField(default=dict, blank=True, verbose_name=_("parameters"))
    cost = models.DecimalField(**MONEY, verbose_name=_("cost"))
    currency = models.CharField(max_length=8, verbose_name=_("currency"))
    is_free = models.BooleanField(default=False, verbose_name=_("is free"))
    # billing's Hold id (reference "generation:<id>"); null for free jobs.
    hold_id = models.BigIntegerField(null=True, blank=True, verbose_name=_("hold id"))
    task_id = models.CharField(
        max_length=TASK_ID_MAX_LENGTH, blank=True, default="", verbose_name=_("task id")
    )
    result_url = models.CharField(
        max_length=URL_MAX_LENGTH, blank=True, default="", verbose_name=_("result url")
    )
    error_code = models.CharField(
        max_length=ERROR_CODE_MAX_LENGTH, blank=True, default="", verbose_name=_("error code")
    )
    error_message = models.CharField(
        max_length=ERROR_MESSAGE_MAX_LENGTH, blank=True, default="", verbose_name=_("error message")
    )
    duration_ms = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("duration ms"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    started_at = models.DateTimeField(null=True, blank=True, verbose_name=_("started at"))
    completed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("completed at"))
    # The key that created the job: its webhook hears of a timeout (bot-api.md, events). Not indexed: an
    # index would cost every job's INSERT, and API keys are revoked, not deleted (deleting one scans).
    api_key = models.ForeignKey(
        "accounts.ApiKey",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        verbose_name=_("api key"),
    )

    class Meta:
        verbose_name_plural = _("generations")
        verbose_name = _("generation")
        db_table = "generations_generation"
        permissions = [("export_generation", "Can export generations")]
        constraints = [
            models.CheckConstraint(name="generation_cost_not_negative", condition=Q(cost__gte=0)),
            models.CheckConstraint(
                name="generation_free_costs_nothing",
                condition=Q(is_free=True, cost=0, hold_id__isnull=True) | Q(is_free=False),
            ),
            models.CheckConstraint(
                name="generation_final_has_completed_at",
                condition=Q(status__in=["pending", "processing"]) | Q(completed_at__isnull=False),
            ),
        ]
        indexes = [
            # A user's history newest first by keyset, and the rate-limit windows: the admission reads at
            # most `limit` newest rows of the user here (one user's ids follow its creation times).
            models.Index(fields=["user", "-id"], name="generation_user_id_idx"),
            # In flight: the per-user concurrency count and the timeout sweep touch only live jobs.
            models.Index(
                fields=["user"],
                name="generation_inflight_user_idx",
                condition=Q(status__in=["pending", "processing"]),
            ),
            models.Index(
                fields=["created_at"],
                name="generation_inflight_age_idx",
                condition=Q(status__in=["pending", "processing"]),
            ),
            # The operators' "failures in the last 24 hours by model and error code".
            models.Index(
                fields=["created_at"],
                name="generation_failures_idx",
                condition=Q(status__in=["failed", "timeout"]),
            ),
            # Admin date (and model) filter, the daily usage rollup, prompt retention's batches. Jobs are
            # inserted in created_at order, so a BRIN of block ranges answers date ranges at ~1% of a
            # btree's size (472 kB vs 42.9 MB at 2M jobs). Updated rows (a finished job, an emptied prompt)
            # move pages, but minmax-multi keeps a block range tight despite a few strays: measured after
            # a prompt-retention run had moved 1.1M of 2M rows, one day by status 2.5 ms (btree 1.6), the
            # last 24 h counted 5.9 ms (1.4), a model over 30 days 77 ms (67). The admin's old-day list,
            # newest first, is bounded by id (core.id_bounds), which neither index could do alone.
            BrinIndex(
                fields=["created_at"],
                name="generation_created_brin",
                pages_per_range=32,
                opclasses=["timestamptz_minmax_multi_ops"],
            ),
            models.Index(fields=["task_id"], name="generation_task_id_idx", condition=~Q(task_id="")),
            # No index on prompts: the admin searches them only among one user's jobs, by (user, -id).
        ]

    def __str__(self) -> str:
        return f"generation #{self.pk} {self.status}"

    @property
    def hold_reference(self) -> str:
        return f"{HOLD_REFERENCE_PREFIX}:{self.pk}"


# Ids follow created_at: a job's id is drawn by nextval in the admission statement and its created_at is
# the same request's time, bound into the INSERT of the same transaction (the bulk loader inserts in
# created_at order too), so the two disagree by a transaction's length at most, far inside
# core.id_bounds' margin: the admin's date filter bounds jobs by id.
id_bounded(Generation)

IN_FLIGHT_STATUSES = (Generation.Status.PENDING, Generation.Status.PROCESSING)
FINAL_STATUSES = (
    Generation.Status.SUCCEEDED,
    Generation.Status.FAILED,
    Generation.Status.TIMEOUT,
    Generation.Status.CANCELED,
)


class Project(models.Model):
    """A user's folder of generations. `items_count`/`last_item_at` are kept by `project_item_add`."""

    user = models.ForeignKey(
        "accounts.EndUser",
        on_delete=models.PROTECT,
        related_name="projects",
        db_index=False,
        verbose_name=_("user"),
    )
    name = models.CharField(max_length=200, verbose_name=_("name"))
    description = models.CharField(max_length=2000, blank=True, default="", verbose_name=_("description"))
    items_count = models.PositiveIntegerField(default=0, verbose_name=_("items count"))
    last_item_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last item at"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name_plural = _("projects")
        verbose_name = _("project")
        db_table = "generations_project"
        indexes = [models.Index(fields=["user", "-id"], name="project_user_id_idx")]

    def __str__(self) -> str:
        return self.name


class ProjectItem(models.Model):
    """One entry of a project's history: a generation of this app, or a result made elsewhere."""

    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="items", db_index=False, verbose_name=_("project")
    )
    generation = models.ForeignKey(
        Generation,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="project_items",
        db_index=False,
        verbose_name=_("generation"),
    )
    model_code = models.CharField(max_length=64, blank=True, default="", verbose_name=_("model code"))
    inputs = models.JSONField(default=dict, blank=True, verbose_name=_("inputs"))
    outputs = models.JSONField(default=dict, blank=True, verbose_name=_("outputs"))
    status = models.CharField(max_length=20, blank=True, default="", verbose_name=_("status"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name_plural = _("project items")
        verbose_name = _("project item")
        db_table = "generations_project_item"
        indexes = [
            models.Index(fields=["project", "-id"], name="project_item_project_id_idx"),
            models.Index(
                fields=["generation"],
                name="project_item_generation_idx",
                condition=Q(generation__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"item #{self.pk} of project {self.project_id}"


class ProviderLog(models.Model):
    """A raw call log a bot reports; append-only, deleted by ops after LOG_RETENTION_DAYS."""

    user = models.ForeignKey(
        "accounts.EndUser",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        verbose_name=_("user"),
    )
    # The code as the bot sent it: logs may name models that the catalog does not (yet) list.
    model_code = models.CharField(max_length=64, blank=True, default="", verbose_name=_("model code"))
    prompt = models.CharField(max_length=PROMPT_MAX_LENGTH, blank=True, default="", verbose_name=_("prompt"))
    result_url = models.CharField(
        max_length=URL_MAX_LENGTH, blank=True, default="", verbose_name=_("result url")
    )
    error_message = models.CharField(
        max_length=ERROR_MESSAGE_MAX_LENGTH, blank=True, default="", verbose_name=_("error message")
    )
    duration_ms = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("duration ms"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name_plural = _("provider logs")
        db_table = "generations_provider_log"
        verbose_name = _("provider log")
        indexes = [
            # Retention deletes by age and the admin lists newest first; user lookups for merges.
            models.Index(fields=["created_at"], name="provider_log_created_idx"),
            models.Index(fields=["user"], name="provider_log_user_idx", condition=Q(user__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"log #{self.pk} {self.model_code}"


class UsageDaily(models.Model):
    """Per day (UTC) and model: what the generations did. Survives the raw logs' retention."""

    day = models.DateField(verbose_name=_("day"))
    model = models.ForeignKey(
        AIModel, on_delete=models.PROTECT, related_name="usage_days", verbose_name=_("model")
    )
    currency = models.CharField(max_length=8, verbose_name=_("currency"))
    total = models.PositiveIntegerField(default=0, verbose_name=_("total"))
    pending = models.PositiveIntegerField(default=0, verbose_name=_("pending"))
    processing = models.PositiveIntegerField(default=0, verbose_name=_("processing"))
    succeeded = models.PositiveIntegerField(default=0, verbose_name=_("succeeded"))
    failed = models.PositiveIntegerField(default=0, verbose_name=_("failed"))
    timeout = models.PositiveIntegerField(default=0, verbose_name=_("timeout"))
    canceled = models.PositiveIntegerField(default=0, verbose_name=_("canceled"))
    revenue = models.DecimalField(**MONEY, default=Decimal("0.00"), verbose_name=_("revenue"))
    mean_duration_ms = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("mean duration ms"))
    computed_at = models.DateTimeField(auto_now=True, verbose_name=_("computed at"))

    class Meta:
        db_table = "generations_usage_daily"
        verbose_name = _("daily usage")
        verbose_name_plural = _("daily usage")
        constraints = [
            models.UniqueConstraint(
                fields=["day", "model", "currency"], name="usage_daily_once_per_day_model"
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.model_id}"
