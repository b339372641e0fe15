from datetime import datetime
from typing import Any, Literal

from ninja import Schema
from pydantic import Field

from accounts.schemas import BalanceOut
from billing.models import Payment
from core.schemas import PositiveMoney, UserRef, schema_enum

ENTRY_TYPE_NAMES = (
    "topup",
    "charge",
    "refund",
    "bonus",
    "referral_reward",
    "promo",
    "adjustment",
    "subscription",
    "merge",
)

# Enums in the schema, so that generated clients can switch on them.
TransactionType = schema_enum("TransactionType", ENTRY_TYPE_NAMES)
PaymentStatus = schema_enum("PaymentStatus", Payment.Status.values)
PaymentProvider = schema_enum("PaymentProvider", Payment.Provider.values)


class TransactionOut(Schema):
    id: int
    type: TransactionType
    amount: str
    balance_after: str
    currency: str
    reference: str
    description: str
    created_at: datetime


class TransactionPage(Schema):
    items: list[TransactionOut]
    next_cursor: str | None


class TransactionsQuery(Schema):
    type: TransactionType | None = None
    limit: int = Field(50, ge=1, le=200)
    cursor: str | None = None
    currency: str | None = Field(None, max_length=8, description="only this currency (default: all)")


class PaymentCreateIn(Schema):
    amount: PositiveMoney
    currency: str | None = Field(None, max_length=8, description="default: the default currency (RUB)")
    provider: Literal["yookassa"] = "yookassa"
    description: str | None = Field(None, max_length=128)
    customer_email: str | None = Field(
        None, max_length=254, pattern=r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$", description="for the 54-FZ receipt"
    )
    customer_phone: str | None = Field(
        None,
        pattern=r"^\+?[0-9]{11,15}$",
        description="for the 54-FZ receipt: ITU-T E.164, e.g. 79000000000",
    )


class PaymentOut(Schema):
    id: int
    user: str
    provider: PaymentProvider
    provider_payment_id: str | None
    status: PaymentStatus
    amount: str
    currency: str
    confirmation_url: str | None
    created_at: datetime
    resolved_at: datetime | None


class TelegramStarsIn(Schema):
    user: UserRef
    telegram_payment_charge_id: str = Field(..., min_length=1, max_length=128)
    currency: Literal["XTR"]
    total_amount: int = Field(..., ge=1, le=1_000_000)
    invoice_payload: str = Field("", max_length=512)


class ReferralOut(Schema):
    user: str
    joined_at: datetime
    reward: str


class ReferralsOut(Schema):
    referred_count: int
    rewards_total: str
    currency: str
    items: list[ReferralOut]
    next_cursor: str | None


class ReferralsQuery(Schema):
    limit: int = Field(50, ge=1, le=200)
    cursor: str | None = None
    currency: str | None = Field(None, max_length=8)


class PromoRedeemIn(Schema):
    code: str = Field(..., min_length=1, max_length=64)


class PromoRedeemOut(Schema):
    amount: str
    currency: str
    balance: BalanceOut


class PlanOut(Schema):
    code: str
    name: str
    price: str
    currency: str
    period_days: int
    limits: dict[str, Any]


class SubscriptionOut(Schema):
    plan: str
    started_at: datetime | None
    expires_at: datetime | None
    auto_renew: bool


class SubscriptionIn(Schema):
    plan: str = Field(..., min_length=1, max_length=64)
    auto_renew: bool = False


class RefundCreateIn(Schema):
    amount: PositiveMoney | None = Field(None, description="default: what is left to refund")
    reason: str = Field("", max_length=255)


class RefundStatusIn(Schema):
    status: Literal["succeeded", "failed"]
    error_message: str = Field("", max_length=500)


class RefundOut(Schema):
    id: int
    payment: int
    provider: str
    provider_refund_id: str | None
    amount: str
    currency: str
    status: str
    reason: str
    error_message: str
    created_at: datetime
    resolved_at: datetime | None
