"""Fixtures shared by every app's tests."""

import json
import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connections
from django.test import Client
from django.utils import timezone

from accounts.services import api_key_create


class ApiClient:
    """The bot's view of the API: JSON bodies, bearer auth, optional Idempotency-Key."""

    def __init__(self, raw_key: str | None) -> None:
        self.client = Client()
        self.raw_key = raw_key

    def _headers(self, idempotency_key: str | None, headers: dict[str, str] | None) -> dict[str, str]:
        result = dict(headers or {})
        if self.raw_key is not None:
            result.setdefault("Authorization", f"Bearer {self.raw_key}")
        if idempotency_key is not None:
            result["Idempotency-Key"] = idempotency_key
        return result

    def request(
        self, method: str, path: str, body: Any = None, *, idempotency_key=None, headers=None, raw=None
    ):
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        kwargs = {"headers": self._headers(idempotency_key, headers)}
        if data is not None:
            kwargs.update(data=data, content_type="application/json")
        return getattr(self.client, method)(path, **kwargs)

    def get(self, path: str, **kwargs):
        return self.request("get", path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs):
        return self.request("post", path, body, **kwargs)

    def put(self, path: str, body: Any = None, **kwargs):
        return self.request("put", path, body, **kwargs)

    def delete(self, path: str, **kwargs):
        return self.request("delete", path, **kwargs)


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


def run_concurrently(worker: Callable[[int], Any], count: int, *, timeout: float = 60) -> list[Any]:
    """Runs worker(i) for i in range(count) on real threads released together; returns results or exceptions.

    Each thread has its own database connection (Django's are per thread) and closes it at the end,
    so the test database can be flushed afterwards.
    """
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=timeout)
            results[index] = worker(index)
        except BaseException as exc:  # collected and asserted by the test
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(thread.is_alive() for thread in threads), "a concurrent worker hung"
    return results


def changelist_queries_pinned(client, django_assert_num_queries, url: str, make_rows, queries: int) -> None:
    """An admin changelist costs `queries` at 1 row and at 50 rows (house style: counts do not grow)."""
    for rows in (1, 50):
        make_rows(rows)
        with django_assert_num_queries(queries):
            response = client.get(url)
        assert response.status_code == 200


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
