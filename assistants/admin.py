from django import forms
from django.contrib import admin, messages
from django.contrib.postgres.search import SearchQuery
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.card import CARD_ROWS, CardSection, register_user_card_section, register_user_list_facts
from accounts.models import EndUser
from assistants import selectors, services
from assistants.models import (
    SEARCH_CONFIG,
    Assistant,
    BotInstance,
    Dialog,
    Document,
    HandoffAudit,
    KnowledgeChunk,
    Message,
)
from core.admin_toolkit import (
    BigTableAdmin,
    GuardedAdmin,
    ReadOnlyBigTableAdmin,
    UserIdFilter,
    UserRefSearchMixin,
)
from core.errors import DomainError

INLINE_MESSAGES = 50


@admin.register(Assistant)
class AssistantAdmin(UserRefSearchMixin, BigTableAdmin):
    list_display = (
        "id",
        "name",
        "owner",
        "is_active",
        "documents_count",
        "dialogs_count",
        "messages_count",
        "chunks_count",
        "created_at",
    )
    list_display_links = ("id", "name")
    list_select_related = ("owner",)
    list_filter = ("is_active",)
    search_fields = ("name",)
    search_help_text = _(
        "A Telegram id, device:<id> or ext:<id> (the owner's assistants), or part of a name."
    )
    user_ref_field = "owner_id"
    autocomplete_fields = ("owner",)
    # Counters are maintained by the services (see Assistant), so the changelist reads them as columns.
    readonly_fields = (
        "documents_count",
        "dialogs_count",
        "messages_count",
        "chunks_count",
        "created_at",
        "updated_at",
    )


@admin.register(Document)
class DocumentAdmin(BigTableAdmin):
    list_display = ("id", "title", "assistant", "source", "status", "chunks_count", "size", "updated_at")
    list_display_links = ("id", "title")
    list_select_related = ("assistant",)
    list_filter = ("status", "source")
    search_fields = ("title",)
    autocomplete_fields = ("assistant",)
    readonly_fields = (
        "source",
        "size",
        "status",
        "error",
        "chunks_count",
        "version",
        "created_at",
        "updated_at",
        "indexed_at",
    )
    actions = ("reindex",)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)
        # The text can be a megabyte per row; the changelist never shows it.
        return queryset.defer("text") if request.resolver_match.url_name.endswith("changelist") else queryset

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Documents arrive through the API so that chunking and embedding always run.
        return False

    @admin.action(
        description=_("Re-index selected documents (unchanged chunks keep their vectors)"),
        permissions=("change",),
    )
    def reindex(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = 0
        for document_id in queryset.values_list("pk", flat=True):
            services.document_reindex(document_id=document_id)
            count += 1
        messages.success(request, gettext("Queued %(count)d document(s) for re-indexing.") % {"count": count})


@admin.register(KnowledgeChunk)
class KnowledgeChunkAdmin(ReadOnlyBigTableAdmin):
    list_per_page = 100
    list_display = ("id", "document", "assistant", "ordinal", "importance", "preview")
    list_select_related = ("document", "assistant")
    search_fields = ("content",)
    raw_id_fields = ("assistant", "document")
    # The raw vector is 384+ numbers of noise to a person and heavy to render: never shown.
    fields = ("assistant", "document", "ordinal", "importance", "content", "content_hash", "created_at")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).defer("embedding", "search_vector")

    def get_search_results(self, request, queryset, search_term):
        # Full-text index instead of a sequential ILIKE over a million chunks.
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(search_vector=SearchQuery(term, config=SEARCH_CONFIG)), False

    @admin.display(description=_("content"))
    def preview(self, obj: KnowledgeChunk) -> str:
        return obj.content[:120]


class LatestMessagesFormSet(BaseInlineFormSet):
    def get_queryset(self):
        # Only the newest page: a dialog may hold thousands of messages; the rest are one click away.
        # Evaluated once: the formset indexes into it per form, and a sliced queryset would re-query.
        if not hasattr(self, "_latest"):
            self._latest = list(super().get_queryset().order_by("-id")[:INLINE_MESSAGES])
        return self._latest


class MessageInline(admin.TabularInline):
    model = Message
    formset = LatestMessagesFormSet
    fields = ("created_at", "role", "content")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False
    verbose_name_plural = _("latest messages (all of them: the “all messages” link above)")

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class HandoffInline(admin.TabularInline):
    model = HandoffAudit
    fields = ("created_at", "action", "operator", "reason")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Dialog)
class DialogAdmin(UserRefSearchMixin, BigTableAdmin):
    list_display = (
        "id",
        "assistant",
        "user",
        "chat_id",
        "mode",
        "operator",
        "messages_count",
        "last_message_at",
    )
    list_select_related = ("assistant", "user")
    list_filter = (UserIdFilter, "mode")
    search_fields = ("chat_id",)
    search_help_text = _("A Telegram id, device:<id> or ext:<id> (the user's dialogs), or a chat id.")
    raw_id_fields = ("assistant", "user")
    fields = (
        "assistant",
        "user",
        "chat_id",
        "mode",
        "operator",
        "messages_count",
        "all_messages",
        "last_message_at",
        "created_at",
    )
    readonly_fields = fields
    inlines = (MessageInline, HandoffInline)
    actions = ("take_over", "give_back")

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # messages and the handoff audit belong to it

    def _handoff(self, request: HttpRequest, queryset: QuerySet, action: str) -> None:
        done = 0
        for dialog_id in queryset.values_list("pk", flat=True):
            try:
                services.dialog_handoff(
                    dialog_id=dialog_id, action=action, operator=request.user.get_username(), reason="admin"
                )
            except DomainError as exc:
                messages.warning(request, f"#{dialog_id}: {exc.message}")
            else:
                done += 1
        messages.success(request, gettext("Done for %(count)d dialogs.") % {"count": done})

    @admin.action(
        description=_("Take over the selected dialogs (the bot stays silent)"), permissions=("change",)
    )
    def take_over(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._handoff(request, queryset, HandoffAudit.Action.TAKE)

    @admin.action(description=_("Give the selected dialogs back to the bot"), permissions=("change",))
    def give_back(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._handoff(request, queryset, HandoffAudit.Action.RELEASE)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # The change page shows the assistant and the user too: join them instead of two lookups.
        return super().get_queryset(request).select_related("assistant", "user")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description=_("all messages"))
    def all_messages(self, obj: Dialog) -> str:
        url = reverse("admin:assistants_message_changelist") + f"?dialog__id__exact={obj.pk}"
        label = gettext("all %(count)s messages, paginated") % {"count": obj.messages_count}
        return format_html('<a href="{}">{}</a>', url, label)


@admin.register(Message)
class MessageAdmin(ReadOnlyBigTableAdmin):
    list_per_page = 100
    list_display = ("id", "dialog", "role", "preview", "created_at")
    list_select_related = ("dialog",)
    list_filter = ("role",)
    raw_id_fields = ("dialog",)
    fields = ("dialog", "role", "content", "created_at")
    readonly_fields = fields

    @admin.display(description=_("content"))
    def preview(self, obj: Message) -> str:
        return obj.content[:120]


class BotInstanceForm(forms.ModelForm):
    token = forms.CharField(
        required=False, widget=forms.PasswordInput, help_text=_("From @BotFather; stored encrypted.")
    )

    class Meta:
        model = BotInstance
        fields = ("assistant", "username", "status")

    def clean_token(self) -> str:
        token = self.cleaned_data.get("token", "").strip()
        if self.instance.pk is None and ":" not in token:
            raise forms.ValidationError(_("Paste the token from @BotFather, like 123456:ABC-DEF..."))
        return token


@admin.register(BotInstance)
class BotInstanceAdmin(GuardedAdmin):
    form = BotInstanceForm
    list_display = ("username", "assistant", "status", "token_hint", "created_at")
    list_select_related = ("assistant",)
    list_filter = ("status",)
    search_fields = ("username",)
    autocomplete_fields = ("assistant",)
    readonly_fields = ("token_hint", "created_at", "updated_at")
    actions = ("disable", "enable")
    ordering = ("-id",)

    def get_fields(self, request: HttpRequest, obj=None):
        if obj is None:
            return ("assistant", "username", "token")
        return ("assistant", "username", "status", "token_hint", "created_at", "updated_at")

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        return ("assistant", "username", "status", *self.readonly_fields) if obj else ()

    def save_model(self, request, obj, form, change):
        if change:
            return
        bot, secret = services.bot_instance_create(
            assistant=form.cleaned_data["assistant"],
            username=form.cleaned_data["username"],
            token=form.cleaned_data["token"],
        )
        obj.pk, obj.created_at, obj.updated_at = bot.pk, bot.created_at, bot.updated_at
        messages.warning(
            request,
            gettext("Webhook secret for @%(bot)s: %(secret)s — set it on the webhook now; it is not stored.")
            % {"bot": bot.username, "secret": secret},
        )

    @admin.action(description=_("Disable selected bots"), permissions=("change",))
    def disable(self, request: HttpRequest, queryset: QuerySet) -> None:
        for bot in queryset:
            services.bot_instance_set_status(bot=bot, status=BotInstance.Status.DISABLED)

    @admin.action(description=_("Enable selected bots"), permissions=("change",))
    def enable(self, request: HttpRequest, queryset: QuerySet) -> None:
        for bot in queryset:
            services.bot_instance_set_status(bot=bot, status=BotInstance.Status.ACTIVE)


@admin.register(HandoffAudit)
class HandoffAuditAdmin(ReadOnlyBigTableAdmin):
    list_display = ("id", "dialog", "action", "operator", "reason", "created_at")
    list_select_related = ("dialog",)
    list_filter = ("action",)
    search_fields = ("operator",)


# --- The user card's dialogs (accounts.card) ---------------------------------------------------


def _dialogs_section(user: EndUser) -> dict:
    return {
        "dialogs": selectors.dialogs_newest_for_user(user=user, limit=CARD_ROWS),
        "all_url": f"{reverse('admin:assistants_dialog_changelist')}?user={user.pk}",
    }


SECTION = CardSection(
    "dialogs",
    _("Newest dialogs"),
    "admin/assistants/card/dialogs.html",
    "assistants.view_dialog",
    _dialogs_section,
    order=50,
)
register_user_card_section(SECTION)
register_user_list_facts("assistants", selectors.last_message_at_for_users)
