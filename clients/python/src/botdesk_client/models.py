"""The objects of the Bot API contract v1.1 as pydantic models.

Money is `Decimal` (the API sends decimal strings such as "12.50"), times are aware `datetime`s in UTC.
Models accept fields they do not know (the API may add fields), and an enum field also accepts a value
this version does not know yet (it is then a plain `str`), so an older client keeps working.
"""

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field


class ErrorCode(StrEnum):
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    VALIDATION_ERROR = "validation_error"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    RATE_LIMITED = "rate_limited"
    CONFLICT = "conflict"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    GONE = "gone"
    SERVICE_UNAVAILABLE = "service_unavailable"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    INTERNAL_ERROR = "internal_error"


class TransactionType(StrEnum):
    TOPUP = "topup"
    CHARGE = "charge"
    REFUND = "refund"
    BONUS = "bonus"
    REFERRAL_REWARD = "referral_reward"
    PROMO = "promo"
    ADJUSTMENT = "adjustment"
    SUBSCRIPTION = "subscription"
    MERGE = "merge"


class PaymentStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    CANCELED = "canceled"


class PaymentProvider(StrEnum):
    YOOKASSA = "yookassa"
    TELEGRAM_STARS = "telegram_stars"


class RefundStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class GenerationStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMEOUT = "timeout"
    CANCELED = "canceled"


class ModelCategory(StrEnum):
    IMAGE = "image"
    VIDEO = "video"
    AUDIO = "audio"
    TEXT = "text"


class DocumentStatus(StrEnum):
    PENDING = "pending"
    INDEXED = "indexed"
    FAILED = "failed"


class DocumentSource(StrEnum):
    TEXT = "text"
    CHUNKS = "chunks"


class DialogMode(StrEnum):
    BOT = "bot"
    OPERATOR = "operator"


class MessageRole(StrEnum):
    USER = "user"
    ASSISTANT = "assistant"
    OPERATOR = "operator"
    SYSTEM = "system"


class HandoffAction(StrEnum):
    TAKE = "take"
    RELEASE = "release"


class SearchMode(StrEnum):
    VECTOR = "vector"
    HYBRID = "hybrid"


class EventType(StrEnum):
    PAYMENT_SUCCEEDED = "payment.succeeded"
    PAYMENT_CANCELED = "payment.canceled"
    REFUND_SUCCEEDED = "refund.succeeded"
    GENERATION_TIMEOUT = "generation.timeout"
    SUBSCRIPTION_RENEWED = "subscription.renewed"
    SUBSCRIPTION_EXPIRED = "subscription.expired"


BotEventType = EventType  # the name of this enum in the OpenAPI schema


def _open_enum() -> Any:
    # The enum member when the value is known, else the plain string (a newer server's value).
    return Field(union_mode="left_to_right")


class Model(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Balance(Model):
    currency: str
    balance: Decimal
    held: Decimal
    available: Decimal


class SubscriptionBrief(Model):
    plan: str
    expires_at: datetime | None = None


class User(Model):
    id: int
    telegram_id: int | None = None
    device_id: str | None = None
    external_id: str | None = None
    username: str = ""
    first_name: str = ""
    last_name: str = ""
    language_code: str = ""
    referrer: int | None = None
    balance: Balance
    subscription: SubscriptionBrief
    is_blocked: bool = False
    created_at: datetime


Item = TypeVar("Item")


class Page(Model, Generic[Item]):
    """One page of a list: pass `next_cursor` back as `cursor` (or use the client's `iter_*`)."""

    items: list[Item]
    next_cursor: str | None = None


class Transaction(Model):
    id: int
    type: TransactionType | str = _open_enum()
    amount: Decimal
    balance_after: Decimal
    currency: str
    reference: str = ""
    description: str = ""
    created_at: datetime


class Payment(Model):
    id: int | str
    user: str | None = None
    provider: PaymentProvider | str = _open_enum()
    provider_payment_id: str | None = None
    status: PaymentStatus | str = _open_enum()
    amount: Decimal
    currency: str
    confirmation_url: str | None = None
    created_at: datetime | None = None
    resolved_at: datetime | None = None


class Refund(Model):
    id: int | str
    payment: int | str
    provider: PaymentProvider | str = _open_enum()
    provider_refund_id: str | None = None
    amount: Decimal
    currency: str
    status: RefundStatus | str = _open_enum()
    reason: str = ""
    error_message: str = ""
    created_at: datetime
    resolved_at: datetime | None = None


class GenerationRefund(Model):
    id: int | str
    generation: int | str
    amount: Decimal
    currency: str
    reason: str = ""
    created_at: datetime


class PromoRedemption(Model):
    amount: Decimal
    currency: str | None = None
    balance: Balance


class Plan(Model):
    code: str
    name: str
    price: Decimal
    currency: str
    period_days: int
    limits: dict[str, Any] = Field(default_factory=dict)


class Subscription(Model):
    plan: str
    started_at: datetime | None = None
    expires_at: datetime | None = None
    auto_renew: bool = False


class AIModel(Model):
    code: str
    name: str
    category: ModelCategory | str = _open_enum()
    price: Decimal
    currency: str
    is_free: bool


class Generation(Model):
    id: int
    user: str | None = None
    status: GenerationStatus | str = _open_enum()
    model: str
    cost: Decimal
    currency: str
    is_free: bool = False
    prompt: str = ""
    parameters: dict[str, Any] = Field(default_factory=dict)
    task_id: str | None = None
    result_url: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    duration_ms: int | None = None
    created_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None

    @property
    def is_final(self) -> bool:
        return self.status not in (GenerationStatus.PENDING, GenerationStatus.PROCESSING)


class Project(Model):
    id: int
    name: str
    description: str = ""
    items_count: int
    last_item_at: datetime | None = None
    created_at: datetime


class ProjectItem(Model):
    id: int
    generation: int | None = None
    model: str = ""
    inputs: dict[str, Any] = Field(default_factory=dict)
    outputs: dict[str, Any] = Field(default_factory=dict)
    status: str = ""
    created_at: datetime


class ProjectDetail(Project):
    items: list[ProjectItem]


class Referral(Model):
    user: str
    joined_at: datetime
    reward: Decimal


class Referrals(Page[Referral]):
    referred_count: int
    rewards_total: Decimal
    currency: str


class Assistant(Model):
    id: int
    name: str
    instructions: str = ""
    is_active: bool
    documents_count: int
    dialogs_count: int
    messages_count: int
    created_at: datetime


class Document(Model):
    id: int
    title: str
    status: DocumentStatus | str = _open_enum()
    chunks_count: int
    source: DocumentSource | str | None = Field(None, union_mode="left_to_right")
    size: int | None = None
    error: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None


class Chunk(Model):
    """A chunk to upload with `document_upload(chunks=[...])`: the bot's own text and, optionally, vector."""

    content: str
    embedding: list[float] | None = None
    importance: float = 0.5


class SearchHit(Model):
    chunk_id: int
    document_id: int
    content: str
    importance: float
    distance: float
    score: float


class SearchResult(Model):
    items: list[SearchHit]


class Dialog(Model):
    id: int
    assistant_id: int
    user: str
    user_id: int | None = None
    chat_id: str
    mode: DialogMode | str = _open_enum()
    operator: str = ""
    messages_count: int
    created_at: datetime


class Message(Model):
    id: int
    dialog_id: int
    role: MessageRole | str = _open_enum()
    content: str
    created_at: datetime


class Handoff(Model):
    id: int
    dialog_id: int
    operator: str
    action: HandoffAction | str = _open_enum()
    reason: str = ""
    mode: DialogMode | str = _open_enum()
    created_at: datetime


class Webhook(Model):
    url: str
    events: list[EventType | str]


class WebhookWithSecret(Webhook):
    """The answer of `webhook_set`: `secret` signs the events and is shown only here; keep it."""

    secret: str


class ProviderLogAccepted(Model):
    status: str


class DebugLogAccepted(Model):
    id: int


class Health(Model):
    status: str
    database: str
    pgvector: str | None = None
    broker: str


class Event(Model):
    """An event Botdesk POSTs to the bot's webhook; deduplicate by `id` (delivery is at least once)."""

    id: str
    type: EventType | str = _open_enum()
    created_at: datetime
    data: dict[str, Any]
