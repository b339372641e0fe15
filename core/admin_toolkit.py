"""The admin toolkit every app's admin uses; it imports no app.

- `GuardedAdmin`: the base of every project admin. Every action declares `allowed_permissions`; posting
  an action the operator may not run is a 403 and runs nothing. Custom views are declared in
  `custom_views` with the permissions they need, so the role matrix test finds every one of them.
- `ReadOnlyAdmin` (audit tables) and `BigTableAdmin` (capped counts, `-id` ordering, no full count).
- `UserRefSearchMixin`: a Telegram id, `device:` or `ext:` in the search box finds the user's rows by
  the (user, ...) index; the resolver is named by the setting `ADMIN_USER_REF_RESOLVER`.
- `user_link`, `ExportMixin` (streamed CSV that Russian Excel opens: UTF-8 BOM, `;`), `DateRangeFilter`
  (and `IdBoundedDateRangeFilter`, which also bounds the primary key of tables declared in core.id_bounds)
  and `TotalsMixin` (sums per currency of the filtered rows, one capped aggregate query).
"""

import csv
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, QuerySet, Sum
from django.forms import DateField, DateTimeField
from django.http import HttpRequest, HttpResponseRedirect, StreamingHttpResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

from core.id_bounds import ids_within

# Text from bots or operators must not run as a formula when an export is opened in a spreadsheet.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# Russian Excel reads a CSV as UTF-8 only with a BOM, and splits columns on ";" (its list separator).
UTF8_BOM = "\ufeff"
CSV_DELIMITER = ";"
EXPORT_CHUNK = 2000
TOOLS_TEMPLATE = "admin/core/change_list.html"
FORM_TEMPLATE = "admin/core/form.html"
STANDARD_URL_SUFFIXES = ("_changelist", "_add", "_history", "_delete", "_change", "_autocomplete")


# --- Counting and paging -----------------------------------------------------------------------


class CappedCountPaginator(Paginator):
    """Counts at most CAP rows: an exact COUNT(*) over millions of rows would dominate every page load."""

    CAP = 10_000

    @cached_property
    def count(self) -> int:
        return self.object_list[: self.CAP + 1].count()


# --- Permissions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CustomView:
    """An admin view beside the standard ones: `route` under the model's admin URL, the method that
    answers it, the URL name's suffix (`<app>_<model>_<name>`) and the permissions it needs."""

    route: str
    method: str
    name: str
    permissions: tuple[str, ...]


def has_perms(request: HttpRequest, permissions: Sequence[str]) -> bool:
    return request.user.is_active and request.user.has_perms(permissions)


class GuardedAdmin(admin.ModelAdmin):
    custom_views: tuple[CustomView, ...] = ()

    def get_urls(self):
        opts = self.model._meta
        custom = [
            path(
                view.route,
                self.admin_site.admin_view(self._guarded_view(view)),
                name=f"{opts.app_label}_{opts.model_name}_{view.name}",
            )
            for view in self.custom_views
        ]
        return custom + super().get_urls()

    def _guarded_view(self, view: CustomView) -> Callable:
        method = getattr(self, view.method)

        def guarded(request: HttpRequest, *args, **kwargs):
            if not has_perms(request, view.permissions):
                raise PermissionDenied
            return method(request, *args, **kwargs)

        guarded.__name__ = view.method
        return guarded

    def changelist_view(self, request: HttpRequest, extra_context=None):
        # Django answers an action the operator may not run with "no action selected" (302); say 403
        # instead, so a crafted POST is refused as what it is and nothing runs.
        if request.method == "POST" and "action" in request.POST and "index" in request.POST:
            name = request.POST["action"]
            declared = {action_name for _, action_name, _ in self._get_base_actions()}
            if name in declared and name not in self.get_actions(request):
                raise PermissionDenied
        return super().changelist_view(request, extra_context)


class ReadOnlyAdmin(GuardedAdmin):
    """Audit tables: viewable, never added, changed or deleted from the admin."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class BigTableAdmin(GuardedAdmin):
    """Millions of rows: never count them all, newest first by the primary key."""

    show_full_result_count = False
    paginator = CappedCountPaginator
    list_per_page = 50
    ordering = ("-id",)


class ReadOnlyBigTableAdmin(ReadOnlyAdmin, BigTableAdmin):
    pass


# --- Users --------------------------------------------------------------------------------------


def user_ids_for_ref(term: str) -> list[int] | None:
    """The users a search term names by identity, or None when it names none (see the setting)."""
    return import_string(settings.ADMIN_USER_REF_RESOLVER)(ref=term)


class UserRefSearchMixin:
    """A Telegram id, device: or ext: finds the user's rows by the (user, ...) index; other terms search as usual."""

    user_ref_field = "user_id"
    # True where no other column is indexed for search: any other term then finds nothing, never a scan.
    user_ref_only = False

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        term = search_term.strip()
        if not term:
            return queryset, False
        user_ids = user_ids_for_ref(term)
        if user_ids is not None:
            return queryset.filter(**{f"{self.user_ref_field}__in": user_ids}), False
        if self.user_ref_only:
            return queryset.none(), False
        return super().get_search_results(request, queryset, search_term)


class HiddenIdFilter(admin.SimpleListFilter):
    """A filter reached by links (e.g. "this account's ledger"), not shown in the sidebar.

    It must still "have output": the changelist only applies filters that do; its template is empty.
    """

    field = ""
    template = "admin/core/hidden_filter.html"

    def lookups(self, request, model_admin):
        return []

    def has_output(self) -> bool:
        return True

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        if not value.isdigit():
            return queryset.none()
        return queryset.filter(**{self.field: int(value)})


class UserIdFilter(HiddenIdFilter):
    """The user card's "all of them" links: this user's rows, by the (user, ...) index."""

    title = _("user")
    parameter_name = "user"
    field = "user_id"


BIGINT_MAX = 2**63 - 1


def bigint_term(term: str) -> int | None:
    """A search term that is a whole number a bigint column holds (an id), else None.

    ASCII digits only: str.isdigit() also accepts "²" or "٣", which int() refuses or reads as a number.
    """
    return int(term) if term.isascii() and term.isdigit() and int(term) <= BIGINT_MAX else None


def user_link(user) -> str:
    if user is None:
        return "—"
    return format_html(
        '<a href="{}">{}</a>', reverse("admin:accounts_enduser_change", args=[user.pk]), user.display_ref
    )


# --- Tools on the changelist ---------------------------------------------------------------------


class ToolsMixin:
    """Links above a changelist (`tools`), and the rows its filters and search select (`filtered_queryset`)."""

    change_list_template = TOOLS_TEMPLATE

    def tools(self, request: HttpRequest) -> list[dict]:
        return []

    def changelist_view(self, request: HttpRequest, extra_context=None):
        extra_context = {**(extra_context or {}), "admin_tools": self.tools(request)}
        return super().changelist_view(request, extra_context)

    def filtered_queryset(self, request: HttpRequest) -> QuerySet | None:
        """The queryset the changelist shows (filters, search, date range), without paging; None if invalid."""
        try:
            return self.get_changelist_instance(request).get_queryset(request)
        except IncorrectLookupParameters:
            return None


def spreadsheet_safe(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


class _Echo:
    """A file-like object whose write returns the line, so csv.writer can feed a streaming response."""

    def write(self, value: str) -> str:
        return value


def csv_stream(header: Sequence[str], rows: Iterable[Sequence]) -> Iterator[str]:
    """CSV lines for Excel, header first (after the BOM), one row at a time, every cell spreadsheet-safe."""
    writer = csv.writer(_Echo(), delimiter=CSV_DELIMITER)
    yield UTF8_BOM + writer.writerow([str(name) for name in header])
    for row in rows:
        yield writer.writerow([spreadsheet_safe(value) for value in row])


def csv_response(filename: str, header: Sequence[str], rows: Iterable[Sequence]) -> StreamingHttpResponse:
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    return StreamingHttpResponse(
        csv_stream(header, rows),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}-{stamp}.csv"'},
    )


class ExportMixin(ToolsMixin):
    """ "Export CSV" of the changelist's current filters and search, streamed row by row.

    Declare `export_permission` (e.g. "billing.export_ledgerentry") and `export_columns`: (header,
    values_list path) pairs; `export_row` may turn stored values into what people read, `export_rows`
    what needs the rows of a chunk together.
    """

    export_filename = "export"
    export_permission = ""
    export_columns: tuple[tuple[str, str], ...] = ()

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if cls.export_permission and not any(view.name == "export" for view in cls.custom_views):
            cls.custom_views = (
                *cls.custom_views,
                CustomView("export/", "export_view", "export", (cls.export_permission,)),
            )

    def tools(self, request: HttpRequest) -> list[dict]:
        tools = super().tools(request)
        if has_perms(request, [self.export_permission]):
            tools.append({"url": "export/", "label": _("Export CSV (filtered)"), "keep_filters": True})
        return tools

    def export_view(self, request: HttpRequest):
        queryset = self.filtered_queryset(request)
        if queryset is None:
            opts = self.model._meta
            return HttpResponseRedirect(
                reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist") + "?e=1"
            )
        rows = (
            queryset.order_by("pk")
            .values_list(*(column for _, column in self.export_columns))
            .iterator(chunk_size=EXPORT_CHUNK)
        )
        return csv_response(
            self.export_filename, [header for header, _ in self.export_columns], self.export_rows(rows)
        )

    def export_rows(self, rows: Iterator[tuple]) -> Iterator[tuple]:
        """The rows as written; override to fill in what a chunk of rows needs together (one query a chunk)."""
        return map(self.export_row, rows)

    def export_row(self, row: tuple) -> tuple:
        return row


class TotalsMixin:
    """A totals line under the changelist: sums per currency of the filtered rows.

    One aggregate query over at most CAP rows (like the capped counts): a selection larger than that
    shows no totals (a partial sum would mislead) and asks for a narrower filter.
    """

    totals_field = "amount"
    totals_cap = CappedCountPaginator.CAP

    def changelist_view(self, request: HttpRequest, extra_context=None):
        response = super().changelist_view(request, extra_context)
        context = getattr(response, "context_data", None)
        if context is not None and "cl" in context:
            context["totals"] = self.totals_for(context["cl"].queryset)
        return response

    def totals_for(self, queryset: QuerySet) -> dict:
        capped = self.model._default_manager.filter(
            pk__in=queryset.order_by().values("pk")[: self.totals_cap + 1]
        )
        rows = list(
            capped.values("currency")
            .annotate(total=Sum(self.totals_field), rows=Count("pk"))
            .order_by("currency")
        )
        counted = sum(row["rows"] for row in rows)
        if counted > self.totals_cap:
            return {"capped": True, "cap": self.totals_cap, "rows": []}
        return {"capped": False, "cap": self.totals_cap, "rows": rows, "count": counted}


# --- Date range filter ---------------------------------------------------------------------------


class DateRangeFilter(admin.FieldListFilter):
    """From and to dates (inclusive, in the operators' time zone) for reconciliation over any period."""

    template = "admin/core/date_range_filter.html"

    def __init__(self, field, request, params, model, model_admin, field_path):
        self.lookup_gte = f"{field_path}__gte"
        self.lookup_lt = f"{field_path}__lt"
        self.param_from = f"{field_path}__from"
        self.param_to = f"{field_path}__to"
        # The base class moves our expected parameters from `params` into `used_parameters`.
        super().__init__(field, request, params, model, model_admin, field_path)
        self.date_from = self._cleaned(self.used_parameters.get(self.param_from), DateField())
        self.date_to = self._cleaned(self.used_parameters.get(self.param_to), DateField())
        self.title = field.verbose_name

    @staticmethod
    def _cleaned(value, form_field):
        """A query parameter's last value through a form field; a bad one is a bad lookup (the admin's ?e=1)."""
        if isinstance(value, list):
            value = value[-1] if value else None
        if not value:
            return None
        try:
            return form_field.clean(value)
        except ValidationError as exc:
            raise IncorrectLookupParameters(exc) from exc

    def moments(self) -> tuple[datetime | None, datetime | None]:
        """The chosen dates as [since, until): midnight of the first day, midnight after the last."""
        zone = timezone.get_current_timezone()
        since = datetime.combine(self.date_from, time.min, tzinfo=zone) if self.date_from else None
        until = (
            datetime.combine(self.date_to, time.min, tzinfo=zone) + timedelta(days=1)
            if self.date_to
            else None
        )
        return since, until

    def expected_parameters(self) -> list[str]:
        return [self.param_from, self.param_to]

    def has_output(self) -> bool:
        return True

    def choices(self, changelist):
        # One "choice": the form, with the changelist's other parameters kept as hidden fields.
        mine = {self.param_from, self.param_to}
        hidden = [
            (name, value)
            for name, values in changelist.params.items()
            if name not in mine
            for value in (values if isinstance(values, list) else [values])
        ]
        yield {
            "hidden": hidden,
            "param_from": self.param_from,
            "param_to": self.param_to,
            "date_from": self.date_from.isoformat() if self.date_from else "",
            "date_to": self.date_to.isoformat() if self.date_to else "",
            "reset_url": changelist.get_query_string(remove=[self.param_from, self.param_to]),
        }

    def queryset(self, request, queryset):
        return self._within(queryset, *self.moments())

    def _within(self, queryset, since: datetime | None, until: datetime | None):
        if since is not None:
            queryset = queryset.filter(**{self.lookup_gte: since})
        if until is not None:
            queryset = queryset.filter(**{self.lookup_lt: until})
        return queryset


class IdBoundedDateRangeFilter(DateRangeFilter):
    """The date range filter, plus the id range that holds those dates (core.id_bounds.ids_within), for
    tables declared with `id_bounded` (the ledger, payments, generation jobs), whose created_at has a BRIN
    index.

    It also takes the raw created_at__gte / created_at__lt of the dashboard's links, so every date range on
    the list, its totals and its export reads its stretch of the primary key, never the whole table.
    """

    def expected_parameters(self) -> list[str]:
        return [*super().expected_parameters(), self.lookup_gte, self.lookup_lt]

    def queryset(self, request, queryset):
        since, until = self.moments()
        # The dashboard's raw bounds narrow the chosen dates: the later start, the earlier end.
        raw_since, raw_until = (self._raw_moment(lookup) for lookup in (self.lookup_gte, self.lookup_lt))
        since = max(filter(None, (since, raw_since)), default=None)
        until = min(filter(None, (until, raw_until)), default=None)
        queryset = self._within(queryset, since, until)
        return queryset.filter(ids_within(queryset.model, since=since, until=until))

    def _raw_moment(self, lookup: str) -> datetime | None:
        moment = self._cleaned(self.used_parameters.get(lookup), DateTimeField())
        if moment is None or timezone.is_aware(moment):
            return moment
        return timezone.make_aware(moment)
