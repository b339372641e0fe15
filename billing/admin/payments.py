"""Holds, payments, provider events and referral rewards: read-only audit tables."""

from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.selectors import end_user_ids_for_ref
from billing import services
from billing.admin.common import CurrencyFilter
from billing.admin.refunds import RefundPermissionMixin
from billing.models import Hold, Payment, ProviderEvent, ReferralReward
from core.admin_toolkit import (
    FORM_TEMPLATE,
    CustomView,
    ExportMixin,
    IdBoundedDateRangeFilter,
    ReadOnlyBigTableAdmin,
    TotalsMixin,
    UserIdFilter,
    bigint_term,
    user_link,
)
from core.errors import DomainError


class RefundForm(forms.Form):
    amount = forms.DecimalField(
        label=_("amount"),
        max_digits=14,
        decimal_places=2,
        min_value=Decimal("0.01"),
        required=False,
        help_text=_("Empty: everything that is left to refund."),
    )
    reason = forms.CharField(label=_("reason"), max_length=255, widget=forms.TextInput(attrs={"size": 80}))


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
class PaymentAdmin(RefundPermissionMixin, TotalsMixin, ExportMixin, ReadOnlyBigTableAdmin):
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
    list_filter = (
        UserIdFilter,
        "provider",
        "status",
        CurrencyFilter,
        ("created_at", IdBoundedDateRangeFilter),
    )
    actions = ("refund_remaining",)
    custom_views = (
        CustomView("<int:payment_id>/refund/", "refund_view", "refund", ("billing.issue_refund",)),
    )
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
        if (pk := bigint_term(term)) is not None:
            condition |= Q(pk=pk)
        return queryset.filter(condition), False

    @admin.display(description=_("user"), ordering="user_id")
    def user_link(self, obj: Payment) -> str:
        return user_link(obj.user)

    def refund_view(self, request: HttpRequest, payment_id: int):
        """The user card's refund: an amount (default what is left) and a reason, through the service."""
        payment = get_object_or_404(Payment.objects.select_related("user"), pk=payment_id)
        card_url = reverse("admin:accounts_enduser_change", args=[payment.user_id])
        form = RefundForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                refund = services.refund_by_operator(
                    payment_id=payment.pk,
                    operator=request.user,
                    reason=form.cleaned_data["reason"],
                    amount=form.cleaned_data["amount"],
                )
            except DomainError as exc:
                form.add_error("amount" if "amount" in exc.details else None, exc.message)
            else:
                messages.success(
                    request,
                    gettext("Refund #%(id)s of %(amount)s %(currency)s: %(status)s.")
                    % {
                        "id": refund.pk,
                        "amount": refund.amount,
                        "currency": refund.currency,
                        "status": refund.status,
                    },
                )
                return HttpResponseRedirect(card_url)
        context = {
            **self.admin_site.each_context(request),
            "title": gettext(
                "Refund payment #%(id)s of %(user)s: %(amount)s %(currency)s, %(left)s left to refund"
            )
            % {
                "id": payment.pk,
                "user": payment.user.display_ref,
                "amount": payment.amount,
                "currency": payment.currency,
                "left": payment.amount - payment.refunded_amount,
            },
            "intro": gettext(
                "YooKassa refunds are asked of YooKassa at once; a Telegram Stars refund waits for the bot "
                "to report refundStarPayment's outcome. The user's balance is debited when it succeeds."
            ),
            "form": form,
            "submit_label": gettext("Refund"),
            "back_url": card_url,
            "back_label": payment.user.display_ref,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, FORM_TEMPLATE, context)

    @admin.action(description=_("Refund what is left of the selected payments"), permissions=["refund"])
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
                messages.warning(request, f"#{payment_id}: {exc.message}")
            else:
                messages.success(
                    request,
                    gettext("Payment #%(payment)s: refund #%(id)s of %(amount)s is %(status)s.")
                    % {
                        "payment": payment_id,
                        "id": refund.pk,
                        "amount": refund.amount,
                        "status": refund.status,
                    },
                )


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
