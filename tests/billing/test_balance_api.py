from decimal import Decimal

import pytest

from billing import services
from billing.models import Account, EntryType
from tests.support.users import user_create, user_funded

pytestmark = pytest.mark.django_db


def test_balance_object(api):
    user = user_funded("30.00")
    services.hold_create(user=user, amount=Decimal("12.00"), currency="RUB", reference="job:b1")
    response = api.get(f"/api/v1/users/{user.telegram_id}/balance")
    assert response.status_code == 200
    assert response.json() == {"currency": "RUB", "balance": "30.00", "held": "12.00", "available": "18.00"}


def test_balance_in_a_currency_never_used_is_zero(api):
    user = user_create()
    body = api.get(f"/api/v1/users/{user.telegram_id}/balance?currency=TOKENS").json()
    assert body == {"currency": "TOKENS", "balance": "0.00", "held": "0.00", "available": "0.00"}


def test_balance_unknown_currency_is_422(api):
    user = user_create()
    response = api.get(f"/api/v1/users/{user.telegram_id}/balance?currency=DOGE")
    assert response.status_code == 422
    assert "currency" in response.json()["error"]["details"]


def test_balance_unknown_user_is_404(api):
    assert api.get("/api/v1/users/31337/balance").status_code == 404


def grant(user, amount: str, index: int, currency: str = "RUB"):
    services.credit_grant(
        user=user,
        amount=Decimal(amount),
        currency=currency,
        entry_type=EntryType.PROMO,
        counter_kind=Account.Kind.PROMO,
        reference=f"test-promo:{user.pk}:{currency}:{index}",
    )


def test_transactions_newest_first_with_balance_after(api):
    user = user_create()
    grant(user, "1.00", 1)
    grant(user, "2.00", 2)
    items = api.get(f"/api/v1/users/{user.telegram_id}/transactions").json()["items"]
    assert [(item["type"], item["amount"], item["balance_after"]) for item in items] == [
        ("promo", "2.00", "13.00"),
        ("promo", "1.00", "11.00"),
        ("bonus", "10.00", "10.00"),
    ]
    assert set(items[0]) == {
        "id",
        "type",
        "amount",
        "balance_after",
        "currency",
        "reference",
        "description",
        "created_at",
    }


def test_transactions_pages_by_cursor_across_currencies(api):
    user = user_create()
    for index in range(5):
        grant(user, "1.00", index)
        grant(user, "1.00", index, currency="TOKENS")
    seen, cursor = [], None
    while True:
        query = f"?limit=4&cursor={cursor}" if cursor else "?limit=4"
        page = api.get(f"/api/v1/users/{user.telegram_id}/transactions{query}").json()
        seen.extend(item["id"] for item in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 11
    assert seen == sorted(seen, reverse=True)
    assert len(set(seen)) == 11


def test_transactions_filter_by_type_and_currency(api):
    user = user_create()
    grant(user, "3.00", 1)
    grant(user, "4.00", 1, currency="TOKENS")
    by_type = api.get(f"/api/v1/users/{user.telegram_id}/transactions?type=bonus").json()["items"]
    assert [item["type"] for item in by_type] == ["bonus"]
    tokens = api.get(f"/api/v1/users/{user.telegram_id}/transactions?currency=TOKENS").json()["items"]
    assert [item["amount"] for item in tokens] == ["4.00"]


@pytest.mark.parametrize("query", ["?type=gift", "?limit=0", "?limit=201", "?cursor=%%%", "?currency=XXX"])
def test_transactions_bad_query_is_422(api, query):
    user = user_create()
    response = api.get(f"/api/v1/users/{user.telegram_id}/transactions{query}")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


def test_transactions_queries_constant(api, django_assert_num_queries):
    user = user_create()
    grant(user, "1.00", 0, currency="TOKENS")
    index = 1
    for rows in (1, 50):
        for _ in range(rows):
            grant(user, "1.00", index)
            index += 1
        # auth, user, the user's accounts, one UNION ALL page over both accounts
        with django_assert_num_queries(4):
            response = api.get(f"/api/v1/users/{user.telegram_id}/transactions?limit=200")
        assert response.status_code == 200


def test_user_detail_queries_with_balance(api, django_assert_num_queries):
    for rows in (1, 50):
        user = user_funded(f"{rows}.00" if rows > 10 else "10.00")
        # auth, user (+referrer), balance facet, subscription facet
        with django_assert_num_queries(4):
            assert api.get(f"/api/v1/users/{user.telegram_id}").status_code == 200


def test_balance_read_is_one_round_trip_with_the_key_cached(api, settings, django_assert_num_queries):
    # given a key the process has seen (the cache, as in production), a funded user and one without money
    settings.API_KEY_CACHE_SECONDS = 10
    funded, other = user_funded("30.00"), user_create()
    api.get(f"/api/v1/users/{funded.telegram_id}/balance")
    # when the bot reads balances, then each read is the user and their account in one statement
    for user, currency in ((funded, "RUB"), (other, "RUB"), (other, "TOKENS")):
        with django_assert_num_queries(1):
            response = api.get(f"/api/v1/users/{user.telegram_id}/balance?currency={currency}")
        assert response.status_code == 200
    with django_assert_num_queries(1):
        assert api.get("/api/v1/users/31337/balance").status_code == 404
    assert response.json() == {"currency": "TOKENS", "balance": "0.00", "held": "0.00", "available": "0.00"}


def test_balance_read_without_the_key_cache_adds_only_the_key_lookup(api, django_assert_num_queries):
    user = user_funded("30.00")
    with django_assert_num_queries(2):
        response = api.get(f"/api/v1/users/{user.telegram_id}/balance")
    assert response.json()["available"] == "30.00"


def test_balance_by_device_and_external_identity(api):
    user = user_create(anonymous=True)
    assert api.get(f"/api/v1/users/device:{user.device_id}/balance").json()["balance"] == "5.00"
    assert api.get("/api/v1/users/ext:nobody/balance").status_code == 404
