"""Balances (accounts) with manual adjustments, and the read-only ledger."""

from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from accounts.selectors import end_user_ids_for_ref
from billing import services
from billing.admin.common import (
    FORM_TEMPLATE,
    AccountIdFilter,
    CsvExportMixin,
    CurrencyFilter,
    ReadOnlyAdmin,
    _user_link,
)
from billing.models import (
    ONCE_PER_REFERENCE_TYPES,
    Account,
    EntryType,
    Hold,
    LedgerEntry,
)
from config.admin_utils import CappedCountPaginator
from config.errors import DomainError

# --- Accounts (balances) and manual adjustments -----------------------------------------------


class AdjustmentForm(forms.Form):
    amount = forms.DecimalField(
        max_digits=14,
        decimal_places=2,
        help_text="Positive credits the user, negative debits (never below the available balance).",
    )
    reason = forms.CharField(max_length=255, widget=forms.TextInput(attrs={"size": 80}))

    def clean_amount(self) -> Decimal:
        amount = self.cleaned_data["amount"]
        if amount == 0:
            raise forms.ValidationError("An adjustment of zero changes nothing.")
        return amount


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "owner_link",
        "kind",
        "currency",
        "balance_shown",
        "held",
        "available_shown",
        "ledger",
    )
    list_select_related = ("owner",)
    list_filter = ("kind", CurrencyFilter)
    search_fields = ("owner__telegram_id",)
    search_help_text = "A Telegram id, device:<id> or ext:<id>."
    fields = ("owner", "kind", "currency", "balance", "held", "created_at")
    readonly_fields = fields
    show_full_result_count = False
    paginator = CappedCountPaginator
    list_per_page = 50
    ordering = ("-id",)
    actions = ("adjust_selected",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        term = search_term.strip()
        if not term:
            return queryset, False
        user_ids = end_user_ids_for_ref(ref=term)
        return queryset.filter(owner_id__in=user_ids or []), False

    @admin.display(description="user", ordering="owner_id")
    def owner_link(self, obj: Account) -> str:
        return _user_link(obj.owner) if obj.owner_id else f"system: {obj.get_kind_display()}"

    @admin.display(description="balance")
    def balance_shown(self, obj: Account):
        # System accounts are never updated per movement; their balance is derived from the ledger.
        return obj.balance if obj.kind == Account.Kind.USER else "derived"

    @admin.display(description="available")
    def available_shown(self, obj: Account):
        return obj.available if obj.kind == Account.Kind.USER else "—"

    @admin.display(description="ledger")
    def ledger(self, obj: Account) -> str:
        links = format_html(
            '<a href="{}?account={}">entries</a>', reverse("admin:billing_ledgerentry_changelist"), obj.pk
        )
        if obj.kind == Account.Kind.USER:
            links += format_html(
                ' · <a href="{}">adjust</a>', reverse("admin:billing_account_adjust", args=[obj.pk])
            )
        return links

    def get_urls(self):
        custom = [
            path(
                "<int:account_id>/adjust/",
                self.admin_site.admin_view(self.adjust_view),
                name="billing_account_adjust",
            )
        ]
        return custom + super().get_urls()

    @admin.action(description="Adjust the balance of the selected account")
    def adjust_selected(self, request: HttpRequest, queryset: QuerySet):
        accounts = list(queryset.filter(kind=Account.Kind.USER).values_list("pk", flat=True)[:2])
        if len(accounts) != 1:
            messages.error(request, "Select exactly one user account to adjust.")
            return None
        return HttpResponseRedirect(reverse("admin:billing_account_adjust", args=[accounts[0]]))

    def adjust_view(self, request: HttpRequest, account_id: int):
        if not self.has_change_permission(request):
            raise PermissionDenied
        account = get_object_or_404(
            Account.objects.select_related("owner"), pk=account_id, kind=Account.Kind.USER
        )
        form = AdjustmentForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                entry = services.balance_adjust(
                    user=account.owner,
                    amount=form.cleaned_data["amount"],
                    currency=account.currency,
                    reason=form.cleaned_data["reason"],
                    operator=request.user,
                )
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(
                    request, f"Adjusted {account.owner.display_ref} by {entry.amount} {entry.currency}."
                )
                return HttpResponseRedirect(
                    f"{reverse('admin:billing_ledgerentry_changelist')}?account={account.pk}"
                )
        context = {
            **self.admin_site.each_context(request),
            "title": f"Adjust {account.owner.display_ref}: {account.balance} {account.currency} "
            f"(available {account.available})",
            "intro": "Written to the ledger as an `adjustment` entry with you as the operator and the reason.",
            "form": form,
            "submit_label": "Write adjustment",
            "back_url": reverse("admin:billing_account_changelist"),
            "back_label": "Accounts",
            "opts": self.model._meta,
        }
        return TemplateResponse(request, FORM_TEMPLATE, context)


# --- Ledger ------------------------------------------------------------------------------------


@admin.register(LedgerEntry)
class LedgerEntryAdmin(CsvExportMixin, ReadOnlyAdmin):
    list_display = (
        "id",
        "created_at",
        "type",
        "user",
        "amount",
        "balance_after",
        "currency",
        "reference",
        "description",
        "operator",
    )
    list_select_related = ("account__owner", "operator")
    list_filter = (AccountIdFilter, "type", CurrencyFilter, "created_at")
    search_fields = ("reference",)
    search_help_text = (
        "A Telegram id, device:<id> or ext:<id> (the user's entries), an entry id or an exact reference."
    )
    csv_filename = "ledger"
    csv_columns = (
        ("id", "id"),
        ("created_at", "created_at"),
        ("type", "type"),
        ("user_id", "account__owner_id"),
        ("telegram_id", "account__owner__telegram_id"),
        ("amount", "amount"),
        ("balance_after", "balance_after"),
        ("currency", "currency"),
        ("reference", "reference"),
        ("description", "description"),
        ("operator", "operator__username"),
    )

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        # Every branch is answered by an index, and ids are resolved first so that PostgreSQL can OR
        # the branches as bitmaps (an IN (subquery) would turn the whole search into a table scan):
        # references of one-time movements by the unique (type, reference) index; a charge's reference
        # through its hold (unique reference), then (account, id); a user's entries by (account, id).
        term = search_term.strip()
        if not term:
            return queryset, False
        # One equality per type: with `type IN (...)` PostgreSQL reads the partial index's whole range.
        condition = Q(pk__in=[])
        for entry_type in ONCE_PER_REFERENCE_TYPES:
            condition |= Q(type=entry_type, reference=term)
        hold_account_id = Hold.objects.filter(reference=term).values_list("account_id", flat=True).first()
        if hold_account_id is not None:
            condition |= Q(account_id=hold_account_id, reference=term)
        user_ids = end_user_ids_for_ref(ref=term)
        if user_ids:
            account_ids = list(
                Account.objects.filter(kind=Account.Kind.USER, owner_id__in=user_ids).values_list(
                    "pk", flat=True
                )
            )
            condition |= Q(account_id__in=account_ids)
        if term.isdigit() and int(term) < 2**63:
            condition |= Q(pk=int(term))
        return queryset.filter(condition), False

    @admin.display(description="user")
    def user(self, obj: LedgerEntry) -> str:
        return _user_link(obj.account.owner)

    def csv_row(self, row: tuple) -> tuple:
        return (*row[:2], EntryType(row[2]).label, *row[3:])
