"""Authentication of bots (API keys) and operators (admin logins), both throttled after repeated failures.

The failure counters live in Django's cache (`default`): a blocked client is refused before any
database lookup, so a flood of bad keys costs no queries, and a valid key still costs exactly one.
With the default per-process cache each gunicorn worker counts on its own (the limit is then per
worker); a shared cache (Redis) in CACHES makes it one limit for the whole site. A cache that fails
never blocks a login: throttling is a brake, not a gate.
"""

import logging
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from ninja.security import HttpBearer

from accounts.errors import AccountsError
from accounts.models import ApiKey
from accounts.services import api_key_authenticate

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FailureThrottle:
    """At most `limit` failures per key in a fixed window that starts with the first failure."""

    scope: str
    limit_setting: str
    default_limit: int
    window_setting: str
    default_window: int

    @property
    def limit(self) -> int:
        return getattr(settings, self.limit_setting, self.default_limit)

    @property
    def window(self) -> int:
        return getattr(settings, self.window_setting, self.default_window)

    def _keys(self, subject: str) -> tuple[str, str]:
        base = f"auth-failures:{self.scope}:{subject}"
        return f"{base}:count", f"{base}:started"

    def retry_after(self, subject: str) -> int | None:
        """Seconds until `subject` may try again, or None when it is not blocked."""
        count_key, started_key = self._keys(subject)
        try:
            values = cache.get_many([count_key, started_key])
        except Exception:
            logger.warning("auth throttle: cache unavailable, not throttling", exc_info=True)
            return None
        if values.get(count_key, 0) < self.limit:
            return None
        started = values.get(started_key) or time.time()
        return max(1, math.ceil(started + self.window - time.time()))

    def failure_record(self, subject: str) -> None:
        count_key, started_key = self._keys(subject)
        try:
            if cache.add(count_key, 1, timeout=self.window):
                cache.set(started_key, time.time(), timeout=self.window)
            else:
                cache.incr(count_key)
        except ValueError:
            # The window expired between add and incr: this failure opens the next one.
            cache.add(count_key, 1, timeout=self.window)
        except Exception:
            logger.warning("auth throttle: cache unavailable, failure not counted", exc_info=True)


api_key_throttle = FailureThrottle(
    "api-key", "API_AUTH_FAILURE_LIMIT", 20, "API_AUTH_FAILURE_WINDOW_SECONDS", 300
)
admin_login_throttle = FailureThrottle(
    "admin-login", "ADMIN_LOGIN_FAILURE_LIMIT", 5, "ADMIN_LOGIN_FAILURE_WINDOW_SECONDS", 900
)


def client_ip(request: HttpRequest | None) -> str:
    return (request.META.get("REMOTE_ADDR") if request is not None else None) or "unknown"


class ApiKeyAuth(HttpBearer):
    """`Authorization: Bearer <api key>`; a missing, wrong or revoked key is 401.

    After API_AUTH_FAILURE_LIMIT wrong or revoked keys from one client IP within
    API_AUTH_FAILURE_WINDOW_SECONDS, that client gets 429 rate_limited with Retry-After until the
    window ends, whatever key it sends.
    """

    def authenticate(self, request: HttpRequest, token: str) -> ApiKey | None:
        ip = client_ip(request)
        wait = api_key_throttle.retry_after(ip)
        if wait is not None:
            raise AccountsError(
                "Too many requests with a wrong API key; retry later.",
                code="rate_limited",
                retry_after=wait,
            )
        api_key = api_key_authenticate(raw_key=token)
        if api_key is None:
            api_key_throttle.failure_record(ip)
        return api_key


class ThrottledModelBackend(ModelBackend):
    """Django's backend, refusing a username from a client IP after ADMIN_LOGIN_FAILURE_LIMIT failures.

    Counting per username and IP stops password guessing against one operator without letting an
    attacker lock every operator out from their own addresses.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(self._username_field())
        subject = f"{str(username or '').strip().lower()}|{client_ip(request)}"
        if admin_login_throttle.retry_after(subject) is not None:
            logger.warning("admin login throttled for %s", subject)
            # PermissionDenied stops Django trying further backends: blocked means blocked.
            raise PermissionDenied("Too many failed logins; retry later.")
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            admin_login_throttle.failure_record(subject)
        return user

    @staticmethod
    def _username_field() -> str:
        from django.contrib.auth import get_user_model

        return get_user_model().USERNAME_FIELD
