"""Leader locks: a singleton job runs on at most one worker at a time, however many beats and workers exist.

PostgreSQL session-level advisory locks, taken with try-lock (a second runner skips instead of queueing
behind the first) and released in `finally`. If the holder crashes, its connection dies and PostgreSQL
frees the lock with it, so no stale lock row can block the next run. Advisory locks are held by a
session: behind a transaction-pooling pgbouncer they would need a session-pooled connection.
"""

import functools
import hashlib
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections

logger = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for `name`; the prefix keeps clear of other users of advisory locks."""
    digest = hashlib.blake2b(f"botdesk.leader:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@contextmanager
def leader_lock(name: str, *, using: str = DEFAULT_DB_ALIAS) -> Iterator[bool]:
    """Yields True when this session now holds the lock `name`, False when another session does.

    Re-entrant within one session (PostgreSQL counts), so a task calling another singleton in the same
    thread does not deadlock itself.
    """
    connection = connections[using]
    key = lock_key(name)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        acquired = bool(cursor.fetchone()[0])
    try:
        yield acquired
    finally:
        if acquired:
            _unlock(connection, key, name)


def _unlock(connection, key: int, name: str) -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
    except DatabaseError as exc:
        # A persistent connection would keep the lock for its whole life: drop it, and the lock goes too.
        logger.warning("could not release leader lock %s (%s); closing the connection", name, exc)
        connection.close()


def singleton(name: str) -> Callable[[F], F]:
    """Decorates a job so that it runs only while holding `leader_lock(name)`; otherwise it returns None."""

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with leader_lock(name) as acquired:
                if not acquired:
                    logger.info("%s is already running elsewhere; this run is skipped", name)
                    return None
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
