"""Shared pieces of the billing admin: user links, hidden filters, CSV export (and config's read-only base)."""

from collections.abc import Iterable

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseRedirect, StreamingHttpResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from accounts.models import EndUser
from config.admin_utils import ReadOnlyAdmin, csv_stream  # noqa: F401 (ReadOnlyAdmin: re-exported)

CSV_EXPORT_CHUNK = 2000
EXPORT_TEMPLATE = "admin/billing/change_list_export.html"
FORM_TEMPLATE = "admin/billing/form.html"


def _user_link(user: EndUser | None) -> str:
    if user is None:
        return "—"
    return format_html(
        '<a href="{}">{}</a>', reverse("admin:accounts_enduser_change", args=[user.pk]), user.display_ref
    )


def _csv_response(filename: str, header: list[str], rows: Iterable[tuple]) -> StreamingHttpResponse:
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    return StreamingHttpResponse(
        csv_stream(header, rows),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}-{stamp}.csv"'},
    )


class HiddenIdFilter(admin.SimpleListFilter):
    """A filter reached by links (e.g. "this account's ledger"), not shown in the sidebar."""

    field = ""

    def lookups(self, request, model_admin):
        return []

    def has_output(self) -> bool:
        return False

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        if not value.isdigit():
            return queryset.none()
        return queryset.filter(**{self.field: int(value)})


class CurrencyFilter(admin.SimpleListFilter):
    """Choices from settings: a DISTINCT over millions of ledger rows would scan the whole table."""

    title = "currency"
    parameter_name = "currency"

    def lookups(self, request, model_admin):
        return [(code, code) for code in settings.CURRENCIES]

    def queryset(self, request, queryset):
        value = self.value()
        return queryset if value is None else queryset.filter(currency=value)


class AccountIdFilter(HiddenIdFilter):
    title = "account"
    parameter_name = "account"
    field = "account_id"


class CsvExportMixin:
    """Adds "Export CSV" for the changelist's current filters and search, streamed row by row."""

    change_list_template = EXPORT_TEMPLATE
    csv_filename = "export"
    csv_columns: tuple[tuple[str, str], ...] = ()  # (header, values_list path)

    def extra_tools(self, request: HttpRequest) -> list[dict]:
        return [{"url": "export/", "label": "Export CSV (filtered)", "keep_filters": True}]

    def changelist_view(self, request: HttpRequest, extra_context=None):
        extra_context = {**(extra_context or {}), "billing_tools": self.extra_tools(request)}
        return super().changelist_view(request, extra_context)

    def get_urls(self):
        opts = self.model._meta
        name = f"{opts.app_label}_{opts.model_name}_export"
        custom = [path("export/", self.admin_site.admin_view(self.export_view), name=name)]
        return custom + super().get_urls()

    def export_view(self, request: HttpRequest):
        if not self.has_view_permission(request):
            raise PermissionDenied
        # The same queryset the changelist shows (filters, search, date range), without its paging.
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            opts = self.model._meta
            return HttpResponseRedirect(
                reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist") + "?e=1"
            )
        queryset = changelist.get_queryset(request).order_by("pk")
        rows = queryset.values_list(*(column for _, column in self.csv_columns)).iterator(
            chunk_size=CSV_EXPORT_CHUNK
        )
        return _csv_response(
            self.csv_filename, [header for header, _ in self.csv_columns], map(self.csv_row, rows)
        )

    def csv_row(self, row: tuple) -> tuple:
        return row
