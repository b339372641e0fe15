"""Operations data: debug logs, retention runs, database size snapshots, schedule sync records."""

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

DEBUG_LOG_MESSAGE_MAX = 1000


class DebugLog(models.Model):
    """A warning or error from the back office itself (logging handler) or from a bot (the API)."""

    class Level(models.IntegerChoices):
        # Python's logging numbers, so a record's levelno is stored as it is.
        DEBUG = 10, _("debug")
        INFO = 20, _("info")
        WARNING = 30, _("warning")
        ERROR = 40, _("error")
        CRITICAL = 50, _("critical")

    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    level = models.PositiveSmallIntegerField(choices=Level.choices, verbose_name=_("level"))
    # A logger name ("django.request", "ops.slow") or "bot:<API key name>" for entries sent by a bot.
    source = models.CharField(max_length=100, verbose_name=_("source"))
    message = models.CharField(max_length=DEBUG_LOG_MESSAGE_MAX, verbose_name=_("message"))
    context = models.JSONField(default=dict, blank=True, verbose_name=_("context"))

    class Meta:
        db_table = "ops_debug_log"
        verbose_name = _("debug log entry")
        verbose_name_plural = _("debug log")
        # created_at serves retention (range delete) and the admin's date filter.
        indexes = [models.Index(fields=["created_at"], name="debug_log_created_at_idx")]
        constraints = [
            models.CheckConstraint(name="debug_log_level_valid", condition=Q(level__in=[10, 20, 30, 40, 50])),
        ]

    def __str__(self) -> str:
        return f"{self.get_level_display()} {self.source}: {self.message[:80]}"


class RetentionRun(models.Model):
    """One retention policy applied once: what was removed, how long it took, whether it finished."""

    policy = models.CharField(max_length=64, verbose_name=_("policy"))
    table = models.CharField(max_length=128, verbose_name=_("table"))
    cutoff = models.DateTimeField(help_text=_("Rows older than this were expired."), verbose_name=_("cutoff"))
    started_at = models.DateTimeField(default=timezone.now, verbose_name=_("started at"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished at"))
    rows_deleted = models.BigIntegerField(default=0, verbose_name=_("rows deleted"))
    batches = models.PositiveIntegerField(default=0, verbose_name=_("batches"))
    duration_ms = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("duration ms"))
    # False when the run stopped at its time budget (the next run continues) or failed.
    complete = models.BooleanField(default=False, verbose_name=_("complete"))
    error = models.TextField(blank=True, default="", verbose_name=_("error"))

    class Meta:
        verbose_name_plural = _("retention runs")
        db_table = "ops_retention_run"
        verbose_name = _("retention run")
        indexes = [models.Index(fields=["started_at"], name="retention_run_started_at_idx")]

    def __str__(self) -> str:
        return f"{self.policy} at {self.started_at:%Y-%m-%d %H:%M}: {self.rows_deleted} rows"


class LedgerCheckRun(models.Model):
    """One run of billing's `ledger_check` command by the scheduler; a failure is also a debug-log error."""

    class Status(models.TextChoices):
        PASSED = "passed", _("passed")
        FAILED = "failed", _("failed")  # the command exited 1: a money invariant does not hold
        ERROR = "error", _("error")  # the command could not run (not installed, crashed)

    started_at = models.DateTimeField(default=timezone.now, verbose_name=_("started at"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished at"))
    status = models.CharField(max_length=8, choices=Status.choices, verbose_name=_("status"))
    exit_code = models.SmallIntegerField(null=True, blank=True, verbose_name=_("exit code"))
    output = models.TextField(blank=True, default="", verbose_name=_("output"))

    class Meta:
        verbose_name_plural = _("ledger check runs")
        db_table = "ops_ledger_check_run"
        verbose_name = _("ledger check run")
        indexes = [models.Index(fields=["started_at"], name="ledger_check_started_at_idx")]

    def __str__(self) -> str:
        return f"ledger_check {self.status} at {self.started_at:%Y-%m-%d %H:%M}"


class DbSizeSnapshot(models.Model):
    """The database's size once a day; growth per day and the budget projection come from these."""

    taken_on = models.DateField(unique=True, verbose_name=_("taken on"))
    taken_at = models.DateTimeField(default=timezone.now, verbose_name=_("taken at"))
    database_bytes = models.BigIntegerField(verbose_name=_("database bytes"))
    # {table name: total bytes with indexes and TOAST}, to see later which table grew.
    tables = models.JSONField(default=dict, blank=True, verbose_name=_("tables"))

    class Meta:
        verbose_name_plural = _("database size snapshots")
        db_table = "ops_db_size_snapshot"
        verbose_name = _("database size snapshot")
        ordering = ("-taken_on",)

    def __str__(self) -> str:
        return f"{self.taken_on}: {self.database_bytes // (1024 * 1024)} MB"


class DbSizeReport(DbSizeSnapshot):
    """No table of its own: gives the database size page an entry in the admin's Operations section."""

    class Meta:
        proxy = True
        verbose_name = _("database size")
        verbose_name_plural = _("database size")


class ScheduleSync(models.Model):
    """The code-declared definition of a beat schedule as last written to django-celery-beat.

    A periodic task that still equals this was not edited by an operator, so a deploy may update it;
    one that differs was edited in the admin and is left alone.
    """

    name = models.CharField(max_length=200, unique=True, verbose_name=_("name"))
    definition = models.JSONField(verbose_name=_("definition"))
    synced_at = models.DateTimeField(default=timezone.now, verbose_name=_("synced at"))

    class Meta:
        verbose_name_plural = _("schedule sync records")
        db_table = "ops_schedule_sync"
        verbose_name = _("schedule sync record")

    def __str__(self) -> str:
        return self.name


class LeaderLease(models.Model):
    """Who runs a singleton job now (ops.locks): one row per running job, deleted when it ends.

    A lease instead of a session advisory lock, because behind a transaction-pooling pgbouncer a
    session lock would be taken and released on different server sessions. A holder that crashes
    leaves its row until `expires_at`, after which the next runner takes it over.
    """

    name = models.CharField(max_length=200, primary_key=True, verbose_name=_("name"))
    holder = models.CharField(max_length=200, verbose_name=_("holder"))
    acquired_at = models.DateTimeField(verbose_name=_("acquired at"))
    expires_at = models.DateTimeField(verbose_name=_("expires at"))

    class Meta:
        verbose_name_plural = _("leader leases")
        verbose_name = _("leader lease")
        db_table = "ops_leader_lease"

    def __str__(self) -> str:
        return f"{self.name} held by {self.holder} until {self.expires_at}"
