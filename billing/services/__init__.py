"""Writes of the billing app. Import from here: `from billing import services`."""

from billing.services.ledger import (
    HoldResolution,
    balance_adjust,
    credit_grant,
    currency_validate,
    entry_post,
    hold_capture,
    hold_create,
    hold_release,
    holds_expire,
    system_account_cache_clear,
    system_account_id,
    user_account_id,
    users_merge_balances,
    welcome_bonus_grant,
)
from billing.services.payments import (
    payment_create,
    provider_event_mark,
    provider_event_record,
    provider_idempotence_key,
    telegram_stars_credit,
    yookassa_notification_apply,
    yookassa_notification_verify,
)
from billing.services.promo import promo_code_redeem, promo_codes_create_batch, promo_codes_deactivate
from billing.services.subscriptions import subscription_purchase, subscription_renew, subscriptions_renew

__all__ = [
    "HoldResolution",
    "balance_adjust",
    "credit_grant",
    "currency_validate",
    "entry_post",
    "hold_capture",
    "hold_create",
    "hold_release",
    "holds_expire",
    "payment_create",
    "promo_code_redeem",
    "promo_codes_create_batch",
    "promo_codes_deactivate",
    "provider_event_mark",
    "provider_event_record",
    "provider_idempotence_key",
    "subscription_purchase",
    "subscription_renew",
    "subscriptions_renew",
    "system_account_cache_clear",
    "system_account_id",
    "telegram_stars_credit",
    "user_account_id",
    "users_merge_balances",
    "welcome_bonus_grant",
    "yookassa_notification_apply",
    "yookassa_notification_verify",
]
