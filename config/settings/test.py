"""pytest: real PostgreSQL with pgvector, fast password hashing, tasks run inline."""

from config.settings.base import *  # noqa: F403
from config.settings.base import env

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Tests call tasks where they matter; work queued by on_commit runs inline instead of needing a worker.
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
YOOKASSA_MODE = "fake"
YOOKASSA_WEBHOOK_SECRET = "test-webhook-secret"
# Static files are not collected for tests; WhiteNoise would only warn about the missing folder.
MIDDLEWARE = [name for name in MIDDLEWARE if not name.startswith("whitenoise")]  # noqa: F405
# Warnings (slow requests on a busy machine, 5xx) must not add INSERTs to other tests' query counts;
# the ops tests switch the debug log handler on where they test it.
DEBUG_LOG_DATABASE = False
# Assertions read English; the Russian admin is tested explicitly (tests/test_i18n.py, tests/e2e).
LANGUAGE_CODE = "en"
# Deliveries would run inline (eager) inside the request that recorded the event; the webhook tests
# switch this on where they test delivery.
WEBHOOK_DELIVER_ON_COMMIT = False
# Redis on 6379 is shared with other checkouts' test runs: the throttle's keys carry the database name
# (tests/conftest.py adds a per-test part as well).
CACHES["throttle"]["KEY_PREFIX"] = env(  # noqa: F405
    "THROTTLE_KEY_PREFIX", default=f"botdesk-test-{env('BOTDESK_DB_NAME', default='botdesk')}"
)
# Every request looks its API key up, so the query counts tests pin do not depend on what an earlier
# request of the same test cached; the tests of the cache (and of the hot paths' round trips) switch it on.
API_KEY_CACHE_SECONDS = 0
