"""Keyset ("cursor") pagination for the API's lists: `?limit=&cursor=` -> `{items, next_cursor}`.

Keyset pages cost the same on page 1 and page 10,000 (an index range scan), unlike OFFSET.
The cursor is opaque to clients: base64 of the last row's id.
"""

import base64
import binascii
from collections.abc import Sequence
from typing import Any, TypeVar

from django.db.models import QuerySet
from ninja import Schema
from pydantic import Field

from core.errors import DomainError

DEFAULT_LIMIT = 50
MAX_LIMIT = 200

Row = TypeVar("Row")


class PageQuery(Schema):
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    cursor: str | None = None


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(str(last_id).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = int(base64.urlsafe_b64decode(padded.encode()).decode())
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise DomainError(
            "The cursor is not one this API returned.",
            code="validation_error",
            details={"cursor": "invalid cursor"},
        ) from exc
    if value <= 0:
        raise DomainError(
            "The cursor is not one this API returned.",
            code="validation_error",
            details={"cursor": "invalid cursor"},
        )
    return value


def page_newest_first(
    queryset: QuerySet, *, limit: int, cursor: str | None
) -> tuple[Sequence[Any], str | None]:
    """One query: rows with id below the cursor, newest (highest id) first, plus one to detect a next page."""
    if cursor:
        queryset = queryset.filter(pk__lt=decode_cursor(cursor))
    rows = list(queryset.order_by("-pk")[: limit + 1])
    next_cursor = encode_cursor(rows[limit - 1].pk) if len(rows) > limit else None
    return rows[:limit], next_cursor
