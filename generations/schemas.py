"""Request and response shapes of the generations endpoints (bot-api.md: Generations, Projects, Logs)."""

import json
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from ninja import Schema
from pydantic import Field, field_validator, model_validator

from core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from core.schemas import Money, UserRef, schema_enum
from generations.models import URL_MAX_LENGTH, AIModel, Generation

# Long text is cut to the stored limits, not refused; these bounds only stop absurd bodies early.
TEXT_INPUT_MAX = 20_000
PARAMETERS_MAX_BYTES = 16_384
MAX_INT32 = 2**31 - 1
MAX_ID = 2**63 - 1
GenerationStatus = schema_enum("GenerationStatus", Generation.Status.values)
ModelCategory = schema_enum("ModelCategory", AIModel.Category.values)


def _bounded_json(value: dict[str, Any], *, limit: int = PARAMETERS_MAX_BYTES) -> dict[str, Any]:
    if len(json.dumps(value, ensure_ascii=False).encode()) > limit:
        raise ValueError(f"at most {limit} bytes of JSON")
    return value


def _result_url(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(ch.isspace() for ch in value):
        raise ValueError("must be an http(s) URL")
    return value


class AIModelOut(Schema):
    code: str
    name: str
    category: ModelCategory
    price: Money
    currency: str
    is_free: bool
    provider: str


class GenerationCreateIn(Schema):
    user: UserRef
    model: str = Field(..., min_length=1, max_length=64)
    prompt: str = Field("", max_length=TEXT_INPUT_MAX, description="stored cut to 1000 characters")
    parameters: dict[str, Any] = Field(default_factory=dict)

    @field_validator("parameters")
    @classmethod
    def parameters_bounded(cls, value: dict[str, Any]) -> dict[str, Any]:
        return _bounded_json(value)


class GenerationStatusIn(Schema):
    status: Literal["processing", "succeeded", "failed", "timeout", "canceled"]
    task_id: str | None = Field(None, max_length=255)
    result_url: str | None = Field(None, max_length=URL_MAX_LENGTH)
    error_code: str | None = Field(None, max_length=TEXT_INPUT_MAX, description="stored cut to 64 characters")
    error_message: str | None = Field(
        None, max_length=TEXT_INPUT_MAX, description="stored cut to 500 characters"
    )
    duration_ms: int | None = Field(None, ge=0, le=MAX_INT32)

    @field_validator("result_url")
    @classmethod
    def result_is_url(cls, value: str | None) -> str | None:
        return _result_url(value)


class GenerationOut(Schema):
    id: int
    user: str
    status: GenerationStatus
    model: str
    cost: Money
    currency: str
    is_free: bool
    prompt: str
    parameters: dict[str, Any]
    task_id: str | None
    result_url: str | None
    error_code: str | None
    error_message: str | None
    duration_ms: int | None
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None


class GenerationPage(Schema):
    items: list[GenerationOut]
    next_cursor: str | None


class GenerationsQuery(Schema):
    status: GenerationStatus | None = None
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    cursor: str | None = Field(None, max_length=64)


class PageQuery(Schema):
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    cursor: str | None = Field(None, max_length=64)


class ProjectIn(Schema):
    name: str = Field(..., min_length=1, max_length=200)
    description: str = Field("", max_length=2000)


class ProjectOut(Schema):
    id: int
    name: str
    description: str
    items_count: int
    last_item_at: datetime | None
    created_at: datetime


class ProjectPage(Schema):
    items: list[ProjectOut]
    next_cursor: str | None


class ProjectItemIn(Schema):
    generation: int | None = Field(None, gt=0, le=MAX_ID)
    model: str | None = Field(None, max_length=64)
    inputs: dict[str, Any] | None = None
    outputs: dict[str, Any] | None = None
    status: str | None = Field(None, max_length=20)

    @model_validator(mode="after")
    def one_source(self) -> "ProjectItemIn":
        outside = [
            name for name in ("model", "inputs", "outputs", "status") if getattr(self, name) is not None
        ]
        if self.generation is None and not outside:
            raise ValueError("give a generation id, or model/inputs/outputs/status")
        if self.generation is not None and outside:
            raise ValueError("give a generation id or model/inputs/outputs/status, not both")
        return self


class ProjectItemOut(Schema):
    id: int
    generation: int | None
    model: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    status: str
    created_at: datetime


class ProjectDetailOut(ProjectOut):
    items: list[ProjectItemOut]


class ProviderLogIn(Schema):
    user: UserRef | None = None
    model: str = Field("", max_length=TEXT_INPUT_MAX, description="stored cut to 64 characters")
    prompt: str = Field("", max_length=TEXT_INPUT_MAX, description="stored cut to 1000 characters")
    result_url: str | None = Field(None, max_length=URL_MAX_LENGTH)
    error_message: str | None = Field(
        None, max_length=TEXT_INPUT_MAX, description="stored cut to 500 characters"
    )
    duration_ms: int | None = Field(None, ge=0, le=MAX_INT32)


class AcceptedOut(Schema):
    status: Literal["accepted"]


class GenerationRefundIn(Schema):
    reason: str = Field("", max_length=255)


class GenerationRefundOut(Schema):
    id: int
    generation: int
    amount: Money
    currency: str
    reason: str
    created_at: datetime
