"""Plans (editable; code fixed once created) and subscriptions."""

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from billing.models import Plan, Subscription
from core.admin_toolkit import BigTableAdmin, GuardedAdmin, UserRefSearchMixin

# --- Plans and subscriptions ------------------------------------------------------------------


@admin.register(Plan)
class PlanAdmin(GuardedAdmin):
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
class SubscriptionAdmin(UserRefSearchMixin, BigTableAdmin):
    list_display = ("id", "user", "plan", "started_at", "expires_at", "auto_renew", "updated_at")
    list_select_related = ("user", "plan")
    list_filter = ("plan", "auto_renew", "expires_at")
    search_fields = ("user__telegram_id",)
    user_ref_only = True
    search_help_text = _("A Telegram id, device:<id> or ext:<id>.")
    # Subscriptions change only through the subscription services (purchase, renewal, merge).
    fields = ("user", "plan", "started_at", "expires_at", "auto_renew", "updated_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
