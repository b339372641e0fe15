"""Repeated failed API-key attempts and failed admin logins are throttled."""

import pytest
from django.test import Client, RequestFactory

from accounts.auth import ApiKeyAuth
from accounts.models import Operator
from accounts.services import api_key_create

pytestmark = pytest.mark.django_db

BALANCE = "/api/v1/plans"


def get_with_key(raw_key: str, *, ip: str = "10.0.0.1"):
    return Client(REMOTE_ADDR=ip).get(BALANCE, headers={"Authorization": f"Bearer {raw_key}"})


def test_wrong_keys_from_one_client_become_429_with_retry_after(settings):
    # given a small limit
    settings.API_AUTH_FAILURE_LIMIT = 5
    settings.API_AUTH_FAILURE_WINDOW_SECONDS = 120
    _, good_key = api_key_create(name="good")

    # when one client sends five wrong keys
    answers = [get_with_key(f"bd_wrong-{n}").status_code for n in range(5)]

    # then those are 401, and from then on that client is refused with 429, even with a good key
    assert answers == [401] * 5
    blocked = get_with_key("bd_wrong-again")
    assert blocked.status_code == 429
    assert blocked.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(blocked["Retry-After"]) <= 120
    assert get_with_key(good_key).status_code == 429
    # and another client is not affected
    assert get_with_key(good_key, ip="10.0.0.2").status_code == 200


def test_blocked_client_costs_no_query(settings, django_assert_num_queries):
    settings.API_AUTH_FAILURE_LIMIT = 2
    for n in range(2):
        get_with_key(f"bd_wrong-{n}")
    with django_assert_num_queries(0):
        assert get_with_key("bd_wrong-3").status_code == 429


def test_valid_key_costs_one_query_for_auth(django_assert_num_queries):
    # given a key used a moment ago (so last_used_at is not touched again)
    _, raw_key = api_key_create(name="counted")
    auth = ApiKeyAuth()
    request = RequestFactory().get("/api/v1/plans", REMOTE_ADDR="10.0.0.9")
    assert auth.authenticate(request, raw_key) is not None

    # when it authenticates again, then the throttle adds no query to the key lookup
    with django_assert_num_queries(1):
        assert auth.authenticate(request, raw_key) is not None


def test_successes_do_not_reset_and_window_expiry_unblocks(settings):
    settings.API_AUTH_FAILURE_LIMIT = 3
    settings.API_AUTH_FAILURE_WINDOW_SECONDS = 1
    for n in range(3):
        assert get_with_key(f"bd_wrong-{n}").status_code == 401
    assert get_with_key("bd_wrong-x").status_code == 429

    import time

    time.sleep(1.2)
    _, good_key = api_key_create(name="after-window")
    assert get_with_key(good_key).status_code == 200


def admin_login(client: Client, username: str, password: str):
    return client.post(
        "/admin/login/?next=/admin/", {"username": username, "password": password, "next": "/admin/"}
    )


@pytest.fixture
def operator():
    return Operator.objects.create_superuser("root-op", "root@example.com", "correct horse battery")


def test_admin_login_is_refused_after_five_failures_even_with_the_right_password(operator):
    client = Client(REMOTE_ADDR="10.1.1.1")
    for _ in range(5):
        response = admin_login(client, "root-op", "guess")
        assert response.status_code == 200  # the form again, with an error
        assert "_auth_user_id" not in client.session

    response = admin_login(client, "root-op", "correct horse battery")

    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    # the same operator from another address is not locked out
    other = Client(REMOTE_ADDR="10.1.1.2")
    assert admin_login(other, "root-op", "correct horse battery").status_code == 302
    assert other.session["_auth_user_id"] == str(operator.pk)


def test_admin_login_counts_per_username(operator):
    client = Client(REMOTE_ADDR="10.1.1.3")
    for _ in range(5):
        admin_login(client, "someone-else", "guess")
    assert admin_login(client, "root-op", "correct horse battery").status_code == 302


def test_admin_login_username_case_does_not_dodge_the_limit(operator):
    client = Client(REMOTE_ADDR="10.1.1.4")
    for name in ("root-op", "ROOT-OP", "Root-Op", "root-OP", " root-op"):
        admin_login(client, name, "guess")
    admin_login(client, "root-op", "correct horse battery")
    assert "_auth_user_id" not in client.session
