"""Holds, payments, provider events and referral rewards: read-only audit tables."""

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from accounts.selectors import end_user_ids_for_ref
from billing.admin.common import CurrencyFilter
from billing.models import Hold, Payment, ProviderEvent, ReferralReward
from core.admin_toolkit import (
    DateRangeFilter,
    ExportMixin,
    ReadOnlyBigTableAdmin,
    TotalsMixin,
    UserIdFilter,
    user_link,
)


@admin.register(Hold)
class HoldAdmin(ReadOnlyBigTableAdmin):
    list_display = (
        "id",
        "created_at",
        "user",
        "amount",
        "captured_amount",
        "status",
        "reference",
        "expires_at",
    )
    list_select_related = ("account__owner",)
    list_filter = ("status", "created_at")
    search_fields = ("reference",)
    search_help_text = _("An exact reference (e.g. generation:42).")

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        term = search_term.strip()
        return (queryset.filter(reference=term), False) if term else (queryset, False)

    @admin.display(description=_("user"))
    def user(self, obj: Hold) -> str:
        return user_link(obj.account.owner)


@admin.register(Payment)
class PaymentAdmin(TotalsMixin, ExportMixin, ReadOnlyBigTableAdmin):
    list_display = (
        "id",
        "created_at",
        "user_link",
        "provider",
        "provider_payment_id",
        "status",
        "amount",
        "currency",
        "resolved_at",
    )
    list_select_related = ("user",)
    list_filter = (UserIdFilter, "provider", "status", CurrencyFilter, ("created_at", DateRangeFilter))
    search_fields = ("provider_payment_id",)
    search_help_text = _("A Telegram id, device:<id> or ext:<id>, a payment id or a provider payment id.")
    export_filename = "payments"
    export_permission = "billing.export_payment"
    export_columns = (
        (_("id"), "id"),
        (_("created at"), "created_at"),
        (_("user id"), "user_id"),
        (_("Telegram id"), "user__telegram_id"),
        (_("provider"), "provider"),
        (_("provider payment id"), "provider_payment_id"),
        (_("status"), "status"),
        (_("amount"), "amount"),
        (_("currency"), "currency"),
        (_("resolved at"), "resolved_at"),
    )

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        term = search_term.strip()
        if not term:
            return queryset, False
        # One equality per provider, so each probes the unique (provider, provider_payment_id) index.
        condition = Q(pk__in=[])
        for provider in Payment.Provider.values:
            condition |= Q(provider=provider, provider_payment_id=term)
        user_ids = end_user_ids_for_ref(ref=term)
        if user_ids:
            condition |= Q(user_id__in=user_ids)
        if term.isdigit() and int(term) < 2**63:
            condition |= Q(pk=int(term))
        return queryset.filter(condition), False

    @admin.display(description=_("user"), ordering="user_id")
    def user_link(self, obj: Payment) -> str:
        return user_link(obj.user)


@admin.register(ProviderEvent)
class ProviderEventAdmin(ReadOnlyBigTableAdmin):
    list_display = (
        "id",
        "received_at",
        "provider",
        "event_type",
        "provider_payment_id",
        "outcome",
        "payment_id",
        "detail",
    )
    list_filter = ("provider", "outcome", "received_at")
    search_fields = ("provider_payment_id",)
    search_help_text = _("An exact provider payment id.")

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        term = search_term.strip()
        return (queryset.filter(provider_payment_id=term), False) if term else (queryset, False)


@admin.register(ReferralReward)
class ReferralRewardAdmin(ReadOnlyBigTableAdmin):
    list_display = ("id", "created_at", "referrer", "referred", "payment_id", "amount", "currency")
    list_select_related = ("referrer", "referred")
    list_filter = (CurrencyFilter, "created_at")
