"""Leader locks: a singleton job runs on at most one worker at a time, however many beats and workers exist.

A lease row per job name (`ops.LeaderLease`), taken by one statement in autocommit:
`INSERT ... ON CONFLICT (name) DO UPDATE ... WHERE expires_at < now() RETURNING` either creates the row,
takes over an expired one, or returns nothing because a live holder has it (the runner then skips
instead of queueing). Released by deleting the row if this holder still has it. Nothing depends on the
database session, so it holds behind a transaction-pooling pgbouncer, where a session advisory lock
would be taken on one server session and released on another.

The lease lasts LEADER_LEASE_SECONDS (default: Celery's hard time limit plus a minute, so no task can
outlive its lease); a crashed holder's lease expires after that. A holder that finds, on release, that
its lease was lost (it outlived the lease and another runner took over) logs an ERROR; a database
error while acquiring propagates: the job does not run without the lock.
"""

import functools
import hashlib
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

logger = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])

ACQUIRE_SQL = """
    INSERT INTO ops_leader_lease (name, holder, acquired_at, expires_at)
    VALUES (%(name)s, %(holder)s, now(), now() + make_interval(secs => %(ttl)s))
    ON CONFLICT (name) DO UPDATE
       SET holder = EXCLUDED.holder, acquired_at = EXCLUDED.acquired_at, expires_at = EXCLUDED.expires_at
     WHERE ops_leader_lease.expires_at < now()
    RETURNING holder
"""
RELEASE_SQL = "DELETE FROM ops_leader_lease WHERE name = %s AND holder = %s"

_held = threading.local()


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for a transaction-scoped advisory lock (pg_advisory_xact_lock), which
    a transaction pooler keeps on one server session; the prefix keeps clear of other users."""
    digest = hashlib.blake2b(f"botdesk.leader:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def lease_seconds() -> int:
    return int(settings.LEADER_LEASE_SECONDS or settings.CELERY_TASK_TIME_LIMIT + 60)


def _holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}:{uuid.uuid4().hex[:8]}"


@contextmanager
def leader_lock(
    name: str, *, using: str = DEFAULT_DB_ALIAS, ttl_seconds: float | None = None
) -> Iterator[bool]:
    """Yields True when this runner now holds the lease `name`, False when another runner does.

    Re-entrant within one thread, so a task calling another singleton of the same name does not
    skip itself.
    """
    held: dict[str, str] = _held.__dict__.setdefault("names", {})
    if name in held:
        yield True
        return
    holder = _holder()
    with connections[using].cursor() as cursor:
        cursor.execute(ACQUIRE_SQL, {"name": name, "holder": holder, "ttl": ttl_seconds or lease_seconds()})
        acquired = cursor.fetchone() is not None
    if not acquired:
        yield False
        return
    held[name] = holder
    try:
        yield True
    finally:
        del held[name]
        _release(using, name, holder)


def _release(using: str, name: str, holder: str) -> None:
    with connections[using].cursor() as cursor:
        cursor.execute(RELEASE_SQL, [name, holder])
        released = cursor.rowcount == 1
    if not released:
        logger.error(
            "leader lease %s expired before its job finished; another runner may have overlapped it "
            "(raise LEADER_LEASE_SECONDS above the job's longest run)",
            name,
        )


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
