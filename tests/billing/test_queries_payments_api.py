"""Query counts of the billing list endpoints (referrals, plans): the same at 1 row and at 50."""

from decimal import Decimal
from itertools import count

import pytest

from accounts.models import EndUser
from billing import services
from billing.models import Plan
from tests.support.users import user_create

pytestmark = pytest.mark.django_db

_ids = count(70_000_000)
AUTH_QUERIES = 1


def add_referrals(referrer: EndUser, rows: int) -> None:
    for _ in range(rows):
        referred = user_create(referrer=referrer)
        services.telegram_stars_credit(
            user=referred, charge_id=f"q-{referred.pk}", total_amount=50, invoice_payload=""
        )


def test_referrals_list_queries_constant(api, django_assert_num_queries):
    referrer = user_create()
    for rows in (1, 50):
        add_referrals(referrer, rows)
        # auth, the user, count and rewards total (one query), the page with each row's reward
        with django_assert_num_queries(AUTH_QUERIES + 3):
            response = api.get(f"/api/v1/users/{referrer.display_ref}/referrals?limit=200")
        assert response.status_code == 200
        assert len(response.json()["items"]) == response.json()["referred_count"]
    assert response.json()["rewards_total"] == f"{Decimal('5.00') * 51:.2f}"


def test_plans_list_queries_constant(api, django_assert_num_queries):
    for rows in (1, 50):
        Plan.objects.bulk_create([Plan(code=f"extra-{next(_ids)}", name="Extra") for _ in range(rows)])
        with django_assert_num_queries(AUTH_QUERIES + 1):
            response = api.get("/api/v1/plans")
        assert response.status_code == 200
    assert len(response.json()) == 3 + 51


def test_subscription_and_payment_detail_queries(api, django_assert_num_queries):
    user = user_create()
    payment, _ = services.telegram_stars_credit(
        user=user, charge_id="d-1", total_amount=1, invoice_payload=""
    )
    with django_assert_num_queries(AUTH_QUERIES + 2):
        assert api.get(f"/api/v1/users/{user.display_ref}/subscription").status_code == 200
    with django_assert_num_queries(AUTH_QUERIES + 1):
        assert api.get(f"/api/v1/payments/{payment.pk}").status_code == 200
