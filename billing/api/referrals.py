from django.conf import settings
from django.http import HttpRequest
from ninja import Query, Router

from accounts.selectors import end_user_get
from billing import selectors
from billing.schemas import ReferralsOut, ReferralsQuery
from billing.services import currency_validate
from core.schemas import ERROR_CODES_4XX, ErrorOut

router = Router(tags=["referrals"])


@router.get("/users/{user}/referrals", response={200: ReferralsOut, ERROR_CODES_4XX: ErrorOut})
def referrals_list(request: HttpRequest, user: str, filters: Query[ReferralsQuery]):
    """Users this one referred, newest first, with the rewards their top-ups earned (paged by cursor)."""
    currency = currency_validate(filters.currency or settings.DEFAULT_CURRENCY)
    referrer = end_user_get(ref=user)
    referred_count, rewards_total = selectors.referrals_summary(user=referrer, currency=currency)
    rows, next_cursor = selectors.referrals_page(
        user=referrer, currency=currency, limit=filters.limit, cursor=filters.cursor
    )
    return {
        "referred_count": referred_count,
        "rewards_total": selectors.money(rewards_total),
        "currency": currency,
        "items": [
            {"user": row.display_ref, "joined_at": row.created_at, "reward": selectors.money(row.reward)}
            for row in rows
        ],
        "next_cursor": next_cursor,
    }
