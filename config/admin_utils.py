"""Admin pieces every app's admin shares: a paginator for big tables, a read-only base for audit tables,
spreadsheet-safe streamed CSV."""

import csv
from collections.abc import Iterable, Iterator

from django.contrib import admin
from django.core.paginator import Paginator
from django.http import HttpRequest
from django.utils.functional import cached_property

# Text from bots or operators must not run as a formula when an export is opened in a spreadsheet.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class CappedCountPaginator(Paginator):
    """Counts at most CAP rows: an exact COUNT(*) over millions of rows would dominate every page load."""

    CAP = 10_000

    @cached_property
    def count(self) -> int:
        return self.object_list[: self.CAP + 1].count()


def spreadsheet_safe(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


class _Echo:
    """A file-like object whose write returns the line, so csv.writer can feed a streaming response."""

    def write(self, value: str) -> str:
        return value


def csv_stream(header: list[str], rows: Iterable[tuple]) -> Iterator[str]:
    """CSV lines, header first, one row at a time (nothing is held in memory), every cell spreadsheet-safe."""
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([spreadsheet_safe(value) for value in row])


class ReadOnlyAdmin(admin.ModelAdmin):
    """Audit tables: viewable, never added, changed or deleted from the admin."""

    show_full_result_count = False
    paginator = CappedCountPaginator
    list_per_page = 50
    ordering = ("-id",)

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
