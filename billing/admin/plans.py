"""Plans (editable; code fixed once created) and subscriptions."""

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.selectors import end_user_ids_for_ref
from billing.models import (
    Plan,
    Subscription,
)
from config.admin_utils import CappedCountPaginator

# --- Plans and subscriptions ------------------------------------------------------------------


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "price", "currency", "period_days", "limits", "is_active", "sort_order")
    list_editable = ("price", "is_active", "sort_order")
    search_fields = ("code", "name")
    ordering = ("sort_order", "code")

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        # Subscriptions point at plans; deactivate instead.
        return False

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        # Code finds plans (`free` is what every user falls back to): fixed once the plan exists.
        return ("code",) if obj is not None else ()


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "plan", "started_at", "expires_at", "auto_renew", "updated_at")
    list_select_related = ("user", "plan")
    list_filter = ("plan", "auto_renew", "expires_at")
    search_fields = ("user__telegram_id",)
    search_help_text = "A Telegram id, device:<id> or ext:<id>."
    raw_id_fields = ("user",)
    readonly_fields = ("updated_at",)
    show_full_result_count = False
    paginator = CappedCountPaginator
    list_per_page = 50
    ordering = ("-id",)

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(user_id__in=end_user_ids_for_ref(ref=term) or []), False
