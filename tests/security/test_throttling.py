"""Repeated failed API-key attempts and failed admin logins are throttled, without locking anyone out.

The counters live in Redis (tests/conftest.py gives every test its own key prefix).
"""

import logging
import time

import pytest
from django.test import Client, RequestFactory

from accounts.auth import ApiKeyAuth
from accounts.models import Operator
from accounts.services import api_key_create, api_key_revoke
from tests.support.api import bearer

pytestmark = pytest.mark.django_db

PLANS = "/api/v1/plans"
PROXY = "10.9.0.5"


def get_with_key(raw_key: str, *, ip: str = "10.0.0.1", forwarded_for: str | None = None):
    headers = bearer(raw_key)
    if forwarded_for is not None:
        headers["X-Forwarded-For"] = forwarded_for
    return Client(REMOTE_ADDR=ip).get(PLANS, headers=headers)


def through_proxy(raw_key: str, client_ip: str):
    return get_with_key(raw_key, ip=PROXY, forwarded_for=client_ip)


def test_wrong_keys_from_one_client_become_429_but_a_valid_key_always_passes(settings):
    # given a small limit
    settings.API_AUTH_FAILURE_LIMIT = 5
    settings.API_AUTH_FAILURE_WINDOW_SECONDS = 120
    _, good_key = api_key_create(name="good")

    # when one client sends five wrong keys
    answers = [get_with_key(f"bd_wrong{n}-xyz").status_code for n in range(5)]

    # then those are 401, and further wrong keys from that client are 429 with Retry-After
    assert answers == [401] * 5
    blocked = get_with_key("bd_other-xyz")
    assert blocked.status_code == 429
    assert blocked.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(blocked["Retry-After"]) <= 120
    # and a valid key from that very client is never refused
    assert get_with_key(good_key).status_code == 200
    # and another client's wrong key is still a plain 401
    assert get_with_key("bd_third-xyz", ip="10.0.0.2").status_code == 401


def test_one_key_prefix_from_many_addresses_is_counted_once(settings):
    settings.API_AUTH_FAILURE_LIMIT = 3
    answers = [get_with_key("bd_samepref-guess", ip=f"10.0.1.{n}").status_code for n in range(4)]
    assert answers == [401, 401, 401, 429]
    # a different prefix from a fresh address is not affected
    assert get_with_key("bd_otherpre-guess", ip="10.0.1.99").status_code == 401


def test_revoked_key_counts_as_a_failure(settings):
    settings.API_AUTH_FAILURE_LIMIT = 2
    api_key, raw_key = api_key_create(name="revoked")
    api_key_revoke(api_key=api_key)
    answers = [get_with_key(raw_key, ip="10.0.2.1").status_code for _ in range(3)]
    assert answers == [401, 401, 429]


def test_blocked_client_costs_only_the_key_lookup(settings, django_assert_num_queries):
    settings.API_AUTH_FAILURE_LIMIT = 2
    for n in range(2):
        get_with_key(f"bd_wrong{n}-abc")
    with django_assert_num_queries(1):
        assert get_with_key("bd_wrong3-abc").status_code == 429


def test_valid_key_costs_one_query_for_auth(django_assert_num_queries):
    # given a key used a moment ago (so last_used_at is not touched again)
    _, raw_key = api_key_create(name="counted")
    auth = ApiKeyAuth()
    request = RequestFactory().get(PLANS, REMOTE_ADDR="10.0.0.9")
    assert auth.authenticate(request, raw_key) is not None

    # when it authenticates again, then the throttle adds no query to the key lookup
    with django_assert_num_queries(1):
        assert auth.authenticate(request, raw_key) is not None


def test_window_expiry_unblocks(settings):
    settings.API_AUTH_FAILURE_LIMIT = 3
    settings.API_AUTH_FAILURE_WINDOW_SECONDS = 1
    for n in range(3):
        assert get_with_key(f"bd_wrong{n}-win").status_code == 401
    assert get_with_key("bd_wrongx-win").status_code == 429

    time.sleep(1.5)  # Redis expires the window's counters after one second

    assert get_with_key("bd_wrongy-win").status_code == 401


# --- Behind a proxy ------------------------------------------------------------------------------


def test_behind_a_trusted_proxy_each_client_is_counted_on_its_own(settings):
    # given gunicorn behind a proxy, and an attacker sending wrong keys through it
    settings.TRUSTED_PROXIES = ["10.9.0.0/16"]
    settings.API_AUTH_FAILURE_LIMIT = 3
    _, good_key = api_key_create(name="bot")
    attacker, bot_host = "203.0.113.7", "198.51.100.2"
    answers = [through_proxy(f"bd_attack{n}-k", attacker).status_code for n in range(4)]

    # then only the attacker is refused: another client's failure is a 401, a valid key passes
    assert answers == [401, 401, 401, 429]
    assert through_proxy("bd_typo0000-k", bot_host).status_code == 401
    assert through_proxy(good_key, bot_host).status_code == 200
    assert through_proxy(good_key, attacker).status_code == 200


def test_without_trusted_proxies_the_proxy_is_the_client_but_valid_keys_still_pass(settings):
    # given TRUSTED_PROXIES left empty behind a proxy: every request seems to come from the proxy
    settings.API_AUTH_FAILURE_LIMIT = 2
    _, good_key = api_key_create(name="bot")
    for n in range(3):
        through_proxy(f"bd_attack{n}-p", "203.0.113.7")

    # then wrong keys of everyone are refused together, and every valid key still passes
    assert through_proxy("bd_typo0000-p", "198.51.100.2").status_code == 429
    assert through_proxy(good_key, "198.51.100.2").status_code == 200


def test_forged_forwarded_for_from_an_untrusted_address_is_ignored(settings):
    settings.TRUSTED_PROXIES = ["10.9.0.0/16"]
    settings.API_AUTH_FAILURE_LIMIT = 3
    # an attacker connecting directly writes a new X-Forwarded-For into every request
    answers = [
        get_with_key(f"bd_forge{n}0-k", ip="192.0.2.50", forwarded_for=f"198.51.100.{n}").status_code
        for n in range(4)
    ]
    assert answers == [401, 401, 401, 429]


def test_addresses_the_client_writes_left_of_the_proxys_hop_are_ignored(settings):
    settings.TRUSTED_PROXIES = ["10.9.0.0/16"]
    settings.API_AUTH_FAILURE_LIMIT = 3
    # the client sends its own X-Forwarded-For; the proxy appends the address it saw
    answers = [
        get_with_key(f"bd_left{n}00-k", ip=PROXY, forwarded_for=f"198.51.100.{n}, 203.0.113.9").status_code
        for n in range(4)
    ]
    assert answers == [401, 401, 401, 429]


@pytest.mark.parametrize("header", ["", " ", "garbage", "203.0.113.9, not-an-ip", ",,", "1.2.3.4.5"])
def test_empty_or_garbage_forwarded_for_from_a_trusted_proxy_falls_back_with_a_warning(
    settings, caplog, header
):
    settings.TRUSTED_PROXIES = ["10.9.0.0/16"]
    settings.API_AUTH_FAILURE_LIMIT = 1
    with caplog.at_level(logging.WARNING, logger="core.proxies"):
        first = get_with_key("bd_garbage0-k", ip=PROXY, forwarded_for=header)
    assert first.status_code == 401
    assert any("X-Forwarded-For" in record.getMessage() for record in caplog.records)
    # counted at the proxy's own address: a second failure with another prefix from it is refused
    assert get_with_key("bd_garbage1-k", ip=PROXY).status_code == 429


def test_redis_down_fails_open_and_logs(settings, caplog):
    # given the throttle's Redis unreachable (nothing listens on port 1)
    settings.CACHES = {
        **settings.CACHES,
        "throttle": {**settings.CACHES["throttle"], "LOCATION": "redis://127.0.0.1:1/0"},
    }
    settings.API_AUTH_FAILURE_LIMIT = 1
    _, good_key = api_key_create(name="bot")
    import accounts.throttle

    accounts.throttle._last_warning = 0.0

    with caplog.at_level(logging.WARNING, logger="accounts.throttle"):
        answers = [get_with_key(f"bd_nored{n}-k").status_code for n in range(3)]

    # then failures are 401 (not throttled, not 500), a valid key passes, and one warning says why
    assert answers == [401, 401, 401]
    assert get_with_key(good_key).status_code == 200
    warnings = [r for r in caplog.records if "Redis unavailable" in r.getMessage()]
    assert len(warnings) == 1


# --- Admin logins --------------------------------------------------------------------------------


def admin_login(client: Client, username: str, password: str, **headers):
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": username, "password": password, "next": "/admin/"},
        headers=headers,
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


def test_an_attacker_behind_the_proxy_cannot_lock_the_operator_out(settings, operator):
    # given the proxy trusted, and an attacker guessing the operator's password through it
    settings.TRUSTED_PROXIES = ["10.9.0.0/16"]
    attacker = Client(REMOTE_ADDR=PROXY)
    for _ in range(10):
        admin_login(attacker, "root-op", "guess", x_forwarded_for="203.0.113.7")
    assert (
        admin_login(attacker, "root-op", "correct horse battery", x_forwarded_for="203.0.113.7").status_code
        == 200
    )

    # when the operator logs in through the same proxy from their own address, then it works
    operator_client = Client(REMOTE_ADDR=PROXY)
    response = admin_login(
        operator_client, "root-op", "correct horse battery", x_forwarded_for="198.51.100.2"
    )
    assert response.status_code == 302
    assert operator_client.session["_auth_user_id"] == str(operator.pk)


def test_admin_login_counts_per_username(operator):
    client = Client(REMOTE_ADDR="10.1.1.3")
    for _ in range(5):
        admin_login(client, "someone-else", "guess")
    assert admin_login(client, "root-op", "correct horse battery").status_code == 302


def test_one_address_spraying_usernames_is_refused(settings, operator):
    settings.ADMIN_LOGIN_ADDRESS_FAILURE_LIMIT = 6
    client = Client(REMOTE_ADDR="10.1.1.5")
    for n in range(6):
        admin_login(client, f"user-{n}", "guess")
    assert admin_login(client, "root-op", "correct horse battery").status_code == 200
    assert "_auth_user_id" not in client.session


def test_admin_login_username_case_does_not_dodge_the_limit(operator):
    client = Client(REMOTE_ADDR="10.1.1.4")
    for name in ("root-op", "ROOT-OP", "Root-Op", "root-OP", " root-op"):
        admin_login(client, name, "guess")
    admin_login(client, "root-op", "correct horse battery")
    assert "_auth_user_id" not in client.session
