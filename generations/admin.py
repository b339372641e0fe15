"""Operators' views of the generations app. Tables here reach millions of rows: every changelist has
explicit joins, no full counts, and searches that hit an index; changes go through services."""

from datetime import timedelta
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.db.models import Q, QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.card import CARD_ROWS, CardSection, register_user_card_section, register_user_list_facts
from accounts.models import EndUser
from accounts.selectors import end_user_ids_for_ref
from core.admin_toolkit import (
    BigTableAdmin,
    CustomView,
    ExportMixin,
    GuardedAdmin,
    IdBoundedDateRangeFilter,
    ReadOnlyBigTableAdmin,
    UserIdFilter,
    UserRefSearchMixin,
    bigint_term,
    has_perms,
    user_link,
)
from core.errors import DomainError
from core.id_bounds import ids_within
from generations import selectors, services
from generations.models import (
    IN_FLIGHT_STATUSES,
    AIModel,
    Generation,
    Project,
    ProjectItem,
    ProviderLog,
    UsageDaily,
)

PROMPT_SEARCH_NEEDS_USER = _(
    "Prompts are searched only among one user's jobs: open the user's generations from their card and "
    "search there. Without a user, the search looks at task ids and generation ids."
)


# Jobs have no index on model_id (models are never deleted), so one model's jobs are read within a date
# range, by generation_created_brin and the id range that holds it (core.id_bounds): the model filter
# alone shows the last MODEL_FILTER_DAYS days. A date range (the operator's, or the dashboards' links,
# bounded by id the same way) or a user (read by (user_id, id DESC)) lifts the bound.
MODEL_FILTER_DAYS = 30


class ModelFilter(admin.RelatedFieldListFilter):
    def __init__(self, field, request, params, model, model_admin, field_path):
        super().__init__(field, request, params, model, model_admin, field_path)
        self.bounded = not any(
            key.startswith("created_at__") or key == UserIdFilter.parameter_name for key in request.GET
        )
        if self.bounded:
            self.title = _("model (the last %(days)d days unless dates are chosen)") % {
                "days": MODEL_FILTER_DAYS
            }

    def queryset(self, request, queryset):
        queryset = super().queryset(request, queryset)
        if self.lookup_val and self.bounded:
            since = timezone.now() - timedelta(days=MODEL_FILTER_DAYS)
            queryset = queryset.filter(
                Q(created_at__gte=since), ids_within(Generation, since=since, until=None)
            )
        return queryset


@admin.register(AIModel)
class AIModelAdmin(GuardedAdmin):
    list_display = ("code", "name", "category", "provider", "price", "currency", "is_free", "is_active")
    list_editable = ("price", "is_active")
    list_filter = ("category", "is_active", "is_free", "provider")
    search_fields = ("code", "name")
    readonly_fields = ("created_at", "updated_at")
    ordering = ("sort_order", "code")


@admin.register(Generation)
class GenerationAdmin(ExportMixin, BigTableAdmin):
    list_display = (
        "id",
        "created_at",
        "user_link",
        "model",
        "status",
        "cost",
        "currency",
        "is_free",
        "duration_ms",
        "error_code",
        "task_id",
    )
    list_select_related = ("user", "model")
    list_filter = (
        UserIdFilter,
        "status",
        ("model", ModelFilter),
        "is_free",
        ("created_at", IdBoundedDateRangeFilter),
    )
    search_fields = ("task_id", "prompt")
    search_help_text = _(
        "A Telegram id, device:<id> or ext:<id> (the user's jobs), a task id or a generation id; part of a "
        "prompt only among one user's jobs (open them from the user's card)."
    )
    readonly_fields = [field.name for field in Generation._meta.fields]
    actions = ("cancel_in_flight", "refund_charge")
    custom_views = (CustomView("failures/", "failures_view", "failures", ("generations.view_generation",)),)
    export_filename = "generations"
    export_permission = "generations.export_generation"
    export_columns = (
        (_("id"), "id"),
        (_("created at"), "created_at"),
        (_("completed at"), "completed_at"),
        (_("user id"), "user_id"),
        (_("Telegram id"), "user__telegram_id"),
        (_("model"), "model__code"),
        (_("status"), "status"),
        (_("cost"), "cost"),
        (_("currency"), "currency"),
        (_("free"), "is_free"),
        (_("duration, ms"), "duration_ms"),
        (_("task id"), "task_id"),
        (_("error code"), "error_code"),
        (_("result URL"), "result_url"),
    )

    def tools(self, request: HttpRequest) -> list[dict]:
        tools = super().tools(request)
        if has_perms(request, ["generations.view_generation"]):
            tools.insert(
                0, {"url": "failures/", "label": _("Failures, last 24 hours"), "keep_filters": False}
            )
        return tools

    @admin.display(description=_("user"), ordering="user_id")
    def user_link(self, obj: Generation) -> str:
        return user_link(obj.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        # Each branch is answered by an index: users by their unique identity then (user, id), task ids
        # by a partial btree, job ids by the primary key; an OR over them is a BitmapOr. Prompts have no
        # index: they are searched only within one user's jobs (the user filter reads them by (user, id)).
        term = search_term.strip()
        if not term:
            return queryset, False
        condition = Q(task_id=term)
        if (pk := bigint_term(term)) is not None:
            condition |= Q(pk=pk)
        user_ids = end_user_ids_for_ref(ref=term)
        if user_ids is not None:
            condition |= Q(user_id__in=user_ids)
        elif self.prompts_searchable(request):
            condition |= Q(prompt__icontains=term)
        elif not term.isdigit():  # a word that could be a prompt's: say why no prompt was searched
            messages.warning(request, PROMPT_SEARCH_NEEDS_USER)
        return queryset.filter(condition), False

    @staticmethod
    def prompts_searchable(request: HttpRequest) -> bool:
        """Only with the user filter on: across every user, a prompt search would read the whole table."""
        return request.GET.get(UserIdFilter.parameter_name, "").isdigit()

    def failures_view(self, request: HttpRequest):
        """Failed and timed-out jobs of the last 24 hours by model and error code, each linking to its jobs."""
        since = timezone.now() - selectors.FAILURE_WINDOW
        changelist = reverse("admin:generations_generation_changelist")
        rows = []
        for row in selectors.failures_recent_by_model(since=since):
            query = {
                "status__exact": row["status"],
                "model__id__exact": row["model_id"],
                "error_code": row["error_code"],
                "created_at__gte": since.isoformat(timespec="seconds"),
            }
            rows.append({**row, "url": f"{changelist}?{urlencode(query)}"})
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Failures in the last 24 hours by model and error code"),
            "opts": self.model._meta,
            "rows": rows,
            "since": since,
            "total": sum(row["failures"] for row in rows),
        }
        return TemplateResponse(request, "admin/generations/generation/failures.html", context)

    @admin.action(
        description=_("Cancel selected jobs in flight (releases their holds)"), permissions=("change",)
    )
    def cancel_in_flight(self, request: HttpRequest, queryset: QuerySet):
        canceled = 0
        for generation_id in queryset.filter(status__in=IN_FLIGHT_STATUSES).values_list("pk", flat=True):
            try:
                services.generation_status_set(
                    generation_id=generation_id, status="canceled", error_code="canceled_by_operator"
                )
            except DomainError as exc:
                messages.warning(request, f"#{generation_id}: {exc.message}")
            else:
                canceled += 1
        messages.success(request, gettext("Canceled %(count)d jobs.") % {"count": canceled})

    def has_refund_permission(self, request: HttpRequest) -> bool:
        # billing's permission: refunding money is finance's decision wherever the button is.
        return request.user.has_perm("billing.issue_refund")

    @admin.action(description=_("Refund the charge of the selected jobs"), permissions=["refund"])
    def refund_charge(self, request: HttpRequest, queryset: QuerySet):
        refunded = 0
        for generation_id in queryset.order_by("pk").values_list("pk", flat=True):
            try:
                _refund, created = services.generation_refund(
                    generation_id=generation_id,
                    reason=f"Refunded by {request.user.username}",
                    operator=request.user,
                )
            except DomainError as exc:
                messages.warning(request, f"#{generation_id}: {exc.message}")
            else:
                refunded += created
                if not created:
                    messages.info(request, gettext("#%(id)s: already refunded.") % {"id": generation_id})
        messages.success(request, gettext("Refunded %(count)d jobs.") % {"count": refunded})


class NewestItemsFormSet(BaseInlineFormSet):
    """Only the newest items: a project's history can be long, the full list is the item changelist."""

    LIMIT = 50

    def get_queryset(self):
        if not hasattr(self, "_queryset"):
            self._queryset = super().get_queryset().order_by("-pk")[: self.LIMIT]
        return self._queryset


class ProjectItemInline(admin.TabularInline):
    model = ProjectItem
    formset = NewestItemsFormSet
    verbose_name_plural = _("newest items (all of them: Project items, filtered by project)")
    fields = ("id", "created_at", "generation", "model_code", "status", "inputs", "outputs")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    ordering = ("-id",)

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Project)
class ProjectAdmin(UserRefSearchMixin, BigTableAdmin):
    list_display = ("id", "name", "user", "items_count", "last_item_at", "created_at")
    list_select_related = ("user",)
    list_filter = ("created_at",)
    search_fields = ("name",)
    search_help_text = _("A Telegram id, device:<id> or ext:<id> (the user's projects), or part of a name.")
    raw_id_fields = ("user",)
    readonly_fields = ("items_count", "last_item_at", "created_at")
    inlines = (ProjectItemInline,)


@admin.register(ProjectItem)
class ProjectItemAdmin(BigTableAdmin):
    list_display = ("id", "project", "generation", "model_code", "status", "created_at")
    list_select_related = ("project",)
    list_filter = ("status",)
    raw_id_fields = ("project", "generation")
    readonly_fields = ("created_at",)


@admin.register(ProviderLog)
class ProviderLogAdmin(UserRefSearchMixin, BigTableAdmin):
    list_display = ("id", "created_at", "user", "model_code", "duration_ms", "error_message_short")
    list_select_related = ("user",)
    list_filter = ("created_at",)
    search_fields = ("=model_code",)
    search_help_text = _("A Telegram id, device:<id> or ext:<id>, or an exact model code.")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description=_("error"))
    def error_message_short(self, obj: ProviderLog) -> str:
        return obj.error_message[:80]


@admin.register(UsageDaily)
class UsageDailyAdmin(ReadOnlyBigTableAdmin):
    list_display = (
        "day",
        "model",
        "currency",
        "total",
        "succeeded",
        "failed",
        "timeout",
        "canceled",
        "revenue",
        "mean_duration_ms",
        "computed_at",
    )
    list_select_related = ("model",)
    list_filter = ("model", "day")
    ordering = ("-day", "model")


# --- The user card's jobs (accounts.card) ------------------------------------------------------


def _generations_section(user: EndUser) -> dict:
    return {
        "generations": selectors.generations_newest_for_user(user=user, limit=CARD_ROWS),
        "all_url": f"{reverse('admin:generations_generation_changelist')}?user={user.pk}",
        "wide": True,
    }


SECTION = CardSection(
    "generations",
    _("Newest generations"),
    "admin/generations/card/generations.html",
    "generations.view_generation",
    _generations_section,
    order=40,
)
register_user_card_section(SECTION)
register_user_list_facts("generations", selectors.last_generation_at_for_users)
