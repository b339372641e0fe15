"""Operators, API keys, webhook events, and the end user's page: the support agent's card (accounts.card)."""

import uuid

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts import services, webhook_delivery
from accounts.card import CARD_ROWS, user_card_sections, user_list_facts
from accounts.errors import AccountsError
from accounts.models import (
    ApiKey,
    BotEvent,
    EndUser,
    Operator,
    UserBlockAudit,
    WebhookDelivery,
    WebhookEndpoint,
)
from accounts.selectors import user_ref_parse
from core.admin_toolkit import (
    FORM_TEMPLATE,
    BigTableAdmin,
    CustomView,
    GuardedAdmin,
    HiddenIdFilter,
    ReadOnlyBigTableAdmin,
    has_perms,
    user_link,
)

BLOCK_PERMISSION = "accounts.block_enduser"
ANONYMIZE_PERMISSION = "accounts.anonymize_enduser"
WEBHOOK_DELIVERY_INLINE_ROWS = 20


@admin.register(Operator)
class OperatorAdmin(GuardedAdmin, UserAdmin):
    list_display = ("username", "email", "first_name", "last_name", "is_staff", "is_superuser", "last_login")
    list_filter = ("is_staff", "is_superuser", "is_active", "groups")


admin.site.unregister(Group)


@admin.register(Group)
class RoleAdmin(GuardedAdmin, GroupAdmin):
    """Roles are groups kept in sync by a data migration (ops.roles); Administrators may still adjust."""


class IdentityFilter(admin.SimpleListFilter):
    title = _("identity")
    parameter_name = "identity"

    def lookups(self, request, model_admin):
        return [
            ("telegram", _("Has Telegram id")),
            ("anonymous", _("Anonymous (device only)")),
            ("external", _("Has external id")),
            ("merged", _("Merged into another user")),
            ("anonymized", _("Anonymized (forgotten)")),
        ]

    def queryset(self, request, queryset):
        match self.value():
            case "telegram":
                return queryset.filter(telegram_id__isnull=False)
            case "anonymous":
                return queryset.filter(
                    telegram_id__isnull=True, external_id__isnull=True, merged_into__isnull=True
                )
            case "external":
                return queryset.filter(external_id__isnull=False)
            case "merged":
                return queryset.filter(merged_into__isnull=False)
            case "anonymized":
                return queryset.filter(anonymized_at__isnull=False)
        return queryset


class HasReferrerFilter(admin.SimpleListFilter):
    title = _("referred")
    parameter_name = "referred"

    def lookups(self, request, model_admin):
        return [("yes", _("Referred by someone")), ("no", _("Not referred"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(referrer__isnull=False)
        if self.value() == "no":
            return queryset.filter(referrer__isnull=True)
        return queryset


class LanguageFilter(admin.SimpleListFilter):
    """The operators' languages and "other": a DISTINCT over a million users would scan the table."""

    title = _("language")
    parameter_name = "language"

    def lookups(self, request, model_admin):
        return [*settings.LANGUAGES, ("other", _("other"))]

    def queryset(self, request, queryset):
        codes = [code for code, _name in settings.LANGUAGES]
        if self.value() == "other":
            return queryset.exclude(language_code__in=codes)
        if self.value() in codes:
            return queryset.filter(language_code=self.value())
        return queryset


class ReferrerFilter(HiddenIdFilter):
    """The card's "referred users" link."""

    title = _("referrer")
    parameter_name = "referrer"
    field = "referrer_id"


class UserChangeList(ChangeList):
    """Fills each user of the page with the facts other apps provide, in a fixed number of queries."""

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        users = list(self.result_list)  # evaluated once here; the template reuses the same rows
        facts = user_list_facts(users)
        for user in users:
            user.list_facts = facts.get(user.pk, {})


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("reason"), max_length=255, widget=forms.TextInput(attrs={"size": 80}))


class AnonymizeForm(forms.Form):
    confirm = forms.BooleanField(
        label=_("I understand: names and identities are erased for good; the money history stays."),
    )


@admin.register(EndUser)
class EndUserAdmin(BigTableAdmin):
    list_display = (
        "id",
        "telegram_id",
        "username",
        "first_name",
        "last_name",
        "device_id",
        "available",
        "plan",
        "spent_30d",
        "last_activity",
        "is_blocked",
        "created_at",
    )
    list_display_links = ("id", "telegram_id")
    list_filter = (
        IdentityFilter,
        HasReferrerFilter,
        ReferrerFilter,
        "is_blocked",
        LanguageFilter,
        "created_at",
    )
    search_fields = ("username", "first_name", "last_name")
    search_help_text = _("Telegram id, device:<id>, ext:<id>, or part of a username or name.")
    # The card is read-only: identities change only through the API's identity service (merges keep
    # the invariants), blocking and anonymizing through their actions.
    fieldsets = (
        (_("Identities"), {"fields": ("telegram_id", "device_id", "external_id", "merged_into")}),
        (_("Profile"), {"fields": ("username", "first_name", "last_name", "language_code", "referrer")}),
        (
            _("State"),
            {"fields": ("is_blocked", "blocked_reason", "blocked_by", "blocked_at", "anonymized_at")},
        ),
        (_("Dates"), {"fields": ("created_at", "updated_at")}),
    )
    readonly_fields = [field for _title, options in fieldsets for field in options["fields"]]
    change_form_template = "admin/accounts/enduser/change_form.html"
    actions = ("block_users", "unblock_users", "anonymize_users")
    custom_views = (
        CustomView("<int:user_id>/block/", "block_view", "block", (BLOCK_PERMISSION,)),
        CustomView("<int:user_id>/unblock/", "unblock_view", "unblock", (BLOCK_PERMISSION,)),
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Users are created by the API's upsert, which grants the welcome bonus in the same transaction.
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        # The ledger, payments and jobs point at users; a person who asks to be forgotten is anonymized.
        return False

    def has_block_permission(self, request: HttpRequest) -> bool:
        return has_perms(request, [BLOCK_PERMISSION])

    def has_anonymize_permission(self, request: HttpRequest) -> bool:
        return has_perms(request, [ANONYMIZE_PERMISSION])

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("referrer", "merged_into", "blocked_by")

    def get_list_select_related(self, request: HttpRequest):
        return ()  # the list shows no related rows; get_queryset's joins serve the card

    def get_changelist(self, request: HttpRequest, **kwargs):
        return UserChangeList

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        # An identity is answered by its unique index; only free text falls back to trigram name search.
        term = search_term.strip()
        if term:
            try:
                field, value = user_ref_parse(term)
            except AccountsError:
                pass
            else:
                return queryset.filter(**{field: value}), False
        return super().get_search_results(request, queryset, search_term)

    # --- list columns (facts of the page, see UserChangeList) ---

    @admin.display(description=_("available"))
    def available(self, obj: EndUser):
        return getattr(obj, "list_facts", {}).get("available", "—")

    @admin.display(description=_("plan"))
    def plan(self, obj: EndUser):
        return getattr(obj, "list_facts", {}).get("plan", "—")

    @admin.display(description=_("spent, 30 days"))
    def spent_30d(self, obj: EndUser):
        return getattr(obj, "list_facts", {}).get("spent_30d", "—")

    @admin.display(description=_("last activity"))
    def last_activity(self, obj: EndUser):
        return getattr(obj, "list_facts", {}).get("last_activity") or "—"

    # --- the card ---

    def get_object(self, request: HttpRequest, object_id, from_field=None):
        # The card and Django's change view both ask for the user: one query per request.
        cached = getattr(request, "_card_user", None)
        if cached is not None and str(cached.pk) == str(object_id) and from_field is None:
            return cached
        user = super().get_object(request, object_id, from_field)
        if from_field is None:
            request._card_user = user
        return user

    def change_view(self, request: HttpRequest, object_id, form_url="", extra_context=None):
        user = self.get_object(request, object_id)
        extra_context = {**(extra_context or {}), "show_save": False, "show_save_and_continue": False}
        if user is not None:
            extra_context.update(
                card_user=user,
                card_sections=user_card_sections(user=user, request=request),
                card_rows=CARD_ROWS,
                referred_count=EndUser.objects.filter(referrer_id=user.pk).count(),
                referred_url=f"{reverse('admin:accounts_enduser_changelist')}?referrer={user.pk}",
                block_audits=list(
                    UserBlockAudit.objects.filter(user_id=user.pk)
                    .select_related("operator")
                    .order_by("-id")[:5]
                ),
                can_block=self.has_block_permission(request),
                referrer_link=user_link(user.referrer) if user.referrer_id else None,
                merged_into_link=user_link(user.merged_into) if user.merged_into_id else None,
            )
        return super().change_view(request, object_id, form_url, extra_context)

    # --- blocking and anonymizing ---

    def _reason_page(self, request, *, title: str, intro: str, form, submit: str, back_url: str):
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "intro": intro,
            "form": form,
            "submit_label": submit,
            "back_url": back_url,
            "back_label": gettext("End users"),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, FORM_TEMPLATE, context)

    def _block_or_unblock(self, request: HttpRequest, user_id: int, *, block: bool):
        user = get_object_or_404(EndUser, pk=user_id)
        card_url = reverse("admin:accounts_enduser_change", args=[user.pk])
        if user.is_blocked == block:
            messages.warning(
                request,
                (gettext("%(user)s is already blocked.") if block else gettext("%(user)s is not blocked."))
                % {"user": user.display_ref},
            )
            return HttpResponseRedirect(card_url)
        form = ReasonForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            service = services.end_user_block if block else services.end_user_unblock
            try:
                service(user_id=user.pk, reason=form.cleaned_data["reason"], operator=request.user)
            except AccountsError as exc:
                messages.warning(request, exc.message)
            else:
                messages.success(
                    request,
                    (gettext("Blocked %(user)s.") if block else gettext("Unblocked %(user)s."))
                    % {"user": user.display_ref},
                )
            return HttpResponseRedirect(card_url)
        return self._reason_page(
            request,
            title=(gettext("Block %(user)s") if block else gettext("Unblock %(user)s"))
            % {"user": user.display_ref},
            intro=gettext(
                "A blocked user can read but not spend or start anything: the bot gets 403 forbidden. "
                "Payments already made are still credited and refunds stay possible."
            )
            if block
            else "",
            form=form,
            submit=gettext("Block") if block else gettext("Unblock"),
            back_url=card_url,
        )

    def block_view(self, request: HttpRequest, user_id: int):
        return self._block_or_unblock(request, user_id, block=True)

    def unblock_view(self, request: HttpRequest, user_id: int):
        return self._block_or_unblock(request, user_id, block=False)

    def _bulk(self, request: HttpRequest, queryset: QuerySet, *, action: str, form, title: str, run):
        if "apply" in request.POST and form.is_valid():
            done = 0
            for user_id in queryset.values_list("pk", flat=True):
                try:
                    run(user_id, form.cleaned_data)
                except AccountsError as exc:
                    messages.warning(request, f"#{user_id}: {exc.message}")
                else:
                    done += 1
            messages.success(request, gettext("Done for %(count)d users.") % {"count": done})
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.model._meta,
            "form": form,
            "action": action,
            "users": list(queryset[:100]),
            "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
        }
        return TemplateResponse(request, "admin/accounts/enduser/bulk_action.html", context)

    def _bulk_with_reason(
        self, request: HttpRequest, queryset: QuerySet, *, action: str, title: str, service
    ):
        return self._bulk(
            request,
            queryset,
            action=action,
            form=ReasonForm(request.POST if "apply" in request.POST else None),
            title=title,
            run=lambda user_id, data: service(user_id=user_id, reason=data["reason"], operator=request.user),
        )

    @admin.action(description=_("Block selected users"), permissions=("block",))
    def block_users(self, request: HttpRequest, queryset: QuerySet):
        title = gettext("Block users")
        return self._bulk_with_reason(
            request, queryset, action="block_users", title=title, service=services.end_user_block
        )

    @admin.action(description=_("Unblock selected users"), permissions=("block",))
    def unblock_users(self, request: HttpRequest, queryset: QuerySet):
        title = gettext("Unblock users")
        return self._bulk_with_reason(
            request, queryset, action="unblock_users", title=title, service=services.end_user_unblock
        )

    @admin.action(
        description=_("Anonymize selected users (right to be forgotten)"), permissions=("anonymize",)
    )
    def anonymize_users(self, request: HttpRequest, queryset: QuerySet):
        return self._bulk(
            request,
            queryset,
            action="anonymize_users",
            form=AnonymizeForm(request.POST if "apply" in request.POST else None),
            title=gettext("Anonymize users"),
            run=lambda user_id, data: services.end_user_anonymize(user_id=user_id, operator=request.user),
        )


@admin.register(UserBlockAudit)
class UserBlockAuditAdmin(ReadOnlyBigTableAdmin):
    list_display = ("id", "created_at", "user_link", "action", "reason", "operator")
    list_select_related = ("user", "operator")
    list_filter = ("action", "created_at")

    @admin.display(description=_("user"))
    def user_link(self, obj: UserBlockAudit) -> str:
        return user_link(obj.user)


@admin.register(ApiKey)
class ApiKeyAdmin(GuardedAdmin):
    list_display = ("name", "prefix", "created_at", "last_used_at", "revoked_at", "created_by")
    list_select_related = ("created_by",)
    list_filter = ("revoked_at",)
    search_fields = ("name", "prefix")
    fields = ("name", "prefix", "created_at", "last_used_at", "revoked_at", "created_by")
    readonly_fields = ("prefix", "created_at", "last_used_at", "revoked_at", "created_by")
    actions = ("revoke_keys",)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # revoke instead: requests and idempotency records point at keys

    def save_model(self, request, obj, form, change):
        if change:
            obj.save(update_fields=["name"])
            return
        api_key, raw_key = services.api_key_create(name=obj.name, created_by=request.user)
        obj.pk = api_key.pk
        obj.prefix, obj.key_hash, obj.created_at = api_key.prefix, api_key.key_hash, api_key.created_at
        # Shown once: only the hash is stored.
        messages.warning(
            request,
            gettext("New API key for %(name)s: %(key)s — copy it now, it will not be shown again.")
            % {"name": obj.name, "key": raw_key},
        )

    @admin.action(description=_("Revoke selected API keys"), permissions=("change",))
    def revoke_keys(self, request, queryset):
        for api_key in queryset.filter(revoked_at__isnull=True):
            services.api_key_revoke(api_key=api_key)
        messages.success(request, gettext("Revoked."))


# --- Events sent to the bots' webhooks ---------------------------------------------------------


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ReadOnlyBigTableAdmin):
    list_display = ("api_key", "url", "event_types", "updated_at")
    list_select_related = ("api_key",)
    search_fields = ("url", "api_key__name", "api_key__prefix")
    fields = ("api_key", "url", "events", "created_at", "updated_at")

    @admin.display(description=_("events"))
    def event_types(self, obj: WebhookEndpoint) -> str:
        return gettext("all") if obj.events is None else ", ".join(obj.events)


@admin.register(BotEvent)
class BotEventAdmin(ReadOnlyBigTableAdmin):
    list_display = ("public_id", "type", "api_key", "created_at", "status", "attempts", "next_attempt_at",
                    "short_error")  # fmt: skip
    list_select_related = ("api_key",)
    list_filter = ("status", "type", "created_at")
    search_fields = ("public_id",)
    search_help_text = _("An event id (the Botdesk-Event-Id header).")
    fields = ("public_id", "type", "api_key", "created_at", "status", "attempts", "next_attempt_at",
              "last_attempt_at", "last_error", "delivered_at", "finished_at", "data", "recent_deliveries")  # fmt: skip
    actions = ("redeliver",)

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        term = search_term.strip()
        if not term:
            return queryset, False
        try:
            return queryset.filter(public_id=uuid.UUID(term)), False
        except ValueError:
            return queryset.none(), False

    @admin.display(description=_("last error"))
    def short_error(self, obj: BotEvent) -> str:
        return obj.last_error[:80]

    @admin.display(description=_("attempts (newest 20)"))
    def recent_deliveries(self, obj: BotEvent) -> str:
        rows = obj.deliveries.order_by("-id")[:WEBHOOK_DELIVERY_INLINE_ROWS]
        return format_html(
            "<table><tr><th>#</th><th>{}</th><th>{}</th><th>HTTP</th><th>{}</th></tr>{}</table>",
            gettext("started"),
            gettext("ms"),
            gettext("error"),
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                (
                    (row.attempt, row.started_at, row.duration_ms, row.status_code or "-", row.error)
                    for row in rows
                ),
            ),
        )

    def has_redeliver_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("accounts.redeliver_botevent")

    @admin.action(description=_("Send again now (a fresh retry schedule)"), permissions=["redeliver"])
    def redeliver(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = webhook_delivery.bot_events_redeliver(event_ids=list(queryset.values_list("pk", flat=True)))
        messages.success(request, gettext("%(count)d event(s) queued for delivery.") % {"count": count})


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyBigTableAdmin):
    list_display = ("id", "event", "attempt", "started_at", "status_code", "ok", "duration_ms", "short_error")
    list_select_related = ("event",)
    list_filter = ("ok", "started_at")
    raw_id_fields = ("event",)

    @admin.display(description=_("error"))
    def short_error(self, obj: WebhookDelivery) -> str:
        return obj.error[:80]
