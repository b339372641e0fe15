"""Filters the billing admin shares (the rest is in core.admin_toolkit)."""

from django.conf import settings
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from core.admin_toolkit import HiddenIdFilter


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
