"""Balances (accounts) with manual adjustments, and the read-only ledger with totals and export."""

from collections.abc import Iterator
from decimal import Decimal
from itertools import islice
from typing import NamedTuple

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.selectors import end_user_ids_for_ref
from billing import services
from billing.admin.common import AccountIdFilter, CurrencyFilter
from billing.models import ONCE_PER_REFERENCE_TYPES, Account, EntryType, Hold, LedgerEntry
from billing.references import ledger_entries_describe, ledger_entries_describe_shown
from core.admin_toolkit import (
    EXPORT_CHUNK,
    FORM_TEMPLATE,
    BigTableAdmin,
    CustomView,
    ExportMixin,
    HiddenIdFilter,
    IdBoundedDateRangeFilter,
    ReadOnlyBigTableAdmin,
    TotalsMixin,
    bigint_term,
    user_link,
)
from core.errors import DomainError

# --- Accounts (balances) and manual adjustments -----------------------------------------------


class AdjustmentForm(forms.Form):
    amount = forms.DecimalField(
        label=_("amount"),
        max_digits=14,
        decimal_places=2,
        help_text=_("Positive credits the user, negative debits (never below the available balance)."),
    )
    reason = forms.CharField(label=_("reason"), max_length=255, widget=forms.TextInput(attrs={"size": 80}))

    def clean_amount(self) -> Decimal:
        amount = self.cleaned_data["amount"]
        if amount == 0:
            raise forms.ValidationError(_("An adjustment of zero changes nothing."))
        return amount


@admin.register(Account)
class AccountAdmin(BigTableAdmin):
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
    search_help_text = _("A Telegram id, device:<id> or ext:<id>.")
    fields = ("owner", "kind", "currency", "balance", "held", "created_at")
    readonly_fields = fields
    actions = ("adjust_selected",)
    custom_views = (
        CustomView("<int:account_id>/adjust/", "adjust_view", "adjust", ("billing.change_account",)),
    )

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

    @admin.display(description=_("user"), ordering="owner_id")
    def owner_link(self, obj: Account) -> str:
        return user_link(obj.owner) if obj.owner_id else f"{gettext('system')}: {obj.get_kind_display()}"

    @admin.display(description=_("balance"))
    def balance_shown(self, obj: Account):
        # System accounts are never updated per movement; their balance is derived from the ledger.
        return obj.balance if obj.kind == Account.Kind.USER else gettext("derived")

    @admin.display(description=_("available"))
    def available_shown(self, obj: Account):
        return obj.available if obj.kind == Account.Kind.USER else "—"

    @admin.display(description=_("ledger"))
    def ledger(self, obj: Account) -> str:
        links = format_html(
            '<a href="{}?account={}">{}</a>',
            reverse("admin:billing_ledgerentry_changelist"),
            obj.pk,
            gettext("entries"),
        )
        if obj.kind == Account.Kind.USER:
            links += format_html(
                ' · <a href="{}">{}</a>',
                reverse("admin:billing_account_adjust", args=[obj.pk]),
                gettext("adjust"),
            )
        return links

    @admin.action(description=_("Adjust the balance of the selected account"), permissions=("change",))
    def adjust_selected(self, request: HttpRequest, queryset: QuerySet):
        accounts = list(queryset.filter(kind=Account.Kind.USER).values_list("pk", flat=True)[:2])
        if len(accounts) != 1:
            messages.error(request, gettext("Select exactly one user account to adjust."))
            return None
        return HttpResponseRedirect(reverse("admin:billing_account_adjust", args=[accounts[0]]))

    def adjust_view(self, request: HttpRequest, account_id: int):
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
                form.add_error("amount" if "amount" in exc.details else None, exc.message)
            else:
                messages.success(
                    request,
                    gettext("Adjusted %(user)s by %(amount)s %(currency)s.")
                    % {"user": account.owner.display_ref, "amount": entry.amount, "currency": entry.currency},
                )
                return HttpResponseRedirect(reverse("admin:accounts_enduser_change", args=[account.owner_id]))
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Adjust %(user)s: %(balance)s %(currency)s (available %(available)s)")
            % {
                "user": account.owner.display_ref,
                "balance": account.balance,
                "currency": account.currency,
                "available": account.available,
            },
            "intro": gettext(
                "Written to the ledger as an adjustment entry with you as the operator and the reason."
            ),
            "form": form,
            "submit_label": gettext("Write adjustment"),
            "back_url": reverse("admin:accounts_enduser_change", args=[account.owner_id]),
            "back_label": account.owner.display_ref,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, FORM_TEMPLATE, context)


# --- Ledger ------------------------------------------------------------------------------------


class AccountOwnerFilter(HiddenIdFilter):
    """All of one user's entries, every currency (the user card's link)."""

    title = _("user")
    parameter_name = "user"
    field = "account__owner_id"


class LedgerChangeList(ChangeList):
    """Describes the page's entries together: a charge's text comes from its job, one query per page."""

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        ledger_entries_describe_shown(list(self.result_list))  # evaluated once; the template reuses the rows


class _ExportedEntry(NamedTuple):
    """The two columns of an export row that its description is derived from."""

    reference: str
    description: str


@admin.register(LedgerEntry)
class LedgerEntryAdmin(TotalsMixin, ExportMixin, ReadOnlyBigTableAdmin):
    list_display = (
        "id",
        "created_at",
        "type",
        "user",
        "amount",
        "balance_after",
        "currency",
        "reference",
        "description_text",
        "operator",
    )
    # The detail page: the model's fields as the default form shows them, the description derived.
    fields = (
        "type",
        "account",
        "counter_account",
        "currency",
        "amount",
        "balance_after",
        "reference",
        "description_text",
        "operator",
    )
    readonly_fields = ("description_text",)
    list_select_related = ("account__owner", "operator")
    list_filter = (
        AccountIdFilter,
        AccountOwnerFilter,
        "type",
        CurrencyFilter,
        ("created_at", IdBoundedDateRangeFilter),
    )
    search_fields = ("reference",)
    search_help_text = _(
        "A Telegram id, device:<id> or ext:<id> (the user's entries), an entry id or an exact reference."
    )
    export_filename = "ledger"
    export_permission = "billing.export_ledgerentry"
    export_columns = (
        (_("id"), "id"),
        (_("created at"), "created_at"),
        (_("type"), "type"),
        (_("user id"), "account__owner_id"),
        (_("Telegram id"), "account__owner__telegram_id"),
        (_("amount"), "amount"),
        (_("balance after"), "balance_after"),
        (_("currency"), "currency"),
        (_("reference"), "reference"),
        (_("description"), "description"),
        (_("operator"), "operator__username"),
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
        if (pk := bigint_term(term)) is not None:
            condition |= Q(pk=pk)
        return queryset.filter(condition), False

    def get_changelist(self, request: HttpRequest, **kwargs):
        return LedgerChangeList

    @admin.display(description=_("user"))
    def user(self, obj: LedgerEntry) -> str:
        return user_link(obj.account.owner)

    @admin.display(description=_("description"))
    def description_text(self, obj: LedgerEntry) -> str:
        # The changelist described its whole page at once; the detail page describes its one entry.
        if not hasattr(obj, "description_shown"):
            ledger_entries_describe_shown([obj])
        return obj.description_shown

    def export_rows(self, rows: Iterator[tuple]) -> Iterator[tuple]:
        # Described a chunk at a time (one describer query per chunk), as the rows stream out.
        columns = [column for _, column in self.export_columns]
        reference, description = columns.index("reference"), columns.index("description")
        while chunk := list(islice(rows, EXPORT_CHUNK)):
            texts = ledger_entries_describe(
                [_ExportedEntry(row[reference], row[description]) for row in chunk]
            )
            for row, text in zip(chunk, texts, strict=True):
                row = list(row)
                row[description] = text
                yield self.export_row(tuple(row))

    def export_row(self, row: tuple) -> tuple:
        return (*row[:2], EntryType(row[2]).label, *row[3:])
