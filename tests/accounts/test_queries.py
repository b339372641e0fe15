"""Query counts of the user endpoints and admin changelists: constant in the number of rows."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import EndUser
from accounts.services import api_key_create
from tests.support.users import user_create

pytestmark = pytest.mark.django_db

AUTH_QUERIES = 1


def make_users(count: int, *, referrer: EndUser | None = None) -> list[EndUser]:
    start = EndUser.objects.count() + 10_000
    return [
        user_create(telegram_id=start + index, username=f"user{index}", referrer=referrer)
        for index in range(count)
    ]


def test_user_detail_queries(api, django_assert_max_num_queries):
    (user,) = make_users(1)
    # auth + user (with referrer) + facet queries registered by the apps above accounts (at most 4)
    with django_assert_max_num_queries(AUTH_QUERIES + 1 + 4):
        assert api.get(f"/api/v1/users/{user.telegram_id}").status_code == 200


def test_user_update_queries(api, django_assert_max_num_queries):
    (user,) = make_users(1)
    with django_assert_max_num_queries(AUTH_QUERIES + 8 + 4):
        assert api.put(f"/api/v1/users/{user.telegram_id}", {"username": "renamed"}).status_code == 200


# "user0" matches rows at 1 and at 50 users (an empty page would skip the facts' queries).
@pytest.mark.parametrize("query", ["", "?q=user0", "?q=10001", "?identity=telegram&referred=yes"])
def test_end_user_changelist_queries_constant(admin_client, query):
    referrer = make_users(1)[0]
    counts = []
    for rows in (1, 50):
        make_users(rows, referrer=referrer)
        with CaptureQueriesContext(connection) as captured:
            response = admin_client.get(f"/admin/accounts/enduser/{query}")
        assert response.status_code == 200
        counts.append(len(captured))
    assert counts[0] == counts[1], f"queries grew with rows: {counts}"


def test_end_user_changelist_pinned(admin_client, django_assert_num_queries):
    for rows in (1, 50):
        make_users(rows)
        # session, operator, capped count, page of users (no DISTINCT for the language filter, no full
        # COUNT of the table); then the page's facts: billing's accounts (available, spent, last
        # entry) and plans, generations' and dialogs' last activity
        with django_assert_num_queries(4 + 4):
            assert admin_client.get("/admin/accounts/enduser/").status_code == 200


def test_api_key_changelist_queries(admin_client, django_assert_num_queries):
    for rows in (1, 50):
        for index in range(rows):
            api_key_create(name=f"bot{index}")
        with django_assert_num_queries(5):
            assert admin_client.get("/admin/accounts/apikey/").status_code == 200


def test_end_user_search_by_telegram_id_finds_exact(admin_client):
    users = make_users(3)
    response = admin_client.get(f"/admin/accounts/enduser/?q={users[1].telegram_id}")
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [users[1]]
