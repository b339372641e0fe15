from datetime import datetime

from ninja import Schema
from pydantic import Field, model_validator

from accounts.models import BotEventType
from core.schemas import UserRef


class BalanceOut(Schema):
    currency: str
    balance: str
    held: str
    available: str


class SubscriptionBrief(Schema):
    plan: str
    expires_at: datetime | None = None


class UserOut(Schema):
    id: int
    telegram_id: int | None
    device_id: str | None
    external_id: str | None
    username: str
    first_name: str
    last_name: str
    language_code: str
    referrer: int | None
    balance: BalanceOut
    subscription: SubscriptionBrief
    is_blocked: bool = Field(description="Blocked by an operator: spending and starting anything is 403.")
    created_at: datetime


class UserUpsertIn(Schema):
    username: str | None = Field(None, max_length=64)
    first_name: str | None = Field(None, max_length=128)
    last_name: str | None = Field(None, max_length=128)
    language_code: str | None = Field(None, max_length=16)
    referrer: UserRef | None = None


class IdentityIn(Schema):
    telegram_id: int | None = Field(None, gt=0, le=2**63 - 1)
    device_id: str | None = Field(None, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:@|+=-]+$")
    external_id: str | None = Field(None, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:@|+=-]+$")

    @model_validator(mode="after")
    def exactly_one(self) -> "IdentityIn":
        given = [
            name for name in ("telegram_id", "device_id", "external_id") if getattr(self, name) is not None
        ]
        if len(given) != 1:
            raise ValueError("give exactly one of telegram_id, device_id, external_id")
        return self


class WebhookIn(Schema):
    url: str = Field(
        ...,
        min_length=1,
        max_length=2000,
        description="http(s) URL the events are POSTed to",
        examples=["https://bot.example.com/botdesk/events"],
    )
    events: list[BotEventType] | None = Field(
        None,
        min_length=1,
        max_length=16,
        description="event types to receive; default all",
        examples=[["payment.succeeded", "generation.timeout"]],
    )


class WebhookOut(Schema):
    url: str
    events: list[BotEventType]


class WebhookCreatedOut(WebhookOut):
    secret: str = Field(..., description="the signing secret of Botdesk-Signature; shown only in this answer")
