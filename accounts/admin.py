import uuid

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from accounts import services, webhook_delivery
from accounts.errors import AccountsError
from accounts.models import ApiKey, BotEvent, EndUser, Operator, WebhookDelivery, WebhookEndpoint
from accounts.selectors import user_ref_parse
from config.admin_utils import ReadOnlyAdmin

WEBHOOK_DELIVERY_INLINE_ROWS = 20


@admin.register(Operator)
class OperatorAdmin(UserAdmin):
    list_display = ("username", "email", "first_name", "last_name", "is_staff", "is_superuser", "last_login")


class IdentityFilter(admin.SimpleListFilter):
    title = "identity"
    parameter_name = "identity"

    def lookups(self, request, model_admin):
        return [
            ("telegram", "Has Telegram id"),
            ("anonymous", "Anonymous (device only)"),
            ("external", "Has external id"),
            ("merged", "Merged into another user"),
        ]

    def queryset(self, request, queryset):
        match self.value():
            case "telegram":
                return queryset.filter(telegram_id__isnull=False)
            case "anonymous":
                return queryset.filter(
                    telegram_id__isnull=True, external_id__isnull=True, merged_into__isnull=True
                )
            case "external":
                return queryset.filter(external_id__isnull=False)
            case "merged":
                return queryset.filter(merged_into__isnull=False)
        return queryset


class HasReferrerFilter(admin.SimpleListFilter):
    title = "referred"
    parameter_name = "referred"

    def lookups(self, request, model_admin):
        return [("yes", "Referred by someone"), ("no", "Not referred")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(referrer__isnull=False)
        if self.value() == "no":
            return queryset.filter(referrer__isnull=True)
        return queryset


@admin.register(EndUser)
class EndUserAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "telegram_id",
        "username",
        "first_name",
        "last_name",
        "device_id",
        "referrer",
        "created_at",
    )
    list_display_links = ("id", "telegram_id")
    list_select_related = ("referrer",)
    list_filter = (IdentityFilter, HasReferrerFilter, "language_code", "created_at")
    search_fields = ("username", "first_name", "last_name")
    search_help_text = "Telegram id, device:<id>, ext:<id>, or part of a username or name."
    raw_id_fields = ("referrer", "merged_into")
    readonly_fields = ("created_at", "updated_at", "merged_into")
    show_full_result_count = False
    list_per_page = 50
    ordering = ("-id",)

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        # An identity is answered by its unique index; only free text falls back to trigram name search.
        term = search_term.strip()
        if term:
            try:
                field, value = user_ref_parse(term)
            except AccountsError:
                pass
            else:
                return queryset.filter(**{field: value}), False
        return super().get_search_results(request, queryset, search_term)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("name", "prefix", "created_at", "last_used_at", "revoked_at", "created_by")
    list_select_related = ("created_by",)
    list_filter = ("revoked_at",)
    search_fields = ("name", "prefix")
    fields = ("name", "prefix", "created_at", "last_used_at", "revoked_at", "created_by")
    readonly_fields = ("prefix", "created_at", "last_used_at", "revoked_at", "created_by")
    actions = ("revoke_keys",)

    def save_model(self, request, obj, form, change):
        if change:
            obj.save(update_fields=["name"])
            return
        api_key, raw_key = services.api_key_create(name=obj.name, created_by=request.user)
        obj.pk = api_key.pk
        obj.prefix, obj.key_hash, obj.created_at = api_key.prefix, api_key.key_hash, api_key.created_at
        # Shown once: only the hash is stored.
        messages.warning(
            request, f"New API key for {obj.name}: {raw_key} — copy it now, it will not be shown again."
        )

    @admin.action(description="Revoke selected API keys")
    def revoke_keys(self, request, queryset):
        for api_key in queryset.filter(revoked_at__isnull=True):
            services.api_key_revoke(api_key=api_key)
        messages.success(request, "Revoked.")


# --- Events sent to the bots' webhooks ---------------------------------------------------------


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ReadOnlyAdmin):
    list_display = ("api_key", "url", "event_types", "updated_at")
    list_select_related = ("api_key",)
    search_fields = ("url", "api_key__name", "api_key__prefix")
    fields = ("api_key", "url", "events", "created_at", "updated_at")

    @admin.display(description="events")
    def event_types(self, obj: WebhookEndpoint) -> str:
        return "all" if obj.events is None else ", ".join(obj.events)


@admin.register(BotEvent)
class BotEventAdmin(ReadOnlyAdmin):
    list_display = ("public_id", "type", "api_key", "created_at", "status", "attempts", "next_attempt_at",
                    "short_error")  # fmt: skip
    list_select_related = ("api_key",)
    list_filter = ("status", "type", "created_at")
    search_fields = ("public_id",)
    search_help_text = "An event id (the Botdesk-Event-Id header)."
    fields = ("public_id", "type", "api_key", "created_at", "status", "attempts", "next_attempt_at",
              "last_attempt_at", "last_error", "delivered_at", "finished_at", "data", "recent_deliveries")  # fmt: skip
    actions = ("redeliver",)

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        term = search_term.strip()
        if not term:
            return queryset, False
        try:
            return queryset.filter(public_id=uuid.UUID(term)), False
        except ValueError:
            return queryset.none(), False

    @admin.display(description="last error")
    def short_error(self, obj: BotEvent) -> str:
        return obj.last_error[:80]

    @admin.display(description=f"attempts (newest {WEBHOOK_DELIVERY_INLINE_ROWS})")
    def recent_deliveries(self, obj: BotEvent) -> str:
        rows = obj.deliveries.order_by("-id")[:WEBHOOK_DELIVERY_INLINE_ROWS]
        return format_html(
            "<table><tr><th>#</th><th>started</th><th>ms</th><th>HTTP</th><th>error</th></tr>{}</table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                (
                    (row.attempt, row.started_at, row.duration_ms, row.status_code or "-", row.error)
                    for row in rows
                ),
            ),
        )

    def has_redeliver_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("accounts.redeliver_botevent")

    @admin.action(description="Send again now (a fresh retry schedule)", permissions=["redeliver"])
    def redeliver(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = webhook_delivery.bot_events_redeliver(event_ids=list(queryset.values_list("pk", flat=True)))
        messages.success(request, f"{count} event(s) queued for delivery.")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ("id", "event", "attempt", "started_at", "status_code", "ok", "duration_ms", "short_error")
    list_select_related = ("event",)
    list_filter = ("ok", "started_at")
    raw_id_fields = ("event",)

    @admin.display(description="error")
    def short_error(self, obj: WebhookDelivery) -> str:
        return obj.error[:80]
