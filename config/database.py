"""`DATABASES["default"]` from DATABASE_URL, merged key by key with the project's connection defaults.

Managed PostgreSQL hands out URLs such as `postgres://u:p@host:25060/db?sslmode=require`; django-environ
turns the query string into OPTIONS. Those are merged into the defaults one key at a time (the URL wins
for the keys it names), never put in their place, so `?sslmode=` cannot drop the timeouts or the pool.
The libpq `options` string is the one key that is combined rather than replaced: the URL's `-c` flags
come after the project's, so a URL may still set another parameter (or deliberately override one).

Behind pgbouncer in transaction pooling (`DATABASE_POOLER=pgbouncer`) a server connection is shared by
many clients between transactions, so nothing may depend on session state:
- no startup `options` (pgbouncer refuses the parameter): the timeouts are set on the role instead,
  `ALTER ROLE ... SET statement_timeout` (scripts/setup.sh does it; README, Production);
- no server-side cursors (a named cursor lives in one server session) and no prepared statements.
"""

import re
from typing import Any
from urllib.parse import unquote, urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

POOLERS = ("", "pgbouncer")


def _socket_host(url: str) -> str | None:
    """A Unix socket directory given percent-encoded as the host (`@%2Fvar%2Frun%2Fpostgresql/db`),
    which django-environ would pass on still encoded (and lowercased)."""
    host = urlsplit(url).netloc.rsplit("@", 1)[-1]
    host = re.sub(r":\d+$", "", host)
    host = unquote(host)
    return host if host.startswith("/") else None


def timeouts_options(*, statement_timeout_ms: int, idle_in_transaction_timeout_ms: int) -> str:
    return (
        f"-c statement_timeout={statement_timeout_ms} "
        f"-c idle_in_transaction_session_timeout={idle_in_transaction_timeout_ms}"
    )


def database_settings(
    url: str,
    *,
    connect_timeout: int,
    statement_timeout_ms: int,
    idle_in_transaction_timeout_ms: int,
    conn_max_age: int,
    pool: bool = False,
    pooler: str = "",
) -> dict[str, Any]:
    if pooler not in POOLERS:
        raise ImproperlyConfigured(f"DATABASE_POOLER must be empty or 'pgbouncer', not {pooler!r}.")
    config = environ.Env.db_url_config(url)
    socket_dir = _socket_host(url)
    if socket_dir:
        config["HOST"] = socket_dir
    url_options = dict(config.pop("OPTIONS", None) or {})
    options: dict[str, Any] = {"connect_timeout": connect_timeout}
    if not pooler:
        options["options"] = timeouts_options(
            statement_timeout_ms=statement_timeout_ms,
            idle_in_transaction_timeout_ms=idle_in_transaction_timeout_ms,
        )
    elif "options" in url_options:
        raise ImproperlyConfigured(
            "pgbouncer refuses the startup parameter `options`: remove it from DATABASE_URL and set "
            "the parameters on the role (ALTER ROLE ... SET)."
        )
    for key, value in url_options.items():
        options[key] = f"{options[key]} {value}" if key == "options" else value
    config.update({"CONN_MAX_AGE": conn_max_age, "CONN_HEALTH_CHECKS": True, "OPTIONS": options})
    if pooler:
        config["DISABLE_SERVER_SIDE_CURSORS"] = True
        options["prepare_threshold"] = None  # Django's default too; never let a URL turn it on
        options.pop("server_side_binding", None)
    # Persistent connections are the default: with gunicorn's sync workers each process serves one
    # request at a time, so one kept connection per process is all a pool would give
    # (bench/db_connections.py measures both). A pool (min 2 / max 20 per process) pays off with
    # threaded or async workers.
    if pool:
        config["CONN_MAX_AGE"] = 0
        options["pool"] = {"min_size": 2, "max_size": 20, "timeout": connect_timeout}
    return config
