"""Operations in the admin: debug log, retention and ledger-check runs (read-only), database size."""

import json

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseNotAllowed
from django.template.response import TemplateResponse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_celery_beat.admin import PeriodicTaskAdmin as BeatPeriodicTaskAdmin
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    SolarSchedule,
)

from core.admin_toolkit import CappedCountPaginator, GuardedAdmin
from ops import charts, selectors
from ops.models import DbSizeReport, DbSizeSnapshot, DebugLog, LedgerCheckRun, RetentionRun

MB = 1024 * 1024


class ReadOnlyAdmin(GuardedAdmin):
    """Records written by the system: operators look, and never edit or add (retention deletes them)."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(DebugLog)
class DebugLogAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "level_badge", "source", "short_message")
    list_display_links = ("created_at",)
    list_filter = ("level", ("created_at", admin.DateFieldListFilter))
    search_fields = ("message", "source")
    search_help_text = _("Part of the message or the source (logger name, bot:<API key name>).")
    fields = ("created_at", "level", "source", "message", "context_pretty")
    readonly_fields = fields
    ordering = ("-id",)
    list_per_page = 100
    # The debug log may hold hundreds of thousands of rows: never COUNT(*) them all (neither the
    # unfiltered total nor the paginator's count of the filtered rows).
    show_full_result_count = False
    paginator = CappedCountPaginator

    @admin.display(description=_("level"), ordering="level")
    def level_badge(self, entry: DebugLog) -> str:
        colour = {30: "#e0a800", 40: "#ba2121", 50: "#ba2121"}.get(entry.level, "#666")
        return format_html('<b style="color:{}">{}</b>', colour, entry.get_level_display().upper())

    @admin.display(description=_("message"))
    def short_message(self, entry: DebugLog) -> str:
        return entry.message[:160]

    @admin.display(description=_("context"))
    def context_pretty(self, entry: DebugLog) -> str:
        return format_html("<pre>{}</pre>", json.dumps(entry.context, indent=2, ensure_ascii=False))


@admin.register(RetentionRun)
class RetentionRunAdmin(ReadOnlyAdmin):
    list_display = (
        "started_at",
        "policy",
        "table",
        "rows_deleted",
        "batches",
        "duration_ms",
        "complete",
        "short_error",
    )
    list_filter = ("policy", "complete", ("started_at", admin.DateFieldListFilter))
    search_fields = ("policy", "table")
    ordering = ("-started_at", "-id")
    list_per_page = 100
    show_full_result_count = False

    @admin.display(description=_("error"))
    def short_error(self, run: RetentionRun) -> str:
        return run.error[:120]


@admin.register(LedgerCheckRun)
class LedgerCheckRunAdmin(ReadOnlyAdmin):
    list_display = ("started_at", "status", "exit_code", "finished_at")
    list_filter = ("status", ("started_at", admin.DateFieldListFilter))
    fields = ("started_at", "finished_at", "status", "exit_code", "output_pre")
    readonly_fields = fields
    ordering = ("-started_at", "-id")
    show_full_result_count = False

    @admin.display(description=_("output"))
    def output_pre(self, run: LedgerCheckRun) -> str:
        return format_html("<pre>{}</pre>", run.output)


@admin.register(DbSizeSnapshot)
class DbSizeSnapshotAdmin(ReadOnlyAdmin):
    list_display = ("taken_on", "database_mb", "taken_at")
    fields = ("taken_on", "taken_at", "database_bytes", "tables")
    readonly_fields = fields
    ordering = ("-taken_on",)
    show_full_result_count = False

    @admin.display(description=_("database (MB)"), ordering="database_bytes")
    def database_mb(self, snapshot: DbSizeSnapshot) -> str:
        return f"{snapshot.database_bytes / MB:,.1f}"


@admin.register(DbSizeReport)
class DbSizeReportAdmin(ReadOnlyAdmin):
    """The database size page: its changelist is the report (sizes, growth, projected budget date)."""

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    actions = None  # a report page, not a list of rows

    def changelist_view(self, request: HttpRequest, extra_context=None) -> TemplateResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        if request.method != "GET":
            return HttpResponseNotAllowed(["GET"])
        report = selectors.db_size_report()
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Database size"),
            "opts": self.model._meta,
            "report": report,
            "database_mb": report.database_bytes / MB,
            "budget_mb": report.budget_bytes / MB,
            "growth_mb_per_day": (
                report.growth_bytes_per_day / MB if report.growth_bytes_per_day is not None else None
            ),
            "gauge": charts.gauge_svg(
                value=report.database_bytes,
                maximum=report.budget_bytes,
                label=gettext("database size against budget"),
            ),
            "growth_chart": charts.line_svg(
                [size / MB for _day, size in report.snapshots], label=gettext("database size per day (MB)")
            ),
            "tables": [
                {
                    "name": table.name,
                    "total_mb": table.total_bytes / MB,
                    "heap_mb": table.heap_bytes / MB,
                    "index_mb": table.index_bytes / MB,
                    "toast_mb": table.toast_bytes / MB,
                    "rows": table.rows_estimate,
                    "bytes_per_row": table.bytes_per_row,
                }
                for table in report.tables
            ],
        }
        return TemplateResponse(request, "admin/ops/db_size.html", context)


# --- django-celery-beat: its actions need the change permission, like editing a schedule does ---------

# The schedule tables have no actions of their own; guarded like every admin (a crafted action is 403).
for _schedule_model in (ClockedSchedule, CrontabSchedule, IntervalSchedule, SolarSchedule):
    _beat_admin = type(admin.site._registry[_schedule_model])
    admin.site.unregister(_schedule_model)
    admin.site.register(_schedule_model, type(_beat_admin.__name__, (GuardedAdmin, _beat_admin), {}))

admin.site.unregister(PeriodicTask)


def _guarded_beat_action(name: str):
    """django-celery-beat's action, declaring the change permission it needs."""
    parent = getattr(BeatPeriodicTaskAdmin, name)

    def action(self, request, queryset):
        return parent(self, request, queryset)

    action.__name__ = name
    return admin.action(description=parent.short_description, permissions=("change",))(action)


@admin.register(PeriodicTask)
class PeriodicTaskAdmin(GuardedAdmin, BeatPeriodicTaskAdmin):
    """Disabling the holds-expiry or timeout schedule breaks a money invariant: view-only may not."""

    enable_tasks = _guarded_beat_action("enable_tasks")
    disable_tasks = _guarded_beat_action("disable_tasks")
    toggle_tasks = _guarded_beat_action("toggle_tasks")
    run_tasks = _guarded_beat_action("run_tasks")


# The operator dashboard is the admin index: the site's app list stays below the panels.
admin.site.index_template = "admin/ops/dashboard.html"
