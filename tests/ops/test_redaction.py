"""ops.redaction scrubs secrets and nothing else, and never changes what the caller logged."""

import logging
from datetime import timedelta
from types import SimpleNamespace

import pytest
from gunicorn.config import Config
from gunicorn.glogging import Logger as GunicornLogger

from ops.redaction import redact_text, redact_value

TOKEN = "7345123456:AAH-super-secret-token-part_zz9xyzab"
API_KEY = "bd_" + "A1b2C3d4" * 5


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("POST /webhooks/yookassa/s3cr3t-value -> 403", "POST /webhooks/yookassa/[redacted] -> 403"),
        (
            "<WSGIRequest: POST '/webhooks/yookassa/abc'>",
            "<WSGIRequest: POST '/webhooks/yookassa/[redacted]'>",
        ),
        ("https://x.test/webhooks/yookassa/abc?x=1", "https://x.test/webhooks/yookassa/[redacted]?x=1"),
        (
            f"https://api.telegram.org/bot{TOKEN}/getMe",
            "https://api.telegram.org/bot7345123456:[redacted]/getMe",
        ),
        (f"token={TOKEN}", "token=7345123456:[redacted]"),
        (f"Authorization: Bearer {API_KEY}", "Authorization: Bearer bd_[redacted]"),
        ('{"secret": "whsec_' + "Zx9-" * 10 + '"}', '{"secret": "whsec_[redacted]"}'),
    ],
)
def test_secrets_are_scrubbed(text, expected):
    assert redact_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "GET /api/v1/users/123456789/balance -> 200",
        "GET /webhooks/ -> 404",
        "at 12:30:05, 3 queries in 12 ms",
        "user 123456789: generation 42 failed",
        "bd_short and embedding_dimensions",
    ],
)
def test_ordinary_text_is_left_alone(text):
    assert redact_text(text) == text


def test_the_configured_secret_is_scrubbed_wherever_it_appears(settings):
    settings.YOOKASSA_WEBHOOK_SECRET = "a-configured-secret-42"
    assert redact_text("secret=a-configured-secret-42;") == "secret=[redacted];"


def test_values_are_copied_when_scrubbed_and_kept_when_clean():
    clean = {"path": "/api/v1/plans", "params": [1, "two", (3.0, None)]}
    assert redact_value(clean) is clean

    url = f"/webhooks/yookassa/{TOKEN}"
    logged = {"path": url, "nested": [{"url": url}], "n": 1}
    scrubbed = redact_value(logged)
    assert scrubbed == {
        "path": "/webhooks/yookassa/[redacted]",
        "nested": [{"url": "/webhooks/yookassa/[redacted]"}],
        "n": 1,
    }
    assert logged == {"path": url, "nested": [{"url": url}], "n": 1}  # the caller's object is untouched


def test_gunicorn_access_log_lines_are_scrubbed():
    # given gunicorn's own access logger (the Procfile's --access-logfile -), as a worker uses it
    config = Config()
    config.set("accesslog", "-")
    access = GunicornLogger(config)
    captured: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = captured.append
    logging.getLogger("gunicorn.access").addHandler(handler)
    try:
        access.access(
            SimpleNamespace(status="403 Forbidden", headers=[], sent=83),
            SimpleNamespace(headers=[]),
            {
                "REQUEST_METHOD": "POST",
                "RAW_URI": "/webhooks/yookassa/s3cr3t-value",
                "PATH_INFO": "/webhooks/yookassa/s3cr3t-value",
                "SERVER_PROTOCOL": "HTTP/1.1",
                "REMOTE_ADDR": "127.0.0.1",
            },
            timedelta(milliseconds=5),
        )
    finally:
        logging.getLogger("gunicorn.access").removeHandler(handler)
        for gunicorn_handler in list(access.access_log.handlers):
            access.access_log.removeHandler(gunicorn_handler)

    [record] = captured
    assert '"POST /webhooks/yookassa/[redacted] HTTP/1.1" 403' in record.getMessage()
    assert "s3cr3t" not in f"{record.getMessage()} {record.__dict__}"
