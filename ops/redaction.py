"""Secrets never reach a log line or a debug log row: the one place that scrubs them.

What is scrubbed (`redact_text`):
- the secret segment of provider webhook paths, `/webhooks/<provider>/<secret>` (billing.urls): the
  provider proves itself by that segment, so a wrong one (often a near miss of the real one) goes too;
- Telegram bot tokens `<bot id>:<secret>`, also inside `api.telegram.org/bot<token>/...` URLs (the bot
  id stays, it is public);
- bot API keys (`bd_...`, accounts.services.api_key_create);
- the values of the secret settings in SECRET_SETTINGS, wherever they appear.

Where: `install()` (run by settings.LOGGING_CONFIG, so before any app logs) wraps `Logger.makeRecord`,
so every record of every logger (Django's `django.request` 4xx/5xx warnings, the slow-request and
slow-query warnings, gunicorn's access log in the workers, third-party libraries) is scrubbed as it is
made, before any filter or handler sees it: the console, the debug log handler and anything else
attached later. A handler filter would not do: records reach handlers attached elsewhere (a test's
capture, an error tracker) unscrubbed. The bot API's own debug log entries (POST /logs/debug) go
through `redact_value` in ops.services.

Scrubbing never raises and never mutates the caller's objects (a logged `extra` dict or a query's
parameters): a changed value is a new object, an unchanged one is left as it is.
"""

import contextlib
import functools
import logging
import logging.config
import re
from typing import Any

REDACTED = "[redacted]"
SECRET_SETTINGS = ("YOOKASSA_WEBHOOK_SECRET", "YOOKASSA_SECRET_KEY", "EMBEDDING_OPENAI_API_KEY")
# Shorter configured values are not replaced as text (a short value would garble unrelated words).
SECRET_MIN_LENGTH = 8
MAX_DEPTH = 6

_SEGMENT = r"[^/\s?#'\"<>]"
PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(rf"(/webhooks/{_SEGMENT}+/){_SEGMENT}+"), rf"\g<1>{REDACTED}"),
    (re.compile(r"(?<![0-9])([0-9]{5,}):[A-Za-z0-9_-]{30,}"), rf"\g<1>:{REDACTED}"),
    (re.compile(r"(?<![A-Za-z0-9_-])bd_[A-Za-z0-9_-]{20,}"), f"bd_{REDACTED}"),
    # The signing secrets of bots' webhooks (accounts.webhooks).
    (re.compile(r"(?<![A-Za-z0-9_-])whsec_[A-Za-z0-9_-]{20,}"), f"whsec_{REDACTED}"),
)
# Attributes every LogRecord has; anything else on a record came from the caller's `extra`.
_RECORD_ATTRIBUTES = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


def redact_text(text: str) -> str:
    for secret in _configured_secrets():
        if secret in text:
            text = text.replace(secret, REDACTED)
    for pattern, replacement in PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_value(value: Any, _depth: int = 0) -> Any:
    """`value` with secrets scrubbed from its strings (in dicts, lists and tuples too); `value` itself
    when nothing changed."""
    if isinstance(value, str):
        return redact_text(value)
    if _depth >= MAX_DEPTH:
        return value
    if isinstance(value, dict):
        items = [
            (redact_value(key, _depth + 1), redact_value(item, _depth + 1)) for key, item in value.items()
        ]
        changed = any(
            new_key is not key or new_item is not item
            for (new_key, new_item), (key, item) in zip(items, value.items(), strict=True)
        )
        return dict(items) if changed else value
    if isinstance(value, list | tuple):
        items = [redact_value(item, _depth + 1) for item in value]
        changed = any(new is not old for new, old in zip(items, value, strict=True))
        return type(value)(items) if changed and type(value) in (list, tuple) else value
    if _is_request(value):
        # Django logs 4xx/5xx responses with the request in `extra`; its repr holds the path.
        shown = repr(value)
        clean = redact_text(shown)
        return clean if clean != shown else value
    return value


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    # Logging must never fail because of the scrubbing.
    with contextlib.suppress(Exception):
        _redact_record(record)
    return record


def _redact_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:
        message = None  # a bad format string: the handler reports it as it always does
    if message is not None:
        clean = redact_text(message)
        if clean != message:
            record.msg, record.args = clean, ()
    for name, value in list(record.__dict__.items()):
        if name not in _RECORD_ATTRIBUTES:
            clean = redact_value(value)
            if clean is not value:
                record.__dict__[name] = clean
    if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
        # An exception's message can hold a secret (an HTTP error quoting a bot API URL). Formatters and
        # the debug log handler print exc_text when it is set; the exception object itself, which would
        # still show the secret, is then dropped from the record.
        text = logging.Formatter().formatException(record.exc_info)
        clean = redact_text(text)
        if clean != text:
            record.exc_text, record.exc_info = clean, None


def install() -> None:
    """Every logger scrubs the records it makes. Idempotent."""
    make_record = logging.Logger.makeRecord
    if getattr(make_record, "redacts_secrets", False):
        return

    @functools.wraps(make_record)
    def redacting_make_record(self: logging.Logger, *args: Any, **kwargs: Any) -> logging.LogRecord:
        return redact_record(make_record(self, *args, **kwargs))

    redacting_make_record.redacts_secrets = True  # type: ignore[attr-defined]
    logging.Logger.makeRecord = redacting_make_record  # type: ignore[method-assign]


def configure_logging(config: dict[str, Any]) -> None:
    """settings.LOGGING_CONFIG: Django's usual dictConfig, then the scrubbing."""
    logging.config.dictConfig(config)
    install()


def _configured_secrets() -> list[str]:
    try:
        from django.conf import settings

        if not settings.configured:
            return []
        # Names held in data: each is declared in config/settings/base.py, so no default is needed.
        values = (getattr(settings, name) for name in SECRET_SETTINGS)
        return [value for value in values if isinstance(value, str) and len(value) >= SECRET_MIN_LENGTH]
    except Exception:
        return []


def _is_request(value: Any) -> bool:
    try:
        from django.http import HttpRequest
    except Exception:
        return False
    return isinstance(value, HttpRequest)
