"""Refunds: read-only records; refunding goes through the payment and generation admins' actions."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.selectors import end_user_ids_for_ref
from billing import services
from billing.admin.common import CurrencyFilter
from billing.models import ChargeRefund, Refund
from core.admin_toolkit import ReadOnlyBigTableAdmin, bigint_term, user_link
from core.errors import DomainError

REFUND_PERMISSION = "billing.issue_refund"


class RefundPermissionMixin:
    """`@admin.action(permissions=["refund"])` asks this: finance may refund, support may look."""

    def has_refund_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(REFUND_PERMISSION)


class UserOrExactSearchMixin:
    """A Telegram id / device: / ext: finds the user's rows (one unique-index probe); other terms are exact."""

    user_field = ""

    def search_other(self, queryset: QuerySet, term: str) -> QuerySet:
        raise NotImplementedError

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        term = search_term.strip()
        if not term:
            return queryset, False
        user_ids = end_user_ids_for_ref(ref=term)
        if user_ids:
            return queryset.filter(**{f"{self.user_field}__in": user_ids}), False
        return self.search_other(queryset, term), False


@admin.register(Refund)
class RefundAdmin(RefundPermissionMixin, UserOrExactSearchMixin, ReadOnlyBigTableAdmin):
    list_display = (
        "id",
        "created_at",
        "payment_id",
        "payer",
        "provider",
        "provider_refund_id",
        "amount",
        "currency",
        "status",
        "reason",
        "operator",
        "resolved_at",
    )
    list_select_related = ("payment__user", "operator")
    list_filter = ("status", "provider", CurrencyFilter, "created_at")
    search_fields = ("provider_refund_id",)
    search_help_text = _("A payment id, a YooKassa refund id, or a Telegram id / device:<id> / ext:<id>.")
    actions = ("ask_yookassa_again",)

    user_field = "payment__user_id"

    def search_other(self, queryset: QuerySet, term: str) -> QuerySet:
        if (payment_id := bigint_term(term)) is not None:
            return queryset.filter(payment_id=payment_id)
        return queryset.filter(provider_refund_id=term)

    @admin.display(description=_("payer"))
    def payer(self, obj: Refund) -> str:
        return user_link(obj.payment.user)

    @admin.action(description=_("Ask YooKassa again (refunds it never answered)"), permissions=["refund"])
    def ask_yookassa_again(self, request: HttpRequest, queryset: QuerySet):
        for refund_id in queryset.values_list("pk", flat=True):
            try:
                refund = services.refund_provider_retry(refund_id=refund_id)
            except DomainError as exc:
                messages.warning(request, f"#{refund_id}: {exc.message}")
            else:
                messages.success(
                    request,
                    gettext("Refund #%(id)s: %(status)s.") % {"id": refund_id, "status": refund.status},
                )


@admin.register(ChargeRefund)
class ChargeRefundAdmin(UserOrExactSearchMixin, ReadOnlyBigTableAdmin):
    list_display = (
        "id",
        "created_at",
        "reference",
        "user_link",
        "amount",
        "currency",
        "reason",
        "operator",
    )
    # Not the hold: a resolved hold is deleted after HOLD_RETENTION_DAYS, the refund keeps its reference.
    list_select_related = ("user", "operator")
    list_filter = (CurrencyFilter, "created_at")
    search_fields = ("reference",)
    search_help_text = _("A charge reference (generation:42) or a Telegram id / device:<id> / ext:<id>.")

    user_field = "user_id"

    def search_other(self, queryset: QuerySet, term: str) -> QuerySet:
        return queryset.filter(reference=term)

    @admin.display(description=_("user"))
    def user_link(self, obj: ChargeRefund) -> str:
        return user_link(obj.user)
