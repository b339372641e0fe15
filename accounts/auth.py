"""Authentication of bots (API keys) and operators (admin logins), both throttled after repeated failures.

The failure counters (accounts.throttle) live in Redis, shared by every gunicorn worker on every host;
the client is the address core.proxies finds behind TRUSTED_PROXIES.

- API keys: the key is looked up first, and a valid key is always let in, so no amount of wrong keys
  from anywhere can lock a bot out. Only failures are throttled: after API_AUTH_FAILURE_LIMIT wrong or
  revoked keys within API_AUTH_FAILURE_WINDOW_SECONDS from one client address, or presenting one key
  prefix, further failures answer 429 rate_limited with Retry-After instead of 401.
- Admin logins are refused before the password is checked (otherwise the refusal would not slow
  guessing) when that username has failed ADMIN_LOGIN_FAILURE_LIMIT times from the same client address,
  or that address has failed ADMIN_LOGIN_ADDRESS_FAILURE_LIMIT times for any usernames. Nothing is
  counted per username alone: an attacker elsewhere locks out only their own address, never the
  operator's.
"""

import logging

from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from ninja.security import HttpBearer

from accounts.errors import AccountsError
from accounts.models import ApiKey
from accounts.services import api_key_authenticate
from accounts.throttle import admin_login_throttle, api_key_throttle, key_prefix
from core.proxies import client_address

logger = logging.getLogger(__name__)


def api_key_failure_check(request: HttpRequest, token: str) -> None:
    """Counts a wrong or revoked key; raises 429 once its client address or key prefix is over the limit."""
    wait = api_key_throttle.failure_record(address=client_address(request), key_prefix=key_prefix(token))
    if wait is not None:
        raise AccountsError(
            "Too many requests with a wrong API key; retry later.", code="rate_limited", retry_after=wait
        )


class ApiKeyAuth(HttpBearer):
    """`Authorization: Bearer <api key>`; a missing, wrong or revoked key is 401 (429 when throttled)."""

    def authenticate(self, request: HttpRequest, token: str) -> ApiKey | None:
        api_key = api_key_authenticate(raw_key=token)
        if api_key is None:
            api_key_failure_check(request, token)
        return api_key


class ThrottledModelBackend(ModelBackend):
    """Django's backend, refusing a username at a client address after ADMIN_LOGIN_FAILURE_LIMIT failures."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(self._username_field())
        address = client_address(request)
        subjects = {
            "username_at_address": f"{str(username or '').strip().lower()}|{address}",
            "address": address,
        }
        if admin_login_throttle.retry_after(**subjects) is not None:
            logger.warning("admin login throttled for a username at %s", address)
            # PermissionDenied stops Django trying further backends: blocked means blocked.
            raise PermissionDenied("Too many failed logins; retry later.")
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            admin_login_throttle.failure_record(**subjects)
        return user

    @staticmethod
    def _username_field() -> str:
        from django.contrib.auth import get_user_model

        return get_user_model().USERNAME_FIELD
