from django import forms
from django.contrib import admin, messages
from django.contrib.postgres.search import SearchQuery
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from assistants import services
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
from config.admin_utils import CappedCountPaginator

INLINE_MESSAGES = 50


@admin.register(Assistant)
class AssistantAdmin(admin.ModelAdmin):
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
    show_full_result_count = False
    ordering = ("-id",)


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
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
    show_full_result_count = False
    ordering = ("-id",)
    actions = ("reindex",)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)
        # The text can be a megabyte per row; the changelist never shows it.
        return queryset.defer("text") if request.resolver_match.url_name.endswith("changelist") else queryset

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Documents arrive through the API so that chunking and embedding always run.
        return False

    @admin.action(description="Re-index selected documents (unchanged chunks keep their vectors)")
    def reindex(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = 0
        for document_id in queryset.values_list("pk", flat=True):
            services.document_reindex(document_id=document_id)
            count += 1
        messages.success(request, f"Queued {count} document(s) for re-indexing.")


@admin.register(KnowledgeChunk)
class KnowledgeChunkAdmin(admin.ModelAdmin):
    list_display = ("id", "document", "assistant", "ordinal", "importance", "preview")
    list_select_related = ("document", "assistant")
    search_fields = ("content",)
    raw_id_fields = ("assistant", "document")
    # The raw vector is 384+ numbers of noise to a person and heavy to render: never shown.
    fields = ("assistant", "document", "ordinal", "importance", "content", "content_hash", "created_at")
    readonly_fields = fields
    show_full_result_count = False
    paginator = CappedCountPaginator  # a million rows: never an exact COUNT(*)
    ordering = ("-id",)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).defer("embedding", "search_vector")

    def get_search_results(self, request, queryset, search_term):
        # Full-text index instead of a sequential ILIKE over a million chunks.
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(search_vector=SearchQuery(term, config=SEARCH_CONFIG)), False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description="content")
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
    verbose_name_plural = f"latest {INLINE_MESSAGES} messages (all of them: the “all messages” link above)"

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
class DialogAdmin(admin.ModelAdmin):
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
    list_filter = ("mode",)
    search_fields = ("chat_id",)
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
    show_full_result_count = False
    ordering = ("-id",)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # The change page shows the assistant and the user too: join them instead of two lookups.
        return super().get_queryset(request).select_related("assistant", "user")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="all messages")
    def all_messages(self, obj: Dialog) -> str:
        url = reverse("admin:assistants_message_changelist") + f"?dialog__id__exact={obj.pk}"
        return format_html('<a href="{}">all {} messages, paginated</a>', url, obj.messages_count)


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("id", "dialog", "role", "preview", "created_at")
    list_select_related = ("dialog",)
    list_filter = ("role",)
    raw_id_fields = ("dialog",)
    fields = ("dialog", "role", "content", "created_at")
    readonly_fields = fields
    show_full_result_count = False
    paginator = CappedCountPaginator  # a million rows: never an exact COUNT(*)
    ordering = ("-id",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description="content")
    def preview(self, obj: Message) -> str:
        return obj.content[:120]


class BotInstanceForm(forms.ModelForm):
    token = forms.CharField(
        required=False, widget=forms.PasswordInput, help_text="From @BotFather; stored encrypted."
    )

    class Meta:
        model = BotInstance
        fields = ("assistant", "username", "status")

    def clean_token(self) -> str:
        token = self.cleaned_data.get("token", "").strip()
        if self.instance.pk is None and ":" not in token:
            raise forms.ValidationError("Paste the token from @BotFather, like 123456:ABC-DEF...")
        return token


@admin.register(BotInstance)
class BotInstanceAdmin(admin.ModelAdmin):
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
            f"Webhook secret for @{bot.username}: {secret} — set it on the webhook now; it is not stored.",
        )

    @admin.action(description="Disable selected bots")
    def disable(self, request: HttpRequest, queryset: QuerySet) -> None:
        for bot in queryset:
            services.bot_instance_set_status(bot=bot, status=BotInstance.Status.DISABLED)

    @admin.action(description="Enable selected bots")
    def enable(self, request: HttpRequest, queryset: QuerySet) -> None:
        for bot in queryset:
            services.bot_instance_set_status(bot=bot, status=BotInstance.Status.ACTIVE)


@admin.register(HandoffAudit)
class HandoffAuditAdmin(admin.ModelAdmin):
    list_display = ("id", "dialog", "action", "operator", "reason", "created_at")
    list_select_related = ("dialog",)
    list_filter = ("action",)
    search_fields = ("operator",)
    show_full_result_count = False
    ordering = ("-id",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
