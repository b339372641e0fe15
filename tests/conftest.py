"""Fixtures shared by every app's tests."""

import uuid
from collections.abc import Iterator
from decimal import Decimal
from itertools import count

import httpx
import pytest
from django.utils import timezone

from accounts.services import api_key_create
from generations.models import AIModel
from tests.support.api import ApiClient
from tests.support.live import Recorder

_live_key_numbers = count(1)


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


# The live app over real HTTP (pytest-django's live_server) with a real API key: the client tests
# (tests/clients) and the example bot's tests (tests/examples) share these.
@pytest.fixture
def live_key(transactional_db) -> str:
    _api_key, raw_key = api_key_create(name=f"client-test-{next(_live_key_numbers)}")
    return raw_key


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def botdesk(live_server, live_key, recorder, settings) -> Iterator:
    from botdesk_client import BotdeskClient

    settings.RATE_LIMITS_ENABLED = False
    http = httpx.Client(timeout=30, event_hooks={"request": [recorder.hook]})
    with BotdeskClient(live_server.url, live_key, http_client=http) as client:
        yield client
    http.close()


@pytest.fixture
def paid_model(transactional_db) -> AIModel:
    model, _ = AIModel.objects.get_or_create(
        code="client-flux",
        defaults={
            "name": "Client Flux",
            "category": AIModel.Category.IMAGE,
            "provider": "test",
            "price": Decimal("6.00"),
            "currency": "RUB",
            "is_free": False,
            "is_active": True,
        },
    )
    return model


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
