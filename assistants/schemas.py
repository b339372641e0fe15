from datetime import datetime
from typing import Literal

from ninja import Schema
from pydantic import Field, field_validator, model_validator

MAX_TEXT_CHARS = 1_000_000
MAX_CHUNK_CHARS = 8_000
MAX_EMBEDDING_LENGTH = 4_096


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
    status: str
    chunks_count: int
    source: str
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
    user: str = Field(..., min_length=1, max_length=140)
    chat_id: str = Field(..., min_length=1, max_length=64)

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
    mode: str
    operator: str
    messages_count: int
    created_at: datetime


class MessageIn(Schema):
    role: Literal["user", "assistant", "operator", "system"]
    content: str = Field(..., min_length=1, max_length=32_000)


class MessageOut(Schema):
    id: int
    dialog_id: int
    role: str
    content: str
    created_at: datetime


class MessagePage(Schema):
    items: list[MessageOut]
    next_cursor: str | None


class HandoffIn(Schema):
    action: Literal["take", "release"]
    operator: str = Field(..., min_length=1, max_length=150)
    reason: str = Field("", max_length=2_000)


class HandoffOut(Schema):
    id: int
    dialog_id: int
    operator: str
    action: str
    reason: str
    mode: str
    created_at: datetime
