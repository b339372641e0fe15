"""Holds, payments, provider events and referral rewards: read-only audit tables."""

from django.contrib import admin, messages
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from accounts.selectors import end_user_ids_for_ref
from billing import services
from billing.admin.common import (
    CsvExportMixin,
    CurrencyFilter,
    ReadOnlyAdmin,
    _user_link,
)
from billing.admin.refunds import RefundPermissionMixin
from billing.models import (
    Hold,
    Payment,
    ProviderEvent,
    ReferralReward,
)
from config.errors import DomainError

# --- Holds, payments, provider events, referral rewards ---------------------------------------


@admin.register(Hold)
class HoldAdmin(ReadOnlyAdmin):
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
    search_help_text = "An exact reference (e.g. generation:42)."

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        term = search_term.strip()
        return (queryset.filter(reference=term), False) if term else (queryset, False)

    @admin.display(description="user")
    def user(self, obj: Hold) -> str:
        return _user_link(obj.account.owner)


@admin.register(Payment)
class PaymentAdmin(RefundPermissionMixin, CsvExportMixin, ReadOnlyAdmin):
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
    list_filter = ("provider", "status", CurrencyFilter, "created_at")
    actions = ("refund_remaining",)
    search_fields = ("provider_payment_id",)
    search_help_text = "A Telegram id, device:<id> or ext:<id>, a payment id or a provider payment id."
    csv_filename = "payments"
    csv_columns = (
        ("id", "id"),
        ("created_at", "created_at"),
        ("user_id", "user_id"),
        ("telegram_id", "user__telegram_id"),
        ("provider", "provider"),
        ("provider_payment_id", "provider_payment_id"),
        ("status", "status"),
        ("amount", "amount"),
        ("currency", "currency"),
        ("resolved_at", "resolved_at"),
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

    @admin.display(description="user", ordering="user_id")
    def user_link(self, obj: Payment) -> str:
        return _user_link(obj.user)

    @admin.action(description="Refund what is left of the selected payments", permissions=["refund"])
    def refund_remaining(self, request: HttpRequest, queryset: QuerySet):
        """YooKassa refunds are asked of YooKassa at once; Stars refunds wait for the bot's report."""
        for payment_id in queryset.order_by("pk").values_list("pk", flat=True):
            try:
                refund = services.refund_by_operator(
                    payment_id=payment_id,
                    operator=request.user,
                    reason=f"Refunded by {request.user.username}",
                )
            except DomainError as exc:
                messages.warning(request, f"Payment #{payment_id}: {exc.message}")
            else:
                messages.success(
                    request,
                    f"Payment #{payment_id}: refund #{refund.pk} of {refund.amount} is {refund.status}.",
                )


@admin.register(ProviderEvent)
class ProviderEventAdmin(ReadOnlyAdmin):
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
    search_help_text = "An exact provider payment id."

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        term = search_term.strip()
        return (queryset.filter(provider_payment_id=term), False) if term else (queryset, False)


@admin.register(ReferralReward)
class ReferralRewardAdmin(ReadOnlyAdmin):
    list_display = ("id", "created_at", "referrer", "referred", "payment_id", "amount", "currency")
    list_select_related = ("referrer", "referred")
    list_filter = (CurrencyFilter, "created_at")
