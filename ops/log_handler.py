"""A logging handler that stores WARNING and above in the debug log (ops.DebugLog).

It is configured in settings.LOGGING, before the apps are loaded, so models are imported lazily.
Storing a record must never break or slow down the request that logged it:
- it never raises (a failed insert is dropped; the console handler still has the record);
- it never recurses: a record logged while storing one (a slow-query warning about the INSERT itself,
  a database error) is not stored;
- when the database is down it backs off for BACKOFF_SECONDS instead of paying a connect timeout for
  every record;
- a storm of warnings (a slow database makes every query "slow") is capped at MAX_RECORDS_PER_MINUTE per
  process; the next minute stores one entry saying how many were dropped;
- inside a transaction it writes in a savepoint, so a failed insert does not poison the caller's
  transaction. (A record logged inside a transaction that later rolls back goes with it; the API logs
  its errors after the transaction has ended.)
"""

import json
import logging
import sys
import threading
import time
import traceback
from typing import Any

# Loggers not stored: query logging would recurse, and Django logs every 4xx response as a WARNING
# on django.request (bots' typos and bad keys are answered by the API, not worth a row each).
IGNORED_LOGGERS = ("django.db.backends",)
MIN_LEVEL_BY_LOGGER = {"django.request": logging.ERROR, "django.server": logging.ERROR}
CONTEXT_MAX_BYTES = 4096
EXCEPTION_MAX_CHARS = 2000
BACKOFF_SECONDS = 30.0
MAX_RECORDS_PER_MINUTE = 600


class DatabaseLogHandler(logging.Handler):
    def __init__(self, level: int = logging.WARNING, max_per_minute: int = MAX_RECORDS_PER_MINUTE) -> None:
        super().__init__(level)
        self.max_per_minute = max_per_minute
        self._local = threading.local()
        self._down_until = 0.0
        self._window_start = float("-inf")
        self._window_count = 0
        self._dropped = 0

    def handle(self, record: logging.LogRecord) -> bool:
        # logging.Handler.handle holds the handler's lock around emit(); each thread writes on its own
        # database connection, so threads need not queue behind one another's INSERT.
        passed = bool(self.filter(record))
        if passed:
            self.emit(record)
        return passed

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(self._local, "busy", False) or not self._wanted(record):
            return
        if time.monotonic() < self._down_until:
            return
        admitted, dropped_before = self._admit()
        if not admitted:
            return
        self._local.busy = True
        try:
            if dropped_before:
                self._store(self._dropped_record(dropped_before))
            self._store(record)
        except Exception as exc:  # a log handler must never break its caller
            from django.db import InterfaceError, OperationalError

            if isinstance(exc, OperationalError | InterfaceError):
                self._back_off(exc)
        finally:
            self._local.busy = False

    def _admit(self) -> tuple[bool, int]:
        """(store this record?, records dropped in the previous window to report first)."""
        with self.lock:
            now = time.monotonic()
            dropped_before = 0
            if now - self._window_start >= 60:
                dropped_before, self._dropped = self._dropped, 0
                self._window_start, self._window_count = now, 0
            if self._window_count >= self.max_per_minute:
                self._dropped += 1
                return False, 0
            self._window_count += 1
            return True, dropped_before

    def _dropped_record(self, count: int) -> logging.LogRecord:
        return logging.LogRecord(
            name=__name__,
            level=logging.WARNING,
            pathname=__file__,
            lineno=0,
            msg="debug log: %d records were not stored (over %d a minute in this process)",
            args=(count, self.max_per_minute),
            exc_info=None,
        )

    def _wanted(self, record: logging.LogRecord) -> bool:
        name = record.name
        if any(name == ignored or name.startswith(ignored + ".") for ignored in IGNORED_LOGGERS):
            return False
        if record.levelno < MIN_LEVEL_BY_LOGGER.get(name, self.level):
            return False
        from django.apps import apps
        from django.conf import settings

        return apps.ready and settings.DEBUG_LOG_DATABASE

    def _back_off(self, exc: Exception | str) -> None:
        self._down_until = time.monotonic() + BACKOFF_SECONDS
        sys.stderr.write(
            f"debug log: database unavailable ({exc}); not storing for {BACKOFF_SECONDS:.0f} s\n"
        )

    def _store(self, record: logging.LogRecord) -> None:
        from django.db import connection, transaction

        from ops.models import DEBUG_LOG_MESSAGE_MAX, DebugLog

        if connection.in_atomic_block and connection.needs_rollback:
            return  # the caller's transaction is already broken; nothing can be written in it
        raw = connection.connection
        if connection.errors_occurred and (raw is None or raw.closed or getattr(raw, "broken", False)):
            # The request already lost the database; reconnecting here would cost a connect timeout.
            # (Looked up on the driver's connection, without a query: a query would fail in an aborted
            # transaction and wrongly read as "down".)
            self._back_off("the connection was lost")
            return
        entry = DebugLog(
            level=_level(record.levelno),
            source=record.name[:100],
            message=_clean(record.getMessage())[:DEBUG_LOG_MESSAGE_MAX],
            context=record_context(record),
        )
        if connection.in_atomic_block:
            with transaction.atomic():
                entry.save(force_insert=True)
        else:
            entry.save(force_insert=True)


def _level(levelno: int) -> int:
    # Custom levels (e.g. 35) are stored as the standard level just below them.
    return max(level for level in (10, 20, 30, 40, 50) if level <= max(levelno, 10))


def _clean(text: str) -> str:
    # PostgreSQL text and jsonb cannot hold NUL.
    return text.replace("\x00", "\\x00")


def record_context(record: logging.LogRecord) -> dict[str, Any]:
    """A small JSON-safe context: where it was logged, the exception, and the caller's `extra={"context"}`."""
    context: dict[str, Any] = {"where": f"{record.module}:{record.lineno}"}
    extra = getattr(record, "context", None)
    if isinstance(extra, dict):
        context.update(extra)
    # exc_text, when set without exc_info, is a traceback whose secrets were scrubbed (ops.redaction).
    text = record.exc_text
    if record.exc_info and record.exc_info[1] is not None:
        text = text or "".join(traceback.format_exception(*record.exc_info))
    if text:
        context["exception"] = text[-EXCEPTION_MAX_CHARS:]
    safe = _without_nul(json.loads(json.dumps(context, default=str)))
    encoded = json.dumps(safe, ensure_ascii=False)
    if len(encoded.encode()) > CONTEXT_MAX_BYTES:
        return {"where": context["where"], "truncated": encoded[: CONTEXT_MAX_BYTES // 2]}
    return safe


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return _clean(value)
    if isinstance(value, dict):
        return {_clean(str(key)): _without_nul(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_nul(item) for item in value]
    return value
