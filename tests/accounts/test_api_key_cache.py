"""The in-process API key cache: a valid key is trusted for API_KEY_CACHE_SECONDS without a lookup.

Its bound: a key revoked by another process (the admin, another worker) stops working within
API_KEY_CACHE_SECONDS; the process that revokes forgets it at once. Time is a fake clock here.
"""

import pytest
from django.utils import timezone

from accounts import services
from accounts.models import ApiKey
from accounts.services import api_key_authenticate, api_key_create, api_key_revoke
from tests.support.api import bearer

pytestmark = pytest.mark.django_db

TTL = 10


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch, settings) -> FakeClock:
    settings.API_KEY_CACHE_SECONDS = TTL
    fake = FakeClock()
    monkeypatch.setattr(services, "_clock", fake)
    return fake


def revoke_elsewhere(api_key: ApiKey) -> None:
    """What another process's api_key_revoke leaves behind: the row revoked, this process's cache untouched."""
    ApiKey.objects.filter(pk=api_key.pk).update(revoked_at=timezone.now())


def test_a_cached_key_needs_no_query(clock, django_assert_num_queries):
    api_key, raw_key = api_key_create(name="cached")
    with django_assert_num_queries(2):  # the lookup and the once-a-minute last_used_at touch
        assert api_key_authenticate(raw_key=raw_key).pk == api_key.pk
    clock.now += TTL - 0.5
    with django_assert_num_queries(0):
        assert api_key_authenticate(raw_key=raw_key).pk == api_key.pk


def test_a_key_revoked_elsewhere_stops_working_within_the_bound(clock):
    api_key, raw_key = api_key_create(name="revoked-elsewhere")
    assert api_key_authenticate(raw_key=raw_key) is not None
    revoke_elsewhere(api_key)
    clock.now += TTL - 0.5
    assert api_key_authenticate(raw_key=raw_key) is not None  # inside the bound: still trusted
    clock.now += 0.5
    assert api_key_authenticate(raw_key=raw_key) is None  # at the bound: looked up, refused
    assert api_key_authenticate(raw_key=raw_key) is None


def test_revoking_in_this_process_takes_effect_at_once(clock):
    api_key, raw_key = api_key_create(name="revoked-here")
    assert api_key_authenticate(raw_key=raw_key) is not None
    api_key_revoke(api_key=api_key)
    assert api_key_authenticate(raw_key=raw_key) is None


def test_wrong_keys_never_enter_the_cache(clock, django_assert_num_queries):
    api_key_create(name="real")
    for attempt in range(3):
        with django_assert_num_queries(1):
            assert api_key_authenticate(raw_key=f"bd_wrong-{attempt % 2}") is None
    assert services._api_key_cache == {}


def test_zero_turns_the_cache_off(settings, django_assert_num_queries):
    settings.API_KEY_CACHE_SECONDS = 0
    api_key, raw_key = api_key_create(name="uncached")
    api_key_authenticate(raw_key=raw_key)
    with django_assert_num_queries(1):
        assert api_key_authenticate(raw_key=raw_key).pk == api_key.pk
    revoke_elsewhere(api_key)
    assert api_key_authenticate(raw_key=raw_key) is None


def test_the_api_honours_the_bound(clock, anonymous_api):
    # given a bot's key used once, then revoked by an operator in another process
    api_key, raw_key = api_key_create(name="bot")
    headers = bearer(raw_key)
    assert anonymous_api.get("/api/v1/plans", headers=headers).status_code == 200
    revoke_elsewhere(api_key)
    # when the bound has passed, then the key is refused with the 401 envelope
    clock.now += TTL
    refused = anonymous_api.get("/api/v1/plans", headers=headers)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "unauthorized"
