"""Settings shared by every environment. Values come from the environment (12-factor)."""

from decimal import Decimal
from pathlib import Path

import environ

from config.database import database_settings
from core.proxies import trusted_networks_parse

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env")

SECRET_KEY = env("SECRET_KEY", default="insecure-local-development-key-change-me")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django_celery_beat",
    "ninja",
    "accounts",
    "billing",
    "generations",
    "assistants",
    "ops",
]

MIDDLEWARE = [
    # First, so that its timing covers the whole request (ops: slow requests and queries are logged).
    "ops.middleware.SlowRequestMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # After sessions, before CommonMiddleware: the operator's language (header switch, then browser).
    "django.middleware.locale.LocaleMiddleware",
    "config.middleware.DisplayTimeZoneMiddleware",
    "django.middleware.common.CommonMiddleware",
    "config.views.JsonMethodNotAllowedMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# Timeouts the original systems ran with: a web request never waits on a lock or a query for
# more than STATEMENT_TIMEOUT_MS; maintenance commands raise it for their own session.
DATABASE_CONNECT_TIMEOUT = env.int("DATABASE_CONNECT_TIMEOUT", default=10)
STATEMENT_TIMEOUT_MS = env.int("STATEMENT_TIMEOUT_MS", default=30_000)
IDLE_IN_TRANSACTION_TIMEOUT_MS = env.int("IDLE_IN_TRANSACTION_TIMEOUT_MS", default=60_000)
MAINTENANCE_STATEMENT_TIMEOUT_MS = env.int("MAINTENANCE_STATEMENT_TIMEOUT_MS", default=3_600_000)

# Behind pgbouncer in transaction mode set DATABASE_POOLER=pgbouncer (config/database.py says why).
DATABASE_POOLER = env("DATABASE_POOLER", default="")
DATABASE_URL_DEFAULT = "postgres://botdesk:botdesk@127.0.0.1:5432/botdesk"


def database_default(url: str) -> dict:
    return database_settings(
        url,
        connect_timeout=DATABASE_CONNECT_TIMEOUT,
        statement_timeout_ms=STATEMENT_TIMEOUT_MS,
        idle_in_transaction_timeout_ms=IDLE_IN_TRANSACTION_TIMEOUT_MS,
        conn_max_age=env.int("CONN_MAX_AGE", default=300),
        pool=env.bool("DATABASE_POOL", default=False),
        pooler=DATABASE_POOLER,
    )


DATABASES = {"default": database_default(env("DATABASE_URL", default=DATABASE_URL_DEFAULT))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.Operator"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

# Operators read Russian first; each one switches to English in the admin header (a cookie).
LANGUAGE_CODE = env("LANGUAGE_CODE", default="ru")
LANGUAGES = [("ru", "Русский"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Stored and computed in UTC (TIME_ZONE); the admin shows times in the operators' zone.
TIME_ZONE = "UTC"
DISPLAY_TIME_ZONE = env("DISPLAY_TIME_ZONE", default="Europe/Moscow")
ADMIN_URL_PREFIX = "/admin/"
ADMIN_SITE_HEADER = env("ADMIN_SITE_HEADER", default="Botdesk")
ADMIN_SITE_TITLE = env("ADMIN_SITE_TITLE", default="Botdesk")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# Bots send small JSON bodies; anything larger is refused before it reaches a view.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2 * 1024 * 1024)

# --- Celery ---------------------------------------------------------------------------------
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="redis://127.0.0.1:6379/0")
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = "UTC"
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=600)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=540)
# Every task is idempotent (house style), so a task lost with a dying worker may safely run again.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing must not hang a web request when the broker is down: fail fast, beat catches up.
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 1, "socket_timeout": 2, "max_retries": 1}
CELERY_TASK_PUBLISH_RETRY = False
# /api/v1/health asks the broker at most once per this many seconds per process, bounded by the timeout.
HEALTH_BROKER_CACHE_SECONDS = env.float("HEALTH_BROKER_CACHE_SECONDS", default=5.0)
HEALTH_BROKER_TIMEOUT_SECONDS = env.float("HEALTH_BROKER_TIMEOUT_SECONDS", default=0.05)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Keep Django's LOGGING in workers: Celery would otherwise replace the root handlers, and warnings and
# errors of tasks (a failed ledger_check, a failed retention run) would never reach the debug log.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# How long a singleton job's lease lasts (ops.locks); None: Celery's hard time limit + 60 s, so no task
# outlives its lease.
LEADER_LEASE_SECONDS = env.int("LEADER_LEASE_SECONDS", default=None)

# --- Business settings (bot-api.md) --------------------------------------------------------
DEFAULT_CURRENCY = env("DEFAULT_CURRENCY", default="RUB")
CURRENCIES = env.list("CURRENCIES", default=["RUB", "TOKENS"])
WELCOME_BONUS = env.str("WELCOME_BONUS", default="10.00")
WELCOME_BONUS_ANONYMOUS = env.str("WELCOME_BONUS_ANONYMOUS", default="5.00")
REFERRAL_REWARD_PERCENT = env.str("REFERRAL_REWARD_PERCENT", default="10")
TELEGRAM_STARS_RATE = env.str("TELEGRAM_STARS_RATE", default="1.00")
YOOKASSA_MODE = env("YOOKASSA_MODE", default="fake")
YOOKASSA_SHOP_ID = env("YOOKASSA_SHOP_ID", default="")
YOOKASSA_SECRET_KEY = env("YOOKASSA_SECRET_KEY", default="")
YOOKASSA_WEBHOOK_SECRET = env("YOOKASSA_WEBHOOK_SECRET", default="local-webhook-secret")
YOOKASSA_RETURN_URL = env("YOOKASSA_RETURN_URL", default="https://t.me/")
YOOKASSA_API_URL = env("YOOKASSA_API_URL", default="https://api.yookassa.ru/v3")
YOOKASSA_TIMEOUT_SECONDS = env.float("YOOKASSA_TIMEOUT_SECONDS", default=10.0)
# 54-FZ: send a receipt with every payment and refund (the buyer's email or phone becomes required).
YOOKASSA_RECEIPTS = env.bool("YOOKASSA_RECEIPTS", default=False)
YOOKASSA_VAT_CODE = env.int("YOOKASSA_VAT_CODE", default=1)
# A pending refund holds its amount this long at most (YooKassa decides refunds within minutes).
REFUND_HOLD_TTL_SECONDS = env.int("REFUND_HOLD_TTL_SECONDS", default=7 * 24 * 3600)
GENERATION_TIMEOUT_SECONDS = env.int("GENERATION_TIMEOUT_SECONDS", default=900)
HOLD_TTL_SECONDS = env.int("HOLD_TTL_SECONDS", default=GENERATION_TIMEOUT_SECONDS + 60)
RATE_LIMITS_ENABLED = env.bool("RATE_LIMITS_ENABLED", default=True)
IDEMPOTENCY_KEY_TTL_HOURS = env.int("IDEMPOTENCY_KEY_TTL_HOURS", default=24)
LOG_RETENTION_DAYS = env.int("LOG_RETENTION_DAYS", default=30)
# Jobs' prompts and result URLs are emptied this many days after creation; 0 keeps them forever.
PROMPT_RETENTION_DAYS = env.int("PROMPT_RETENTION_DAYS", default=0)
# Processed YooKassa notifications (an audit trail); unprocessed ones are never deleted.
PROVIDER_EVENT_RETENTION_DAYS = env.int("PROVIDER_EVENT_RETENTION_DAYS", default=365)
# Resolved holds (their jobs and the ledger keep the money's facts); open ones are never deleted. A week
# covers support's questions about a job just finished; every day kept costs ~5 MB per 2M jobs a year
# (bench/README.md, Capacity: 30 days kept 48 MB of holds at capacity scale, 7 days 12 MB).
HOLD_RETENTION_DAYS = env.int("HOLD_RETENTION_DAYS", default=7)
DB_BUDGET_MB = env.int("DB_BUDGET_MB", default=1024)
# Retention of ops' own records (ops.retention); expired operator sessions go at once (0 days).
OPS_RUN_RETENTION_DAYS = 180
DB_SIZE_SNAPSHOT_DAYS = 730
SESSION_RETENTION_DAYS = 0
# A retention run stops after this many seconds, inside Celery's soft time limit (540 s); the next run
# continues where it stopped.
RETENTION_MAX_SECONDS = 300
SLOW_REQUEST_MS = env.int("SLOW_REQUEST_MS", default=100)

EMBEDDING_BACKEND = env("EMBEDDING_BACKEND", default="hashing")
EMBEDDING_DIMENSIONS = env.int("EMBEDDING_DIMENSIONS", default=384)
EMBEDDING_OPENAI_URL = env("EMBEDDING_OPENAI_URL", default="")
EMBEDDING_OPENAI_API_KEY = env("EMBEDDING_OPENAI_API_KEY", default="")
EMBEDDING_OPENAI_MODEL = env("EMBEDDING_OPENAI_MODEL", default="text-embedding-3-small")

# --- Assistants (assistants.services, retrieval, embeddings) ------------------------------------
# Chunking: characters per chunk and characters carried over from the previous chunk.
ASSISTANTS_CHUNK_CHARS = 800
ASSISTANTS_CHUNK_OVERLAP = 150
# Texts up to this many characters are chunked and embedded inside the request; longer ones are
# indexed by a Celery task so a web request never waits on a long embedding run.
ASSISTANTS_SYNC_INDEX_MAX_CHARS = env.int("ASSISTANTS_SYNC_INDEX_MAX_CHARS", default=20_000)
# The same for bot-sent chunks: an upload of more chunks than this, or more characters of content than
# ASSISTANTS_SYNC_INDEX_MAX_CHARS, is stored and embedded by the worker (pending, then indexed).
ASSISTANTS_SYNC_INDEX_MAX_CHUNKS = env.int("ASSISTANTS_SYNC_INDEX_MAX_CHUNKS", default=100)
ASSISTANTS_MAX_TEXT_CHARS = 1_000_000
ASSISTANTS_MAX_CHUNKS_PER_DOCUMENT = 2_000
# Search: assistants with at most this many chunks are searched exactly (bitmap scan of their rows +
# sort), larger ones through the HNSW index with iterative scans. Measured on 1M chunks
# (bench/README.md): exact p95 is 0.8 ms at 100 chunks, 2.2 ms at 1,000 and 13 ms at 16,250, ~0.6 ms
# per 1,000 chunks; the filtered HNSW walk costs 4-8 ms p95 at those sizes (and is not exact), so exact
# wins up to ~5,000 chunks.
ASSISTANTS_EXACT_SEARCH_MAX_CHUNKS = 5_000
# HNSW plan on 1M chunks (bench/README.md, "Assistants retrieval"), 100,000-chunk assistant, 10 rows
# fetched: recall@10 0.94 at ef_search 200 (p95 13-15 ms), 0.95 at 300 (p95 18 ms), 0.96-0.97 at 400
# (p95 20-21 ms, over budget); unfiltered 0.98 at 300. m=24 / ef_construction=128 gave the same recall
# per ms of latency.
ASSISTANTS_HNSW_EF_SEARCH = 300
# Rows the filtered HNSW walk fetches (never fewer than `limit`), whatever the 4x over-fetch of the
# rerank asks for: the walk goes on until it has found that many of the assistant's rows, and 20 or 40
# rows (limit 5 or 10, x 4) cost p95 26-47 ms where 10 cost 15-21 ms.
ASSISTANTS_HNSW_CANDIDATES = 10
ASSISTANTS_HNSW_MAX_SCAN_TUPLES = 40_000
# Rerank: score = (1 - w) * cosine similarity + w * importance.
ASSISTANTS_IMPORTANCE_WEIGHT = 0.2
# Reciprocal rank fusion constant (the usual 60 from Cormack et al.).
ASSISTANTS_RRF_K = 60
ASSISTANTS_EMBEDDING_TIMEOUT_SECONDS = 20
ASSISTANTS_EMBEDDING_MODEL_PATH = ""
# Key material for bot tokens; empty derives one from SECRET_KEY.
ASSISTANTS_TOKEN_KEY = ""

# WARNING and above are also stored in the debug log (ops.DebugLog, admin and retention) unless
# DEBUG_LOG_DATABASE is off; the handler never raises and backs off while the database is down.
DEBUG_LOG_DATABASE = env.bool("DEBUG_LOG_DATABASE", default=True)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
        "database": {"class": "ops.log_handler.DatabaseLogHandler", "level": "WARNING"},
    },
    "root": {"handlers": ["console", "database"], "level": env("LOG_LEVEL", default="INFO")},
}
# Every log record, of any logger, is scrubbed of secrets as it is made: webhook secrets in paths, bot
# tokens, API keys (ops.redaction).
LOGGING_CONFIG = "ops.redaction.configure_logging"

# Money is configured as text and converted once here, so a typo fails at start-up, not mid-charge.
WELCOME_BONUS = Decimal(WELCOME_BONUS)
WELCOME_BONUS_ANONYMOUS = Decimal(WELCOME_BONUS_ANONYMOUS)
REFERRAL_REWARD_PERCENT = Decimal(REFERRAL_REWARD_PERCENT)
TELEGRAM_STARS_RATE = Decimal(TELEGRAM_STARS_RATE)

# --- Operators (the admin) ------------------------------------------------------------------
# The largest balance adjustment (either sign) an operator without billing.adjust_above_limit may write.
SUPPORT_ADJUSTMENT_LIMIT = Decimal(env.str("SUPPORT_ADJUSTMENT_LIMIT", default="1000.00"))
# What turns a Telegram id, device:<id> or ext:<id> into user ids for every admin search (core imports no app).
ADMIN_USER_REF_RESOLVER = "accounts.selectors.end_user_ids_for_ref"

# --- Events sent to the bots' webhooks (accounts.webhooks) ------------------------------------
# Private, loopback and link-local webhook URLs are refused unless this is on (production: off).
WEBHOOKS_ALLOW_PRIVATE_URLS = env.bool("WEBHOOKS_ALLOW_PRIVATE_URLS", default=True)
# A 2xx within this many seconds acknowledges an event.
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=10.0)
# The wait before each retry; after the last one the event is given up (31.9 h after the first try).
WEBHOOK_RETRY_DELAYS_SECONDS = env.list(
    "WEBHOOK_RETRY_DELAYS_SECONDS",
    cast=int,
    default=[10, 60, 300, 900, 1800, 3600, 7200, 14400, 21600, 21600, 21600, 21600],
)
# An attempt holds its event this long; a worker killed mid-delivery frees it when the lease ends.
WEBHOOK_DELIVERY_LEASE_SECONDS = env.int("WEBHOOK_DELIVERY_LEASE_SECONDS", default=60)
# Delivered (or given-up) events are deleted this long after they finished; pending ones never are.
WEBHOOK_EVENT_RETENTION_DAYS = env.int("WEBHOOK_EVENT_RETENTION_DAYS", default=30)
# Queue a delivery when the recording transaction commits (the beat sweep picks up anything missed).
WEBHOOK_DELIVER_ON_COMMIT = env.bool("WEBHOOK_DELIVER_ON_COMMIT", default=True)

# --- Proxies, shared counters, authentication throttling (core.proxies, accounts.throttle) ----
# Addresses or CIDRs of the TLS proxies in front (nginx, a platform's router). The client address is
# read from X-Forwarded-For only when the request comes from one of them, right to left.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
trusted_networks_parse(TRUSTED_PROXIES)  # a typo fails at start-up, not on the first login
# Counters every web process shares (the failure throttles) live in Redis; the broker's by default.
REDIS_URL = env("REDIS_URL", default=CELERY_BROKER_URL)
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "throttle": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env("THROTTLE_KEY_PREFIX", default="botdesk"),
        # A throttle that cannot reach Redis lets the request through; it must not make it wait.
        "OPTIONS": {"socket_connect_timeout": 0.25, "socket_timeout": 0.25},
    },
}
# Wrong or revoked API keys per client address and per presented key prefix; failed admin logins per
# username at a client address, and per client address whatever the username (accounts.auth).
AUTHENTICATION_BACKENDS = ["accounts.auth.ThrottledModelBackend"]
# A valid API key is trusted for this many seconds per process without a lookup (accounts.services):
# a key revoked elsewhere stops working within this bound. 0 looks every request up.
API_KEY_CACHE_SECONDS = env.int("API_KEY_CACHE_SECONDS", default=10)
API_AUTH_FAILURE_LIMIT = env.int("API_AUTH_FAILURE_LIMIT", default=20)
API_AUTH_FAILURE_WINDOW_SECONDS = env.int("API_AUTH_FAILURE_WINDOW_SECONDS", default=300)
ADMIN_LOGIN_FAILURE_LIMIT = env.int("ADMIN_LOGIN_FAILURE_LIMIT", default=5)
ADMIN_LOGIN_ADDRESS_FAILURE_LIMIT = env.int("ADMIN_LOGIN_ADDRESS_FAILURE_LIMIT", default=30)
ADMIN_LOGIN_FAILURE_WINDOW_SECONDS = env.int("ADMIN_LOGIN_FAILURE_WINDOW_SECONDS", default=900)
