"""Debug log: the bots' endpoint, the logging handler, slow requests and queries."""

import logging

import pytest
from django.db import OperationalError, transaction

from ops.log_handler import DatabaseLogHandler
from ops.models import DebugLog

pytestmark = pytest.mark.django_db

URL = "/api/v1/logs/debug"


@pytest.fixture
def handler(debug_log_to_database):
    """A handler of its own on a test logger, so its back-off state never leaks into other tests."""
    handler = DatabaseLogHandler()
    logger = logging.getLogger("tests.ops.handler")
    logger.addHandler(handler)
    logger.propagate = False
    yield handler
    logger.removeHandler(handler)
    logger.propagate = True


# --- POST /api/v1/logs/debug --------------------------------------------------------------------------


def test_debug_log_is_accepted_and_stored(api):
    response = api.post(URL, {"level": "error", "message": "callback failed", "context": {"chat": 42}})

    assert response.status_code == 202
    entry = DebugLog.objects.get(pk=response.json()["id"])
    assert (entry.level, entry.message, entry.context) == (40, "callback failed", {"chat": 42})
    assert entry.source == "bot:test-bot"


def test_debug_log_level_is_case_insensitive_and_context_optional(api):
    response = api.post(URL, {"level": "WARNING", "message": "slow provider"})
    assert response.status_code == 202
    assert DebugLog.objects.get().level == 30


def test_debug_log_message_is_cut_to_1000_characters(api):
    assert api.post(URL, {"level": "info", "message": "x" * 5000}).status_code == 202
    assert len(DebugLog.objects.get().message) == 1000


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"level": "loud", "message": "m"}, "level"),
        ({"message": "m"}, "level"),
        ({"level": "info"}, "message"),
        ({"level": "info", "message": ""}, "message"),
        ({"level": "info", "message": "m", "context": [1, 2]}, "context"),
        ({"level": "info", "message": "m", "context": "text"}, "context"),
        ({"level": "info", "message": "m", "context": {"blob": "x" * 5000}}, "context"),
        ({"level": "info", "message": "nul \x00 here"}, "message"),
    ],
)
def test_bad_debug_log_is_422_and_stores_nothing(api, body, field):
    response = api.post(URL, body)

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["details"]
    assert not DebugLog.objects.exists()


def test_debug_log_that_is_not_json_is_422(api):
    assert api.post(URL, raw="{not json").status_code == 422


def test_debug_log_needs_an_api_key(anonymous_api):
    response = anonymous_api.post(URL, {"level": "info", "message": "m"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert not DebugLog.objects.exists()


# --- the logging handler ------------------------------------------------------------------------------


def test_configured_handler_stores_warnings_and_above(debug_log_to_database):
    logger = logging.getLogger("tests.ops.configured")

    logger.info("not stored")
    logger.warning("disk at %s%%", 91, extra={"context": {"disk": "/var"}})
    try:
        raise ValueError("bad value")
    except ValueError:
        logger.exception("it failed")

    entries = list(DebugLog.objects.order_by("id"))
    assert [(e.level, e.message) for e in entries] == [(30, "disk at 91%"), (40, "it failed")]
    assert entries[0].source == "tests.ops.configured"
    assert entries[0].context["disk"] == "/var"
    assert "ValueError: bad value" in entries[1].context["exception"]


def test_handler_is_off_when_the_setting_is(settings):
    settings.DEBUG_LOG_DATABASE = False
    logging.getLogger("tests.ops.configured").error("not stored")
    assert not DebugLog.objects.exists()


def test_handler_cuts_long_messages_and_large_context(handler):
    logger = logging.getLogger("tests.ops.handler")
    logger.warning("y" * 3000, extra={"context": {"blob": "z" * 10_000, "nul": "a\x00b"}})

    entry = DebugLog.objects.get()
    assert len(entry.message) == 1000
    assert "truncated" in entry.context
    logger.warning("nul \x00 in message", extra={"context": {"nul": "a\x00b"}})
    assert DebugLog.objects.filter(message="nul \\x00 in message", context__nul="a\\x00b").exists()


def test_django_request_4xx_warnings_are_not_stored(debug_log_to_database, api):
    assert api.get("/api/v1/users/999999").status_code == 404  # django.request logs it as a WARNING
    assert not DebugLog.objects.exists()


def test_handler_never_raises_and_backs_off_when_the_database_is_down(handler, monkeypatch):
    def down(self, *args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(DebugLog, "save", down)
    logger = logging.getLogger("tests.ops.handler")
    logger.error("first")  # must not raise

    monkeypatch.undo()
    logger.error("during the back-off: dropped, not retried against a dead database")
    assert not DebugLog.objects.exists()


def test_handler_does_not_recurse(handler, monkeypatch):
    real_save = DebugLog.save
    logger = logging.getLogger("tests.ops.handler")

    def save_that_logs(self, *args, **kwargs):
        logger.warning("logged while storing a record")
        real_save(self, *args, **kwargs)

    monkeypatch.setattr(DebugLog, "save", save_that_logs)
    logger.warning("outer")

    assert list(DebugLog.objects.values_list("message", flat=True)) == ["outer"]


def test_handler_inside_a_broken_transaction_does_not_raise(handler):
    logger = logging.getLogger("tests.ops.handler")
    with transaction.atomic():
        transaction.set_rollback(True)
        logger.error("inside a transaction that is rolling back")
    assert not DebugLog.objects.exists()


def test_handler_failure_inside_a_transaction_leaves_the_transaction_usable(handler, monkeypatch):
    def broken(self, *args, **kwargs):
        raise ValueError("not storable")

    logger = logging.getLogger("tests.ops.handler")
    with transaction.atomic():
        monkeypatch.setattr(DebugLog, "save", broken)
        logger.error("dropped")
        monkeypatch.undo()
        DebugLog.objects.create(level=30, source="t", message="still works")
    assert DebugLog.objects.count() == 1


# --- slow requests and queries ------------------------------------------------------------------------


def test_slow_requests_and_queries_are_logged_with_their_timing(api, settings, caplog, debug_log_to_database):
    settings.SLOW_REQUEST_MS = 0  # every request and query counts as slow

    with caplog.at_level(logging.WARNING, logger="ops"):
        assert api.post(URL, {"level": "info", "message": "m"}).status_code == 202

    request_entry = DebugLog.objects.get(source="ops.slow_request")
    assert request_entry.context["path"] == URL
    assert request_entry.context["status"] == 202
    assert request_entry.context["queries"] >= 2
    assert request_entry.context["duration_ms"] >= 0
    query_entries = DebugLog.objects.filter(source="ops.slow_query")
    assert query_entries.exists()
    assert all("duration_ms" in entry.context for entry in query_entries)
    assert "slow request" in caplog.text


def test_fast_requests_are_not_logged(api, settings, debug_log_to_database):
    settings.SLOW_REQUEST_MS = 60_000
    assert api.post(URL, {"level": "info", "message": "m"}).status_code == 202
    assert not DebugLog.objects.exclude(source__startswith="bot:").exists()


def test_a_storm_of_warnings_is_capped_and_the_drop_reported(debug_log_to_database):
    handler = DatabaseLogHandler(max_per_minute=2)
    logger = logging.getLogger("tests.ops.storm")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        for index in range(5):
            logger.warning("storm %s", index)
        assert DebugLog.objects.count() == 2

        handler._window_start = float("-inf")  # the next minute
        logger.warning("after the storm")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True

    messages = list(DebugLog.objects.order_by("id").values_list("message", flat=True))
    assert messages[2:] == [
        "debug log: 3 records were not stored (over 2 a minute in this process)",
        "after the storm",
    ]


def test_handler_backs_off_when_the_request_lost_its_connection(handler, monkeypatch):
    from django.db import connection

    monkeypatch.setattr(connection, "errors_occurred", True)
    monkeypatch.setattr(type(connection.connection), "broken", property(lambda self: True))
    logger = logging.getLogger("tests.ops.handler")

    logger.error("the database went away")  # no INSERT attempted, no connect timeout paid

    monkeypatch.undo()
    assert handler._down_until > 0
    assert not DebugLog.objects.exists()


def test_web_and_workers_keep_the_database_handler(settings):
    # Celery's default replaces the root handlers in workers: task errors would never be stored.
    assert settings.CELERY_WORKER_HIJACK_ROOT_LOGGER is False
    assert any(isinstance(handler, DatabaseLogHandler) for handler in logging.getLogger().handlers)
