"""Fixtures shared by every app's tests."""

import uuid

import pytest
from django.utils import timezone

from accounts.services import api_key_create
from tests.support.api import ApiClient


@pytest.fixture(autouse=True)
def _fresh_process_caches(request):
    """Test databases are rolled back or flushed between tests; ids cached by a process must go too."""
    from accounts.services import api_key_cache_clear
    from billing.services import system_account_cache_clear

    system_account_cache_clear()
    api_key_cache_clear()
    marker = request.node.get_closest_marker("django_db")
    if marker is not None:
        from billing.services.plans import plans_ensure_defaults

        # A transaction=True test flushes every table, data-migration rows included.
        transactional = marker.kwargs.get("transaction") or (marker.args and marker.args[0])
        request.getfixturevalue("transactional_db" if transactional else "db")
        plans_ensure_defaults()
    yield
    system_account_cache_clear()
    api_key_cache_clear()


@pytest.fixture(autouse=True)
def _throttle_namespace(settings):
    """Failure counters live in Redis, which outlives a test: each test counts under its own prefix."""
    throttle = settings.CACHES["throttle"]
    prefix = f"{throttle['KEY_PREFIX']}:{uuid.uuid4().hex[:12]}"
    settings.CACHES = {**settings.CACHES, "throttle": {**throttle, "KEY_PREFIX": prefix}}
    return prefix


@pytest.fixture
def raw_api_key(db) -> str:
    api_key, raw_key = api_key_create(name="test-bot")
    # Recently used, so that query counts do not include the once-a-minute last_used_at touch.
    api_key.last_used_at = timezone.now()
    api_key.save(update_fields=["last_used_at"])
    return raw_key


@pytest.fixture
def api(raw_api_key) -> ApiClient:
    return ApiClient(raw_api_key)


@pytest.fixture
def anonymous_api() -> ApiClient:
    return ApiClient(None)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Behind pgbouncer (make stress) sessions get their timeouts from the database, set once here.

    The test database is created and migrated before this runs, so the sessions pgbouncer opened for
    that have no timeouts and ops.apps reports it once (an ERROR in make stress's log, expected).
    """
    from django.conf import settings
    from django.core.management import call_command

    if settings.DATABASE_POOLER:
        with django_db_blocker.unblock():
            call_command("db_timeouts")
