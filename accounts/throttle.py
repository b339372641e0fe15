"""Failure counters shared by every web process, in Redis (the `throttle` entry of CACHES).

A counter is a Redis integer that lives for one fixed window from its first failure: one MULTI per
failure does `SET key 0 EX window NX`, `INCR key` and `TTL key`, so every gunicorn worker on every host
counts into the same number and the window cannot lose its expiry. Subjects (client addresses, key
prefixes, usernames) are hashed into the key, so Redis never holds a username or part of a key.

Throttling is a brake, not a gate: when Redis cannot be reached the throttle lets the request through
(fail-open) and logs a warning, at most once a minute per process so an outage does not flood the log.
"""

import hashlib
import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches

logger = logging.getLogger(__name__)

CACHE_ALIAS = "throttle"
_WARN_EVERY_SECONDS = 60.0
_last_warning = 0.0


def _warn_unavailable(exc: Exception) -> None:
    global _last_warning
    now = time.monotonic()
    if now - _last_warning >= _WARN_EVERY_SECONDS:
        _last_warning = now
        logger.warning("auth throttle: Redis unavailable, not throttling (%s: %s)", type(exc).__name__, exc)


@dataclass(frozen=True)
class Limit:
    """At most `limit` failures per subject of `kind` in a window that opens with the first failure."""

    kind: str
    limit_setting: str
    window_setting: str

    # The settings are named in data (the limits below); each is declared in config/settings/base.py.
    @property
    def limit(self) -> int:
        return int(getattr(settings, self.limit_setting))

    @property
    def window(self) -> int:
        return int(getattr(settings, self.window_setting))


def _key(scope: str, kind: str, subject: str) -> str:
    digest = hashlib.sha256(subject.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return caches[CACHE_ALIAS].make_and_validate_key(f"auth-failures:{scope}:{kind}:{digest}")


def _client():
    # Django's RedisCache keeps a redis-py client per server; the pipeline needs it directly.
    return caches[CACHE_ALIAS]._cache.get_client(write=True)


class FailureThrottle:
    """Failures counted under several limits at once (say per client address and per key prefix)."""

    def __init__(self, scope: str, *limits: Limit) -> None:
        self.scope = scope
        self.limits = {limit.kind: limit for limit in limits}

    def _over(self, subjects: dict[str, str], counts: list[tuple[int, int]]) -> int | None:
        waits = [
            max(1, ttl if ttl > 0 else self.limits[kind].window)
            for kind, (count, ttl) in zip(subjects, counts, strict=True)
            if count > self.limits[kind].limit
        ]
        return max(waits) if waits else None

    def failure_record(self, **subjects: str) -> int | None:
        """Counts one failure for each subject (keyword: kind=subject); returns the seconds to wait
        when this failure is beyond a limit, None when it is within all of them (or Redis is down)."""
        try:
            pipe = _client().pipeline(transaction=True)
            for kind, subject in subjects.items():
                key = _key(self.scope, kind, subject)
                pipe.set(key, 0, ex=self.limits[kind].window, nx=True)
                pipe.incr(key)
                pipe.ttl(key)
            results = pipe.execute()
        except Exception as exc:  # any Redis failure: let the request through
            _warn_unavailable(exc)
            return None
        counts = [(int(results[i + 1]), int(results[i + 2])) for i in range(0, len(results), 3)]
        return self._over(subjects, counts)

    def retry_after(self, **subjects: str) -> int | None:
        """Seconds to wait when a subject has already used up its limit, without counting anything."""
        try:
            pipe = _client().pipeline(transaction=False)
            for kind, subject in subjects.items():
                key = _key(self.scope, kind, subject)
                pipe.get(key)
                pipe.ttl(key)
            results = pipe.execute()
        except Exception as exc:
            _warn_unavailable(exc)
            return None
        # `>= limit` here is `> limit` for the next failure: the limit is used up.
        counts = [(int(results[i] or 0) + 1, int(results[i + 1])) for i in range(0, len(results), 2)]
        return self._over(subjects, counts)


api_key_throttle = FailureThrottle(
    "api-key",
    Limit("address", "API_AUTH_FAILURE_LIMIT", "API_AUTH_FAILURE_WINDOW_SECONDS"),
    Limit("key_prefix", "API_AUTH_FAILURE_LIMIT", "API_AUTH_FAILURE_WINDOW_SECONDS"),
)
admin_login_throttle = FailureThrottle(
    "admin-login",
    Limit("username_at_address", "ADMIN_LOGIN_FAILURE_LIMIT", "ADMIN_LOGIN_FAILURE_WINDOW_SECONDS"),
    Limit("address", "ADMIN_LOGIN_ADDRESS_FAILURE_LIMIT", "ADMIN_LOGIN_FAILURE_WINDOW_SECONDS"),
)

# The part of a presented key that is counted: as long as the stored prefix (accounts.ApiKey.prefix).
KEY_PREFIX_CHARS = 10


def key_prefix(raw_key: str) -> str:
    return (raw_key or "")[:KEY_PREFIX_CHARS]
