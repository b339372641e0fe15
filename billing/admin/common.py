"""Filters the billing admin shares (the rest is in core.admin_toolkit)."""

from datetime import datetime, time, timedelta

from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from billing import selectors
from core.admin_toolkit import DateRangeFilter, HiddenIdFilter


class CurrencyFilter(admin.SimpleListFilter):
    """Choices from settings: a DISTINCT over millions of ledger rows would scan the whole table."""

    title = _("currency")
    parameter_name = "currency"

    def lookups(self, request, model_admin):
        return [(code, code) for code in settings.CURRENCIES]

    def queryset(self, request, queryset):
        value = self.value()
        return queryset if value is None else queryset.filter(currency=value)


class AccountIdFilter(HiddenIdFilter):
    title = _("account")
    parameter_name = "account"
    field = "account_id"


class IdBoundedDateRangeFilter(DateRangeFilter):
    """The date range filter, plus the id range that holds those dates (selectors.ids_within), for the
    ledger and payments, whose created_at has a BRIN index.

    It also takes the raw created_at__gte / created_at__lt of the dashboard's links, so every date range on
    the list, its totals and its export reads its stretch of the primary key, never the whole table.
    """

    def expected_parameters(self) -> list[str]:
        return [*super().expected_parameters(), self.lookup_gte, self.lookup_lt]

    def queryset(self, request, queryset):
        queryset = super().queryset(request, queryset)
        zone = timezone.get_current_timezone()
        since = datetime.combine(self.date_from, time.min, tzinfo=zone) if self.date_from else None
        until = (
            datetime.combine(self.date_to, time.min, tzinfo=zone) + timedelta(days=1)
            if self.date_to
            else None
        )
        for lookup in (self.lookup_gte, self.lookup_lt):
            moment = self._moment(self.used_parameters.get(lookup))
            if moment is None:
                continue
            queryset = queryset.filter(**{lookup: moment})
            if lookup == self.lookup_gte:
                since = max(since, moment) if since else moment
            else:
                until = min(until, moment) if until else moment
        return queryset.filter(selectors.ids_within(queryset.model, since=since, until=until))

    @staticmethod
    def _moment(value) -> datetime | None:
        if isinstance(value, list):
            value = value[-1] if value else None
        if not value:
            return None
        try:
            moment = forms.DateTimeField().clean(value)
        except forms.ValidationError as exc:
            raise IncorrectLookupParameters(exc) from exc
        return moment if timezone.is_aware(moment) else timezone.make_aware(moment)
