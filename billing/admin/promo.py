"""Promo codes: editing, batch generation, CSV export; redemptions read-only."""

from decimal import Decimal

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from billing import services
from billing.admin.common import (
    FORM_TEMPLATE,
    CsvExportMixin,
    CurrencyFilter,
    HiddenIdFilter,
    ReadOnlyAdmin,
)
from billing.models import (
    PromoCode,
    PromoRedemption,
)
from billing.services.promo import MAX_BATCH, promo_code_normalize
from config.admin_utils import CappedCountPaginator
from config.errors import DomainError

# --- Promo codes -------------------------------------------------------------------------------


class PromoCodeForm(forms.ModelForm):
    class Meta:
        model = PromoCode
        fields = ("code", "amount", "currency", "expires_at", "max_uses", "is_active", "batch")

    def clean_code(self) -> str:
        return promo_code_normalize(self.cleaned_data["code"])

    def clean_currency(self) -> str:
        currency = self.cleaned_data["currency"]
        if currency not in settings.CURRENCIES:
            raise forms.ValidationError(f"One of {', '.join(settings.CURRENCIES)}.")
        return currency

    def clean_max_uses(self) -> int | None:
        # The database CHECK (used_count <= max_uses) would refuse it with a 500; say it here instead.
        max_uses = self.cleaned_data["max_uses"]
        used = self.instance.used_count if self.instance.pk else 0
        if max_uses is not None and max_uses < used:
            raise forms.ValidationError(
                f"Already used {used} times: the cap cannot be lower. Deactivate the code to stop it."
            )
        return max_uses


class PromoBatchForm(forms.Form):
    count = forms.IntegerField(min_value=1, max_value=MAX_BATCH)
    amount = forms.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal("0.01"))
    currency = forms.ChoiceField(choices=[])
    expires_at = forms.DateTimeField(
        required=False, help_text="Empty: never expires. Format 2026-12-31 23:59."
    )
    max_uses = forms.IntegerField(
        min_value=1, initial=1, required=False, help_text="Per code; empty: unlimited."
    )
    prefix = forms.CharField(max_length=12, required=False)
    length = forms.IntegerField(min_value=6, max_value=20, initial=10)
    batch = forms.CharField(max_length=64, help_text="A label to find and export this batch.")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["currency"].choices = [(code, code) for code in settings.CURRENCIES]
        self.fields["currency"].initial = settings.DEFAULT_CURRENCY


class PromoBatchFilter(HiddenIdFilter):
    title = "batch"
    parameter_name = "batch"

    def queryset(self, request, queryset):
        value = self.value()
        return queryset if value is None else queryset.filter(batch=value)


@admin.register(PromoCode)
class PromoCodeAdmin(CsvExportMixin, admin.ModelAdmin):
    form = PromoCodeForm
    list_display = (
        "code",
        "amount",
        "currency",
        "expires_at",
        "max_uses",
        "used_count",
        "is_active",
        "batch",
        "created_at",
    )
    list_filter = (PromoBatchFilter, "is_active", CurrencyFilter, "created_at")
    search_fields = ("code", "batch")
    readonly_fields = ("used_count", "created_at", "created_by")
    show_full_result_count = False
    paginator = CappedCountPaginator
    list_per_page = 100
    ordering = ("-id",)
    actions = ("deactivate",)
    csv_filename = "promo-codes"
    csv_columns = (
        ("code", "code"),
        ("amount", "amount"),
        ("currency", "currency"),
        ("expires_at", "expires_at"),
        ("max_uses", "max_uses"),
        ("used_count", "used_count"),
        ("is_active", "is_active"),
        ("batch", "batch"),
        ("created_at", "created_at"),
    )

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        # Redemptions point at codes; deactivate instead.
        return False

    def extra_tools(self, request: HttpRequest) -> list[dict]:
        return [
            *super().extra_tools(request),
            {"url": "generate/", "label": "Generate a batch", "keep_filters": False},
        ]

    def get_urls(self):
        custom = [
            path(
                "generate/", self.admin_site.admin_view(self.generate_view), name="billing_promocode_generate"
            )
        ]
        return custom + super().get_urls()

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    @admin.action(description="Deactivate the selected codes")
    def deactivate(self, request: HttpRequest, queryset: QuerySet):
        updated = services.promo_codes_deactivate(promo_ids=list(queryset.values_list("pk", flat=True)))
        messages.success(request, f"Deactivated {updated} codes.")

    def generate_view(self, request: HttpRequest):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = PromoBatchForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                codes = services.promo_codes_create_batch(
                    count=data["count"],
                    amount=data["amount"],
                    currency=data["currency"],
                    expires_at=data["expires_at"],
                    max_uses=data["max_uses"],
                    prefix=data["prefix"],
                    length=data["length"],
                    batch=data["batch"],
                    created_by=request.user,
                )
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(
                    request, f"Created {len(codes)} codes in batch {data['batch']!r}; export them below."
                )
                changelist = reverse("admin:billing_promocode_changelist")
                return HttpResponseRedirect(f"{changelist}?batch={data['batch']}")
        context = {
            **self.admin_site.each_context(request),
            "title": "Generate promo codes",
            "intro": "Random codes (no look-alike characters), each worth the amount once per user.",
            "form": form,
            "submit_label": "Generate",
            "back_url": reverse("admin:billing_promocode_changelist"),
            "back_label": "Promo codes",
            "opts": self.model._meta,
        }
        return TemplateResponse(request, FORM_TEMPLATE, context)


@admin.register(PromoRedemption)
class PromoRedemptionAdmin(ReadOnlyAdmin):
    list_display = ("id", "created_at", "promo", "user", "merged_into", "amount", "merged_duplicate")
    list_select_related = ("promo", "user__merged_into")
    list_filter = ("merged_duplicate", "created_at")
    search_fields = ("promo__code",)

    @admin.display(description="merged into")
    def merged_into(self, obj: PromoRedemption) -> str:
        # A redemption stays on the identity that made it; after a merge the person is the user it became.
        return str(obj.user.merged_into) if obj.user.merged_into_id else "—"
