"""The bot's view of the HTTP API in tests."""

import json
from typing import Any

from django.test import Client


def bearer(raw_key: str) -> dict[str, str]:
    """The Authorization header a bot sends with its API key."""
    return {"Authorization": f"Bearer {raw_key}"}


class ApiClient:
    """The bot's view of the API: JSON bodies, bearer auth, optional Idempotency-Key.

    Each instance has its own Django test client; raw_key=None sends no Authorization header.
    """

    def __init__(self, raw_key: str | None) -> None:
        self.client = Client()
        self.raw_key = raw_key

    def _headers(self, idempotency_key: str | None, headers: dict[str, str] | None) -> dict[str, str]:
        result = dict(headers or {})
        if self.raw_key is not None:
            result = {**bearer(self.raw_key), **result}
        if idempotency_key is not None:
            result["Idempotency-Key"] = idempotency_key
        return result

    def request(
        self, method: str, path: str, body: Any = None, *, idempotency_key=None, headers=None, raw=None
    ):
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        kwargs = {"headers": self._headers(idempotency_key, headers)}
        if data is not None:
            kwargs.update(data=data, content_type="application/json")
        return getattr(self.client, method)(path, **kwargs)

    def get(self, path: str, **kwargs):
        return self.request("get", path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs):
        return self.request("post", path, body, **kwargs)

    def put(self, path: str, body: Any = None, **kwargs):
        return self.request("put", path, body, **kwargs)

    def delete(self, path: str, **kwargs):
        return self.request("delete", path, **kwargs)
