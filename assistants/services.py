"""Writes of the assistants app: assistants, document ingestion, dialogs and messages, handoff, bots."""

import base64
import hashlib
import logging
import secrets
from dataclasses import dataclass

from cryptography.fernet import Fernet
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import CharField, F, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from accounts.errors import UserBlocked
from accounts.models import EndUser
from accounts.services import end_user_current
from assistants.chunking import chunk_text
from assistants.embeddings import get_embedder, validate_embedding
from assistants.errors import AssistantsError
from assistants.models import (
    Assistant,
    BotInstance,
    Dialog,
    Document,
    HandoffAudit,
    KnowledgeChunk,
    Message,
)

logger = logging.getLogger(__name__)


# --- Assistants -----------------------------------------------------------------------------


def assistant_create(*, owner: EndUser, name: str, instructions: str = "") -> Assistant:
    name = name.strip()
    if not name:
        raise AssistantsError(
            "The name must not be blank.", code="validation_error", details={"name": "blank"}
        )
    with transaction.atomic():
        return Assistant.objects.create(
            owner=end_user_current(user=owner), name=name, instructions=instructions
        )


def assistants_user_merge(*, source: EndUser, target: EndUser) -> None:
    """An anonymous user merged into a registered one takes its assistants and dialogs along."""
    Assistant.objects.filter(owner=source).update(owner=target, updated_at=timezone.now())
    Dialog.objects.filter(user=source).update(user=target)


# --- Documents and chunks -------------------------------------------------------------------


@dataclass(frozen=True)
class ChunkInput:
    content: str
    importance: float = 0.5
    embedding: list[float] | None = None


@dataclass(frozen=True)
class _PlannedChunk:
    content: str
    importance: float
    content_hash: str
    embedding: list[float] | None


def _content_hash(identity: str, content: str) -> str:
    return hashlib.sha256(f"{identity}\x00{content}".encode()).hexdigest()


def _plan(chunks: list[ChunkInput]) -> list[_PlannedChunk]:
    """Hashes every chunk; a bot's own vector is part of its chunk's identity."""
    identity = get_embedder().identity
    planned = []
    for chunk in chunks:
        if chunk.embedding is not None:
            vector_digest = hashlib.sha256(repr(chunk.embedding).encode()).hexdigest()
            content_hash = _content_hash(f"provided:{vector_digest}", chunk.content)
        else:
            content_hash = _content_hash(identity, chunk.content)
        planned.append(_PlannedChunk(chunk.content, chunk.importance, content_hash, chunk.embedding))
    return planned


def _text_chunks(text: str) -> list[ChunkInput]:
    pieces = chunk_text(text, size=settings.ASSISTANTS_CHUNK_CHARS, overlap=settings.ASSISTANTS_CHUNK_OVERLAP)
    return [ChunkInput(content=piece) for piece in pieces]


def _embed_missing(document_id: int | None, planned: list[_PlannedChunk]) -> dict[str, list[float] | None]:
    """Vectors for the planned chunks: reused for unchanged content, embedded for the rest.

    Runs outside any transaction: an embedding call may take seconds (or a network round trip)
    and must not hold row locks meanwhile.
    """
    known = (
        set(
            KnowledgeChunk.objects.filter(
                document_id=document_id, content_hash__in=[chunk.content_hash for chunk in planned]
            ).values_list("content_hash", flat=True)
        )
        if document_id is not None
        else set()
    )
    vectors: dict[str, list[float] | None] = {
        chunk.content_hash: None for chunk in planned if chunk.content_hash in known
    }
    missing = [chunk for chunk in planned if chunk.content_hash not in vectors and chunk.embedding is None]
    for chunk in planned:
        if chunk.embedding is not None and chunk.content_hash not in vectors:
            vectors[chunk.content_hash] = chunk.embedding
    if missing:
        unique = {chunk.content_hash: chunk.content for chunk in missing}
        embedded = get_embedder().embed(list(unique.values()))
        vectors.update(zip(unique.keys(), embedded, strict=True))
    return vectors


def _replace_chunks(
    *, document: Document, planned: list[_PlannedChunk], vectors: dict[str, list[float] | None]
) -> tuple[int, int]:
    """Makes the document's chunks exactly `planned`, inside the caller's transaction.

    Unchanged chunks (same content hash) keep their rows and vectors; only their ordinal and
    importance move. Returns (kept, created). Rows whose vector was not yet known when embedding
    ran (a concurrent upload added them) are embedded here as a last resort.
    """
    existing: dict[str, list[KnowledgeChunk]] = {}
    for chunk in (
        KnowledgeChunk.objects.filter(document=document)
        .only("id", "ordinal", "importance", "content_hash")
        .order_by("ordinal")
    ):
        existing.setdefault(chunk.content_hash, []).append(chunk)
    to_update: list[KnowledgeChunk] = []
    to_create: list[KnowledgeChunk] = []
    for ordinal, plan in enumerate(planned):
        reusable = existing.get(plan.content_hash)
        if reusable:
            row = reusable.pop(0)
            if row.ordinal != ordinal or row.importance != plan.importance:
                row.ordinal, row.importance = ordinal, plan.importance
                to_update.append(row)
            continue
        vector = vectors.get(plan.content_hash) or plan.embedding
        if vector is None:
            vector = get_embedder().embed([plan.content])[0]
        to_create.append(
            KnowledgeChunk(
                assistant_id=document.assistant_id,
                document=document,
                ordinal=ordinal,
                content=plan.content,
                importance=plan.importance,
                content_hash=plan.content_hash,
                embedding=vector,
            )
        )
    stale = [row.pk for rows in existing.values() for row in rows]
    if stale:
        KnowledgeChunk.objects.filter(pk__in=stale).delete()
    if to_update:
        # Ordinals may swap between rows; the unique (document, ordinal) constraint is deferred.
        KnowledgeChunk.objects.bulk_update(to_update, ["ordinal", "importance"], batch_size=500)
    if to_create:
        KnowledgeChunk.objects.bulk_create(to_create, batch_size=500)
    return len(planned) - len(to_create), len(to_create)


def _apply(*, document_id: int, version: int, planned: list[_PlannedChunk], vectors) -> Document | None:
    """Swaps in the planned chunks if the document is still at `version`; one transaction."""
    with transaction.atomic():
        document = Document.objects.select_for_update().filter(pk=document_id).first()
        if document is None or document.version != version:
            # Deleted or re-uploaded meanwhile: the newer version's own run owns the chunks.
            return None
        return _swap_chunks(document=document, planned=planned, vectors=vectors)


def _swap_chunks(*, document: Document, planned: list[_PlannedChunk], vectors) -> Document:
    """Inside the caller's transaction, with the document row locked."""
    kept, created = _replace_chunks(document=document, planned=planned, vectors=vectors)
    delta = len(planned) - document.chunks_count
    document.chunks_count = len(planned)
    document.status = Document.Status.INDEXED
    document.error = ""
    document.indexed_at = timezone.now()
    document.pending_chunks = None  # stored as rows now
    document.save(
        update_fields=["chunks_count", "status", "error", "indexed_at", "pending_chunks", "updated_at"]
    )
    if delta:
        Assistant.objects.filter(pk=document.assistant_id).update(chunks_count=F("chunks_count") + delta)
    logger.info("document %s v%s indexed: %s kept, %s new", document.pk, document.version, kept, created)
    return document


def _validate_chunks(chunks: list[ChunkInput]) -> list[ChunkInput]:
    limit = settings.ASSISTANTS_MAX_CHUNKS_PER_DOCUMENT
    if not chunks:
        raise AssistantsError(
            "Send text or at least one chunk.", code="validation_error", details={"chunks": "empty"}
        )
    if len(chunks) > limit:
        raise AssistantsError(
            f"At most {limit} chunks per document.", code="validation_error", details={"chunks": "too many"}
        )
    result = []
    for index, chunk in enumerate(chunks):
        if not chunk.content.strip():
            raise AssistantsError(
                "A chunk's content must not be blank.",
                code="validation_error",
                details={f"chunks[{index}].content": "blank"},
            )
        if not 0 <= chunk.importance <= 1:
            raise AssistantsError(
                "importance is between 0 and 1.",
                code="validation_error",
                details={f"chunks[{index}].importance": "out of range"},
            )
        embedding = (
            validate_embedding(chunk.embedding, field=f"chunks[{index}].embedding")
            if chunk.embedding is not None
            else None
        )
        result.append(ChunkInput(content=chunk.content, importance=chunk.importance, embedding=embedding))
    return result


def document_upload(
    *, assistant: Assistant, title: str, text: str | None = None, chunks: list[ChunkInput] | None = None
) -> tuple[Document, bool]:
    """Adds a document, or replaces the one with the same title; returns (document, created).

    Short texts and small chunk uploads are indexed before this returns; long texts and large chunk
    uploads (ASSISTANTS_SYNC_INDEX_MAX_CHUNKS, ASSISTANTS_SYNC_INDEX_MAX_CHARS) are stored as `pending`
    and indexed by a worker. A re-upload keeps the previous chunks searchable until the
    new ones replace them in one transaction.
    """
    title = title.strip()
    if not title:
        raise AssistantsError(
            "The title must not be blank.", code="validation_error", details={"title": "blank"}
        )
    if (text is None) == (chunks is None):
        raise AssistantsError(
            "Send either text or chunks.", code="validation_error", details={"text": "either text or chunks"}
        )
    if text is not None:
        if not text.strip():
            raise AssistantsError(
                "The text must not be blank.", code="validation_error", details={"text": "blank"}
            )
        if len(text) > settings.ASSISTANTS_MAX_TEXT_CHARS:
            raise AssistantsError(
                "The text is too long.", code="validation_error", details={"text": "too long"}
            )
        source, size = Document.Source.TEXT, len(text)
        inline = size <= settings.ASSISTANTS_SYNC_INDEX_MAX_CHARS
        planned_inputs = _text_chunks(text) if inline else []
    else:
        planned_inputs = _validate_chunks(chunks)
        source, size = Document.Source.CHUNKS, sum(len(c.content) for c in planned_inputs)
        inline = (
            len(planned_inputs) <= settings.ASSISTANTS_SYNC_INDEX_MAX_CHUNKS
            and size <= settings.ASSISTANTS_SYNC_INDEX_MAX_CHARS
        )

    if not inline:
        pending = (
            [
                {"content": c.content, "importance": c.importance, "embedding": c.embedding}
                for c in planned_inputs
            ]
            if source == Document.Source.CHUNKS
            else None
        )
        document, created = _document_store(
            assistant=assistant,
            title=title,
            text=text or "",
            source=source,
            size=size,
            pending_chunks=pending,
        )
        version = document.version
        transaction.on_commit(lambda: _enqueue_index(document.pk, version))
        return document, created
    planned = _plan(planned_inputs)
    previous_id = (
        Document.objects.filter(assistant=assistant, title=title).values_list("pk", flat=True).first()
    )
    # Embedding first, outside the transaction: if it fails nothing at all is written.
    vectors = _embed_missing(previous_id, planned)
    with transaction.atomic():
        document, created = _document_store(
            assistant=assistant, title=title, text=text or "", source=source, size=size
        )
        return _swap_chunks(document=document, planned=planned, vectors=vectors), created


def _document_store(
    *, assistant: Assistant, title: str, text: str, source: str, size: int, pending_chunks: list | None = None
) -> tuple[Document, bool]:
    """Creates the document row or bumps the existing one to a new pending version."""
    content = {"text": text, "source": source, "size": size, "pending_chunks": pending_chunks}
    with transaction.atomic():
        document = Document.objects.select_for_update().filter(assistant=assistant, title=title).first()
        if document is None:
            try:
                with transaction.atomic():
                    document = Document.objects.create(assistant=assistant, title=title, **content)
                    Assistant.objects.filter(pk=assistant.pk).update(documents_count=F("documents_count") + 1)
                    return document, True
            except IntegrityError:
                # A concurrent upload of the same title won; this one becomes its next version.
                document = Document.objects.select_for_update().get(assistant=assistant, title=title)
        for field, value in content.items():
            setattr(document, field, value)
        document.status, document.error = Document.Status.PENDING, ""
        document.version = F("version") + 1
        document.save(update_fields=[*content, "status", "error", "version", "updated_at"])
        document.refresh_from_db(fields=["version"])
        return document, False


def _enqueue_index(document_id: int, version: int) -> None:
    from assistants.tasks import document_index_task

    try:
        document_index_task.delay(document_id, version)
    except Exception:  # the broker is down: the document stays pending and the admin can re-index
        logger.exception("could not queue indexing of document %s", document_id)


def document_index(*, document_id: int, version: int | None = None) -> Document | None:
    """Builds a text document's chunks from its stored text (the worker's and re-index's entry).

    Idempotent: a second run finds every chunk unchanged and only marks the document indexed; a
    run for an outdated version does nothing.
    """
    document = (
        Document.objects.filter(pk=document_id)
        .only("id", "version", "source", "text", "pending_chunks")
        .first()
    )
    if document is None or (version is not None and document.version != version):
        return None
    if document.source != Document.Source.TEXT and document.pending_chunks is None:
        # A bot's chunks, already stored, are their own source; there is no text to rebuild them from.
        return _apply_unchanged_chunks(document)
    try:
        if document.source == Document.Source.TEXT:
            inputs = _text_chunks(document.text)
        else:
            inputs = [ChunkInput(**chunk) for chunk in document.pending_chunks]
        planned = _plan(inputs)
        vectors = _embed_missing(document.pk, planned)
    except Exception as exc:
        Document.objects.filter(pk=document.pk, version=document.version).update(
            status=Document.Status.FAILED, error=str(exc)[:2000], updated_at=timezone.now()
        )
        raise
    return _apply(document_id=document.pk, version=document.version, planned=planned, vectors=vectors)


def _apply_unchanged_chunks(document: Document) -> Document:
    Document.objects.filter(pk=document.pk, version=document.version).update(
        status=Document.Status.INDEXED, error="", updated_at=timezone.now()
    )
    return Document.objects.get(pk=document.pk)


def document_reindex(*, document_id: int) -> None:
    """Queues a rebuild (admin action): unchanged chunks keep their vectors, so it is cheap."""
    with transaction.atomic():
        Document.objects.filter(pk=document_id).update(
            status=Document.Status.PENDING, version=F("version") + 1, updated_at=timezone.now()
        )
        version = Document.objects.values_list("version", flat=True).filter(pk=document_id).first()
        if version is not None:
            transaction.on_commit(lambda: _enqueue_index(document_id, version))


def document_delete(*, assistant: Assistant, document_id: int) -> None:
    """Deletes the document and its chunks in one transaction: no orphan vectors."""
    with transaction.atomic():
        document = (
            Document.objects.select_for_update()
            .filter(pk=document_id, assistant=assistant)
            .only("id", "assistant_id", "chunks_count")
            .first()
        )
        if document is None:
            raise AssistantsError(
                f"No document {document_id} in this assistant.",
                code="not_found",
                details={"document": document_id},
            )
        KnowledgeChunk.objects.filter(document_id=document.pk).delete()
        Document.objects.filter(pk=document.pk).delete()
        Assistant.objects.filter(pk=assistant.pk).update(
            chunks_count=F("chunks_count") - document.chunks_count, documents_count=F("documents_count") - 1
        )


# --- Dialogs, messages, handoff ---------------------------------------------------------------


def dialog_open(*, assistant: Assistant, user: EndUser, chat_id: str) -> tuple[Dialog, bool]:
    """The dialog of this chat with the assistant, created on first contact; returns (dialog, created)."""
    dialog = Dialog.objects.filter(assistant=assistant, chat_id=chat_id).first()
    if dialog is None:
        try:
            with transaction.atomic():
                user = end_user_current(user=user)
                dialog = Dialog.objects.create(assistant=assistant, user=user, chat_id=chat_id)
                Assistant.objects.filter(pk=assistant.pk).update(dialogs_count=F("dialogs_count") + 1)
                return dialog, True
        except IntegrityError:
            dialog = Dialog.objects.get(assistant=assistant, chat_id=chat_id)
    if dialog.user_id not in (user.pk, user.merged_into_id):
        raise AssistantsError(
            "This chat already has a dialog with another user.", code="conflict", details={"chat_id": chat_id}
        )
    return dialog, False


def dialogs_user_forget(*, user: EndUser) -> None:
    """Clears what identifies the person in their dialogs; the dialogs and counters stay."""
    dialogs = Dialog.objects.filter(user=user)
    Message.objects.filter(dialog__in=dialogs).exclude(content="").update(content="")
    dialogs.update(chat_id=Concat(Value("anonymized-"), Cast("id", CharField())))


def message_create(*, dialog_id: int, role: str, content: str) -> Message:
    """Appends a message and counts it on its dialog, atomically.

    While an operator holds the dialog the bot must stay silent: an `assistant` message is refused.
    The conditional update takes the dialog's row lock, so a concurrent handoff cannot slip between
    the check and the insert.
    """
    if role not in Message.Role.values:
        raise AssistantsError("Unknown role.", code="validation_error", details={"role": "unknown"})
    now = timezone.now()
    with transaction.atomic():
        dialogs = Dialog.objects.filter(pk=dialog_id)
        if role == Message.Role.ASSISTANT:
            dialogs = dialogs.exclude(mode=Dialog.Mode.OPERATOR)
        if not dialogs.update(messages_count=F("messages_count") + 1, last_message_at=now):
            if Dialog.objects.filter(pk=dialog_id).exists():
                raise AssistantsError(
                    "An operator has taken over this dialog; the assistant must not answer.",
                    code="conflict",
                    details={"dialog": "taken by an operator"},
                )
            raise AssistantsError(f"No dialog {dialog_id}.", code="not_found", details={"dialog": dialog_id})
        # Locks taken child first (dialog, then assistant) everywhere, so no two writers deadlock.
        # The counter's statement also decides the block (bot-api.md v1.1): nothing is counted for a
        # blocked user, and the refusal rolls the dialog's count back with it, with no extra query.
        counted = Assistant.objects.filter(dialogs__pk=dialog_id, dialogs__user__is_blocked=False).update(
            messages_count=F("messages_count") + 1
        )
        if not counted:
            raise UserBlocked()
        return Message.objects.create(dialog_id=dialog_id, role=role, content=content)


def dialog_handoff(*, dialog_id: int, action: str, operator: str, reason: str = "") -> HandoffAudit:
    """An operator takes a dialog from the bot or gives it back; every change is audited."""
    operator = operator.strip()
    if not operator:
        raise AssistantsError("Name the operator.", code="validation_error", details={"operator": "blank"})
    if action not in HandoffAudit.Action.values:
        raise AssistantsError(
            "Unknown action.", code="validation_error", details={"action": "take or release"}
        )
    with transaction.atomic():
        dialog = Dialog.objects.select_for_update().filter(pk=dialog_id).first()
        if dialog is None:
            raise AssistantsError(f"No dialog {dialog_id}.", code="not_found", details={"dialog": dialog_id})
        if action == HandoffAudit.Action.TAKE:
            if dialog.mode == Dialog.Mode.OPERATOR:
                raise AssistantsError(
                    f"The dialog is already taken by {dialog.operator}.",
                    code="conflict",
                    details={"operator": dialog.operator},
                )
            dialog.mode, dialog.operator = Dialog.Mode.OPERATOR, operator
        else:
            if dialog.mode != Dialog.Mode.OPERATOR:
                raise AssistantsError(
                    "The dialog is not taken by an operator.",
                    code="conflict",
                    details={"action": "not taken"},
                )
            dialog.mode, dialog.operator = Dialog.Mode.BOT, ""
        dialog.save(update_fields=["mode", "operator"])
        return HandoffAudit.objects.create(dialog=dialog, operator=operator, action=action, reason=reason)


# --- Bot instances ----------------------------------------------------------------------------


def _fernet() -> Fernet:
    material = settings.ASSISTANTS_TOKEN_KEY or f"assistants-bot-token:{settings.SECRET_KEY}"
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(material.encode()).digest()))


def _secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def bot_instance_create(*, assistant: Assistant, username: str, token: str) -> tuple[BotInstance, str]:
    """Stores the bot's token encrypted; returns the instance and a new webhook secret (shown once)."""
    username = username.strip().lstrip("@")
    token = token.strip()
    if not username or ":" not in token:
        raise AssistantsError(
            "A bot needs a username and a token like 123456:ABC...",
            code="validation_error",
            details={"token": "expected <bot id>:<secret>"},
        )
    webhook_secret = secrets.token_urlsafe(32)
    try:
        with transaction.atomic():
            bot = BotInstance.objects.create(
                assistant=assistant,
                username=username,
                token_encrypted=_fernet().encrypt(token.encode()).decode(),
                token_hint=token.split(":", 1)[0][:32],
                webhook_secret_hash=_secret_hash(webhook_secret),
            )
    except IntegrityError as exc:
        raise AssistantsError(
            f"@{username} is already registered.", code="conflict", details={"username": "taken"}
        ) from exc
    return bot, webhook_secret


def bot_instance_set_status(*, bot: BotInstance, status: str) -> None:
    if status not in BotInstance.Status.values:
        raise AssistantsError("Unknown status.", code="validation_error", details={"status": "unknown"})
    if bot.status != status:
        bot.status = status
        bot.save(update_fields=["status", "updated_at"])
