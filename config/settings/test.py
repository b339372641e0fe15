"""pytest: real PostgreSQL with pgvector, fast password hashing, tasks run inline."""

from config.settings.base import *  # noqa: F403

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
# Every request looks its API key up, so the query counts tests pin do not depend on what an earlier
# request of the same test cached; the tests of the cache (and of the hot paths' round trips) switch it on.
API_KEY_CACHE_SECONDS = 0
