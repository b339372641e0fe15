"""Shared pieces of the billing admin: capped counts, hidden filters, read-only base, streamed CSV."""

import csv
from collections.abc import Iterable, Iterator

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponseRedirect, StreamingHttpResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html

from accounts.errors import AccountsError
from accounts.models import EndUser
from accounts.selectors import user_ref_parse

CSV_EXPORT_CHUNK = 2000
EXPORT_TEMPLATE = "admin/billing/change_list_export.html"
FORM_TEMPLATE = "admin/billing/form.html"


class CappedCountPaginator(Paginator):
    """Counts at most CAP rows: an exact COUNT(*) over millions of entries would dominate every page."""

    CAP = 10_000

    @cached_property
    def count(self) -> int:
        return self.object_list[: self.CAP + 1].count()


def _user_ids_for_ref(term: str) -> list[int] | None:
    """The users a search term names by identity (Telegram id, device:, ext:), or None if it names none."""
    try:
        field, value = user_ref_parse(term)
    except AccountsError:
        return None
    return list(EndUser.objects.filter(**{field: value}).values_list("pk", flat=True))


def _user_link(user: EndUser | None) -> str:
    if user is None:
        return "—"
    return format_html(
        '<a href="{}">{}</a>', reverse("admin:accounts_enduser_change", args=[user.pk]), user.display_ref
    )


class _Echo:
    def write(self, value: str) -> str:
        return value


FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _spreadsheet_safe(value):
    # Text from bots or operators must not run as a formula when the export is opened in a spreadsheet.
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _csv_response(filename: str, header: list[str], rows: Iterable[tuple]) -> StreamingHttpResponse:
    def stream() -> Iterator[str]:
        writer = csv.writer(_Echo())
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow([_spreadsheet_safe(value) for value in row])

    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    return StreamingHttpResponse(
        stream(),
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


class ReadOnlyAdmin(admin.ModelAdmin):
    """Audit tables: viewable, never added, changed or deleted from the admin."""

    show_full_result_count = False
    paginator = CappedCountPaginator
    list_per_page = 50
    ordering = ("-id",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


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
