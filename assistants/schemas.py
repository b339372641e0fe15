from datetime import datetime
from typing import Annotated, Literal

from ninja import Schema
from pydantic import Field, WithJsonSchema, field_validator, model_validator

from assistants.models import Dialog, Document, HandoffAudit, Message
from core.schemas import UserRef, schema_enum

MAX_TEXT_CHARS = 1_000_000
MAX_CHUNK_CHARS = 8_000
MAX_EMBEDDING_LENGTH = 4_096

DocumentStatus = schema_enum("DocumentStatus", Document.Status.values)
DocumentSource = schema_enum("DocumentSource", Document.Source.values)
DialogMode = schema_enum("DialogMode", Dialog.Mode.values)
MessageRole = schema_enum("MessageRole", Message.Role.values)
HandoffAction = schema_enum("HandoffAction", HandoffAudit.Action.values)


class AssistantIn(Schema):
    name: str = Field(..., min_length=1, max_length=200)
    instructions: str = Field("", max_length=20_000)


class AssistantOut(Schema):
    id: int
    name: str
    instructions: str
    is_active: bool
    documents_count: int
    dialogs_count: int
    messages_count: int
    created_at: datetime


class AssistantListItem(Schema):
    id: int
    name: str
    is_active: bool
    documents_count: int
    dialogs_count: int
    messages_count: int
    created_at: datetime


class AssistantPage(Schema):
    items: list[AssistantListItem]
    next_cursor: str | None


class ChunkIn(Schema):
    content: str = Field(..., min_length=1, max_length=MAX_CHUNK_CHARS)
    embedding: list[float] | None = Field(None, max_length=MAX_EMBEDDING_LENGTH)
    importance: float = Field(0.5, ge=0, le=1, allow_inf_nan=False)


class DocumentIn(Schema):
    title: str = Field(..., min_length=1, max_length=300)
    text: str | None = Field(None, min_length=1, max_length=MAX_TEXT_CHARS)
    chunks: list[ChunkIn] | None = Field(None, min_length=1, max_length=2_000)

    @model_validator(mode="after")
    def text_or_chunks(self) -> "DocumentIn":
        if (self.text is None) == (self.chunks is None):
            raise ValueError("send either text or chunks")
        return self


class DocumentOut(Schema):
    id: int
    title: str
    status: DocumentStatus
    chunks_count: int
    source: DocumentSource
    size: int
    error: str
    created_at: datetime
    updated_at: datetime


class DocumentPage(Schema):
    items: list[DocumentOut]
    next_cursor: str | None


class SearchIn(Schema):
    query: str | None = Field(None, max_length=4_000)
    embedding: list[float] | None = Field(None, max_length=MAX_EMBEDDING_LENGTH)
    limit: int = Field(5, ge=1, le=50)
    min_importance: float | None = Field(None, ge=0, le=1, allow_inf_nan=False)
    mode: Literal["vector", "hybrid"] = "vector"

    @model_validator(mode="after")
    def query_or_embedding(self) -> "SearchIn":
        if not (self.query or "").strip() and self.embedding is None:
            raise ValueError("send a query or an embedding")
        return self


class SearchHit(Schema):
    chunk_id: int
    document_id: int
    content: str
    importance: float
    distance: float
    score: float


class SearchOut(Schema):
    items: list[SearchHit]


class DialogIn(Schema):
    user: UserRef
    chat_id: Annotated[
        str,
        WithJsonSchema({"anyOf": [{"type": "string", "minLength": 1, "maxLength": 64}, {"type": "integer"}]}),
    ] = Field(..., min_length=1, max_length=64)

    @field_validator("chat_id", mode="before")
    @classmethod
    def chat_id_as_text(cls, value):
        # Telegram chat ids are integers (negative for groups); they are stored as text.
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return value


class DialogOut(Schema):
    id: int
    assistant_id: int
    user: str
    user_id: int
    chat_id: str
    mode: DialogMode
    operator: str
    messages_count: int
    created_at: datetime


class MessageIn(Schema):
    role: MessageRole
    content: str = Field(..., min_length=1, max_length=32_000)


class MessageOut(Schema):
    id: int
    dialog_id: int
    role: MessageRole
    content: str
    created_at: datetime


class MessagePage(Schema):
    items: list[MessageOut]
    next_cursor: str | None


class HandoffIn(Schema):
    action: HandoffAction
    operator: str = Field(..., min_length=1, max_length=150)
    reason: str = Field("", max_length=2_000)


class HandoffOut(Schema):
    id: int
    dialog_id: int
    operator: str
    action: HandoffAction
    reason: str
    mode: DialogMode
    created_at: datetime
