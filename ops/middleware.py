"""Slow requests and slow queries (over SLOW_REQUEST_MS) are logged as warnings with their timing.

The warnings go to the `ops.slow_request` and `ops.slow_query` loggers, so the debug log handler stores
them. Query parameters are never logged: they may hold keys, prompts or personal data. Paths are
logged as they are: secrets in them (webhook secrets, bot tokens) are scrubbed from every record by
ops.redaction.
"""

import logging
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse

request_logger = logging.getLogger("ops.slow_request")
query_logger = logging.getLogger("ops.slow_query")
SQL_MAX_CHARS = 600


class QueryTimer:
    """A connection.execute_wrapper: counts and times every query, logs those over the threshold."""

    def __init__(self, *, threshold_ms: float, path: str) -> None:
        self.threshold_ms = threshold_ms
        self.path = path
        self.count = 0
        self.total_ms = 0.0

    def __call__(self, execute: Callable, sql: str, params: Any, many: bool, context: dict) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            elapsed_ms = (time.perf_counter() - started) * 1000
            self.count += 1
            self.total_ms += elapsed_ms
            if elapsed_ms > self.threshold_ms:
                query_logger.warning(
                    "slow query (%d ms) in %s: %s",
                    elapsed_ms,
                    self.path,
                    sql[:SQL_MAX_CHARS],
                    extra={"context": {"duration_ms": round(elapsed_ms), "path": self.path, "many": many}},
                )


class SlowRequestMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        threshold_ms = settings.SLOW_REQUEST_MS
        path = request.path[:200]
        timer = QueryTimer(threshold_ms=threshold_ms, path=path)
        started = time.perf_counter()
        with connection.execute_wrapper(timer):
            response = self.get_response(request)
        elapsed_ms = (time.perf_counter() - started) * 1000
        if elapsed_ms > threshold_ms:
            request_logger.warning(
                "slow request (%d ms): %s %s -> %s, %d queries in %d ms",
                elapsed_ms,
                request.method,
                path,
                response.status_code,
                timer.count,
                timer.total_ms,
                extra={
                    "context": {
                        "duration_ms": round(elapsed_ms),
                        "method": request.method,
                        "path": path,
                        "status": response.status_code,
                        "queries": timer.count,
                        "query_ms": round(timer.total_ms),
                    }
                },
            )
        return response
