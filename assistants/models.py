"""Assistants, their knowledge (documents and embedded chunks), dialogs, bot instances, handoff audit."""

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from pgvector.django import HalfVectorField, HnswIndex

# HNSW build parameters: pgvector's defaults m=16 / ef_construction=64, measured on 1M
# all-MiniLM-L6-v2-like vectors in bench/assistants_retrieval.py (bench/README.md, "Assistants
# retrieval"); search width is ASSISTANTS_HNSW_EF_SEARCH. halfvec halves the heap and the index.
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 64
# 'simple' indexes words as they are: the bots serve many languages, and exact terms (product codes,
# names) are what full-text adds on top of embeddings in hybrid search.
SEARCH_CONFIG = "simple"


class Assistant(models.Model):
    owner = models.ForeignKey(
        "accounts.EndUser",
        on_delete=models.PROTECT,
        related_name="assistants",
        db_index=False,
        verbose_name=_("owner"),
    )
    name = models.CharField(max_length=200, verbose_name=_("name"))
    instructions = models.TextField(blank=True, default="", verbose_name=_("instructions"))
    is_active = models.BooleanField(default=True, verbose_name=_("is active"))
    # Counters maintained by the services in the same transaction as the rows they count, so the
    # assistants list reads them instead of counting 100,000 dialogs and 1,000,000 messages per page
    # (measured: 166 ms with correlated COUNT/SUM subqueries, bench/assistants_counts.py). The
    # message counter makes the assistant row a per-message write: messages of one assistant
    # serialise for the few hundred microseconds of that UPDATE, far above any bot's message rate.
    # chunks_count also lets search choose between an exact scan and the HNSW index without counting.
    documents_count = models.PositiveIntegerField(default=0, verbose_name=_("documents count"))
    dialogs_count = models.PositiveIntegerField(default=0, verbose_name=_("dialogs count"))
    messages_count = models.PositiveBigIntegerField(default=0, verbose_name=_("messages count"))
    chunks_count = models.PositiveIntegerField(default=0, verbose_name=_("chunks count"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name_plural = _("assistants")
        verbose_name = _("assistant")
        db_table = "assistants_assistant"
        indexes = [models.Index(fields=["owner", "-id"], name="assistant_owner_idx")]

    def __str__(self) -> str:
        return f"{self.name} (#{self.pk})"


class Document(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        INDEXED = "indexed", _("indexed")
        FAILED = "failed", _("failed")

    class Source(models.TextChoices):
        TEXT = "text", _("text (chunked and embedded here)")
        CHUNKS = "chunks", _("chunks sent by the bot")

    assistant = models.ForeignKey(
        Assistant, on_delete=models.CASCADE, related_name="documents", verbose_name=_("assistant")
    )
    title = models.CharField(max_length=300, verbose_name=_("title"))
    source = models.CharField(
        max_length=16, choices=Source.choices, default=Source.TEXT, verbose_name=_("source")
    )
    # The uploaded text is kept so the worker and a re-index can rebuild the chunks from ids alone.
    text = models.TextField(blank=True, default="", verbose_name=_("text"))
    # A large upload of bot-sent chunks, kept until the worker has embedded and stored them.
    pending_chunks = models.JSONField(null=True, blank=True, editable=False, verbose_name=_("pending chunks"))
    size = models.PositiveIntegerField(default=0, help_text=_("characters of text"), verbose_name=_("size"))
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING, verbose_name=_("status")
    )
    error = models.TextField(blank=True, default="", verbose_name=_("error"))
    chunks_count = models.PositiveIntegerField(default=0, verbose_name=_("chunks count"))
    # Bumped on every re-upload, so a worker holding an older version's task does nothing.
    version = models.PositiveIntegerField(default=1, verbose_name=_("version"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))
    indexed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("indexed at"))

    class Meta:
        verbose_name_plural = _("documents")
        verbose_name = _("document")
        db_table = "assistants_document"
        constraints = [
            # A re-upload under the same title replaces the document's chunks instead of duplicating them.
            models.UniqueConstraint(fields=["assistant", "title"], name="document_assistant_title_uniq"),
        ]
        indexes = [
            models.Index(fields=["status"], name="document_unfinished_idx", condition=~Q(status="indexed")),
        ]

    def __str__(self) -> str:
        return self.title


class KnowledgeChunk(models.Model):
    assistant = models.ForeignKey(
        Assistant,
        on_delete=models.CASCADE,
        related_name="chunks",
        db_index=False,
        verbose_name=_("assistant"),
    )
    document = models.ForeignKey(
        Document, on_delete=models.CASCADE, related_name="chunks", verbose_name=_("document")
    )
    ordinal = models.PositiveIntegerField(verbose_name=_("ordinal"))
    content = models.TextField(verbose_name=_("content"))
    importance = models.FloatField(default=0.5, verbose_name=_("importance"))
    # sha256 of the embedder's identity and the content: an unchanged chunk keeps its embedding.
    content_hash = models.CharField(max_length=64, verbose_name=_("content hash"))
    embedding = HalfVectorField(dimensions=settings.EMBEDDING_DIMENSIONS, verbose_name=_("embedding"))
    search_vector = models.GeneratedField(
        expression=SearchVector("content", config=SEARCH_CONFIG),
        output_field=SearchVectorField(),
        db_persist=True,
        verbose_name=_("search vector"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name_plural = _("knowledge chunks")
        verbose_name = _("knowledge chunk")
        db_table = "assistants_knowledge_chunk"
        constraints = [
            # Deferred: a re-upload renumbers kept chunks, and two of them may swap ordinals.
            models.UniqueConstraint(
                fields=["document", "ordinal"],
                name="chunk_document_ordinal_uniq",
                deferrable=models.Deferrable.DEFERRED,
            ),
            models.CheckConstraint(
                name="chunk_importance_range", condition=Q(importance__gte=0) & Q(importance__lte=1)
            ),
        ]
        indexes = [
            models.Index(fields=["assistant"], name="chunk_assistant_idx"),
            HnswIndex(
                name="chunk_embedding_hnsw",
                fields=["embedding"],
                m=HNSW_M,
                ef_construction=HNSW_EF_CONSTRUCTION,
                opclasses=["halfvec_cosine_ops"],
            ),
            GinIndex(fields=["search_vector"], name="chunk_search_vector_gin"),
        ]

    def __str__(self) -> str:
        return f"{self.document_id}#{self.ordinal}"


class Dialog(models.Model):
    class Mode(models.TextChoices):
        BOT = "bot", _("bot")
        OPERATOR = "operator", _("operator")

    # The unique (assistant, chat_id) index serves every lookup by assistant.
    assistant = models.ForeignKey(
        Assistant,
        on_delete=models.CASCADE,
        related_name="dialogs",
        db_index=False,
        verbose_name=_("assistant"),
    )
    user = models.ForeignKey(
        "accounts.EndUser", on_delete=models.PROTECT, related_name="assistant_dialogs", verbose_name=_("user")
    )
    chat_id = models.CharField(max_length=64, verbose_name=_("chat id"))
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.BOT, verbose_name=_("mode"))
    operator = models.CharField(max_length=150, blank=True, default="", verbose_name=_("operator"))
    messages_count = models.PositiveIntegerField(default=0, verbose_name=_("messages count"))
    last_message_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last message at"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name_plural = _("dialogs")
        verbose_name = _("dialog")
        db_table = "assistants_dialog"
        constraints = [
            models.UniqueConstraint(fields=["assistant", "chat_id"], name="dialog_assistant_chat_uniq"),
        ]

    def __str__(self) -> str:
        return f"dialog #{self.pk} ({self.chat_id})"


class Message(models.Model):
    """The largest table (10M+ rows): read only as a dialog's newest-first keyset page."""

    class Role(models.TextChoices):
        USER = "user", _("user")
        ASSISTANT = "assistant", _("assistant")
        OPERATOR = "operator", _("operator")
        SYSTEM = "system", _("system")

    dialog = models.ForeignKey(
        Dialog, on_delete=models.CASCADE, related_name="messages", db_index=False, verbose_name=_("dialog")
    )
    role = models.CharField(max_length=16, choices=Role.choices, verbose_name=_("role"))
    content = models.TextField(verbose_name=_("content"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name_plural = _("messages")
        verbose_name = _("message")
        db_table = "assistants_message"
        constraints = [
            models.CheckConstraint(
                name="message_role_valid", condition=Q(role__in=["user", "assistant", "operator", "system"])
            ),
        ]
        indexes = [
            # Serves the page query (dialog_id = ? AND id < ? ORDER BY id DESC) as one index range scan;
            # it replaces the plain FK index, which it covers.
            models.Index(fields=["dialog", "-id"], name="message_dialog_page_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.role}: {self.content[:40]}"


class BotInstance(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("active")
        DISABLED = "disabled", _("disabled")
        FAILED = "failed", _("failed")

    assistant = models.ForeignKey(
        Assistant, on_delete=models.CASCADE, related_name="bot_instances", verbose_name=_("assistant")
    )
    username = models.CharField(max_length=64, unique=True, verbose_name=_("username"))
    # The token is needed in clear to call the Telegram Bot API, so it is encrypted (Fernet), not hashed.
    token_encrypted = models.TextField(verbose_name=_("token encrypted"))
    # The numeric bot id before the colon is public and lets operators recognise a token.
    token_hint = models.CharField(max_length=32, blank=True, default="", verbose_name=_("token hint"))
    # Telegram echoes the webhook secret back; we only compare it, so a SHA-256 is enough.
    webhook_secret_hash = models.CharField(
        max_length=64, blank=True, default="", verbose_name=_("webhook secret hash")
    )
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.ACTIVE, verbose_name=_("status")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name_plural = _("bot instances")
        verbose_name = _("bot instance")
        db_table = "assistants_bot_instance"

    def __str__(self) -> str:
        return f"@{self.username}"


class HandoffAudit(models.Model):
    class Action(models.TextChoices):
        TAKE = "take", _("take")
        RELEASE = "release", _("release")

    dialog = models.ForeignKey(
        Dialog, on_delete=models.CASCADE, related_name="handoffs", db_index=False, verbose_name=_("dialog")
    )
    operator = models.CharField(max_length=150, verbose_name=_("operator"))
    action = models.CharField(max_length=16, choices=Action.choices, verbose_name=_("action"))
    reason = models.TextField(blank=True, default="", verbose_name=_("reason"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name_plural = _("handoff audits")
        verbose_name = _("handoff audit")
        db_table = "assistants_handoff_audit"
        indexes = [models.Index(fields=["dialog", "-id"], name="handoff_dialog_idx")]

    def __str__(self) -> str:
        return f"{self.action} by {self.operator}"
