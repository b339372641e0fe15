"""Bot API endpoints of the billing app (bot-api.md: Balance and ledger, Payments, Promo codes and
subscriptions, referrals). Shape validation only; the rules live in services."""

from ninja import Router

from billing.api.balance import router as balance_router
from billing.api.payments import router as payments_router
from billing.api.promo import router as promo_router
from billing.api.referrals import router as referrals_router
from billing.api.refunds import router as refunds_router
from billing.api.subscriptions import router as subscriptions_router

router = Router()
router.add_router("", balance_router)
router.add_router("", payments_router)
router.add_router("", refunds_router)
router.add_router("", referrals_router)
router.add_router("", promo_router)
router.add_router("", subscriptions_router)
