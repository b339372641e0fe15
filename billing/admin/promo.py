"""Promo codes: editing, batch generation, CSV export; redemptions read-only."""

from decimal import Decimal

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.models import EndUser
from billing import services
from billing.admin.common import CurrencyFilter
from billing.models import (
    PromoCode,
    PromoRedemption,
)
from billing.services.promo import MAX_BATCH, promo_code_normalize
from core.admin_toolkit import (
    FORM_TEMPLATE,
    BigTableAdmin,
    CustomView,
    ExportMixin,
    HiddenIdFilter,
    ReadOnlyBigTableAdmin,
    UserIdFilter,
)
from core.errors import DomainError

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
            raise forms.ValidationError(
                _("One of %(currencies)s.") % {"currencies": ", ".join(settings.CURRENCIES)}
            )
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
        required=False, help_text=_("Empty: never expires. Format 2026-12-31 23:59.")
    )
    max_uses = forms.IntegerField(
        min_value=1, initial=1, required=False, help_text=_("Per code; empty: unlimited.")
    )
    prefix = forms.CharField(max_length=12, required=False)
    length = forms.IntegerField(min_value=6, max_value=20, initial=10)
    batch = forms.CharField(max_length=64, help_text=_("A label to find and export this batch."))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["currency"].choices = [(code, code) for code in settings.CURRENCIES]
        self.fields["currency"].initial = settings.DEFAULT_CURRENCY


class PromoBatchFilter(HiddenIdFilter):
    title = _("batch")
    parameter_name = "batch"

    def queryset(self, request, queryset):
        value = self.value()
        return queryset if value is None else queryset.filter(batch=value)


@admin.register(PromoCode)
class PromoCodeAdmin(ExportMixin, BigTableAdmin):
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
    list_per_page = 100
    actions = ("deactivate",)
    custom_views = (CustomView("generate/", "generate_view", "generate", ("billing.add_promocode",)),)
    export_filename = "promo-codes"
    export_permission = "billing.export_promocode"
    export_columns = (
        (_("code"), "code"),
        (_("amount"), "amount"),
        (_("currency"), "currency"),
        (_("expires at"), "expires_at"),
        (_("max uses"), "max_uses"),
        (_("used"), "used_count"),
        (_("active"), "is_active"),
        (_("batch"), "batch"),
        (_("created at"), "created_at"),
    )

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        # Redemptions point at codes; deactivate instead.
        return False

    def tools(self, request: HttpRequest) -> list[dict]:
        tools = super().tools(request)
        if self.has_add_permission(request):
            tools.append({"url": "generate/", "label": _("Generate a batch"), "keep_filters": False})
        return tools

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    @admin.action(description=_("Deactivate the selected codes"), permissions=("change",))
    def deactivate(self, request: HttpRequest, queryset: QuerySet):
        updated = services.promo_codes_deactivate(promo_ids=list(queryset.values_list("pk", flat=True)))
        messages.success(request, gettext("Deactivated %(count)d codes.") % {"count": updated})

    def generate_view(self, request: HttpRequest):
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
                    request,
                    gettext("Created %(count)d codes in batch %(batch)s; export them below.")
                    % {"count": len(codes), "batch": data["batch"]},
                )
                changelist = reverse("admin:billing_promocode_changelist")
                return HttpResponseRedirect(f"{changelist}?batch={data['batch']}")
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Generate promo codes"),
            "intro": gettext("Random codes (no look-alike characters), each worth the amount once per user."),
            "form": form,
            "submit_label": gettext("Generate"),
            "back_url": reverse("admin:billing_promocode_changelist"),
            "back_label": gettext("Promo codes"),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, FORM_TEMPLATE, context)


class PromoGrantForm(forms.Form):
    code = forms.CharField(label=_("promo code"), max_length=64)


@admin.register(PromoRedemption)
class PromoRedemptionAdmin(ReadOnlyBigTableAdmin):
    list_display = ("id", "created_at", "promo", "user", "merged_into", "amount", "merged_duplicate")
    list_select_related = ("promo", "user__merged_into")
    list_filter = (UserIdFilter, "merged_duplicate", "created_at")
    custom_views = (
        CustomView("grant/<int:user_id>/", "grant_view", "grant", ("billing.add_promoredemption",)),
    )

    def grant_view(self, request: HttpRequest, user_id: int):
        """Redeems a code for the user, as the bot would: the same service, limits and once-per-user rule."""
        user = get_object_or_404(EndUser, pk=user_id)
        card_url = reverse("admin:accounts_enduser_change", args=[user.pk])
        form = PromoGrantForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                entry = services.promo_code_redeem(user=user, code=form.cleaned_data["code"])
            except DomainError as exc:
                form.add_error("code", exc.message)
            else:
                messages.success(
                    request,
                    gettext("Granted %(amount)s %(currency)s to %(user)s.")
                    % {"amount": entry.amount, "currency": entry.currency, "user": user.display_ref},
                )
                return HttpResponseRedirect(card_url)
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Grant a promo code to %(user)s") % {"user": user.display_ref},
            "intro": gettext("The code is redeemed for the user: its amount, expiry and use limits apply."),
            "form": form,
            "submit_label": gettext("Grant"),
            "back_url": card_url,
            "back_label": user.display_ref,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, FORM_TEMPLATE, context)

    search_fields = ("promo__code",)

    @admin.display(description=_("merged into"))
    def merged_into(self, obj: PromoRedemption) -> str:
        # A redemption stays on the identity that made it; after a merge the person is the user it became.
        return str(obj.user.merged_into) if obj.user.merged_into_id else "—"
