"""Idempotency-Key handling for every POST that moves money (bot-api.md, Conventions; invariant 6).

The key's record, the money movement and the stored response commit in ONE transaction:
  1. INSERT the key ... ON CONFLICT DO NOTHING. A concurrent request with the same key blocks on the
     unique index until the first one commits, then finds its record: no two requests both act.
  2. Run the handler (no savepoint: two round trips fewer on every money POST that succeeds).
  3. Store the status and body; a repeat with the same body replays them, a different body is 409.
A refusal rolls the whole transaction back, the key's claim included, so nothing half-written survives.
A transient one (429, 503) stops there: a retry after Retry-After can go through. A decided one (402,
404, 409, 410, 422) is then stored by one INSERT of the key with its answer; if a twin with the same key
claimed it meanwhile, the twin's outcome is the key's, and this request answers it too (first stored
wins, so every answer under one key is the same).
"""

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Status
from ninja.responses import NinjaJSONEncoder

from billing.errors import BillingError
from billing.models import IdempotencyRecord
from config.errors import TRANSIENT_STATUSES, DomainError, error_body

MAX_KEY_LENGTH = 255
# One statement claims a fresh key; a row comes back only for the request that inserted it. A twin
# with the same key blocks on the unique index until the first commits, then gets nothing back.
CLAIM_SQL = """
INSERT INTO billing_idempotency_record (api_key_id, key, request_fingerprint, status_code, response_body, created_at)
VALUES (%s, %s, %s, NULL, '', now())
ON CONFLICT (api_key_id, key) DO NOTHING
RETURNING id
"""

STORE_SQL = "UPDATE billing_idempotency_record SET status_code = %s, response_body = %s WHERE id = %s"
# A decided refusal, after its transaction rolled back: waits for a twin holding the key, like the claim.
REFUSAL_STORE_SQL = """
INSERT INTO billing_idempotency_record (api_key_id, key, request_fingerprint, status_code, response_body, created_at)
VALUES (%s, %s, %s, %s, %s, now())
ON CONFLICT (api_key_id, key) DO NOTHING
RETURNING id
"""


def _fingerprint(request: HttpRequest) -> str:
    try:
        body: Any = json.loads(request.body or b"null")
    except ValueError:
        body = request.body.decode("utf-8", "replace")
    canonical = json.dumps([request.method, request.path, body], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotency_key_of(request: HttpRequest, *, required: bool) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None or not key.strip():
        if required:
            raise BillingError(
                "This request needs an Idempotency-Key header.",
                code="validation_error",
                details={"Idempotency-Key": "required"},
            )
        return None
    if len(key) > MAX_KEY_LENGTH:
        raise BillingError(
            "The Idempotency-Key is too long.",
            code="validation_error",
            details={"Idempotency-Key": f"at most {MAX_KEY_LENGTH} characters"},
        )
    return key


def _serialize(body: Any) -> str:
    # Decimals as strings, times as ISO 8601: exactly what ninja would have sent.
    return json.dumps(body, cls=NinjaJSONEncoder)


def _json_response(status: int, content: str) -> HttpResponse:
    return HttpResponse(content, status=status, content_type="application/json")


def idempotent_call(request: HttpRequest, *, required: bool, handler: Callable[[], Status]) -> HttpResponse:
    """Runs `handler` at most once per (API key, Idempotency-Key) and replays its decided outcome.

    The first answer and every replay are built from the same stored JSON, so they are identical.
    """
    key = idempotency_key_of(request, required=required)
    if key is None:
        outcome = handler()
        return _json_response(outcome.status_code, _serialize(outcome.value))
    api_key = request.auth
    fingerprint = _fingerprint(request)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(CLAIM_SQL, [api_key.pk, key, fingerprint])
            claimed = cursor.fetchone()
        if claimed is None:
            return _replay(api_key_id=api_key.pk, key=key, fingerprint=fingerprint)
        try:
            outcome = handler()
        except DomainError as exc:
            if exc.status in TRANSIENT_STATUSES:
                raise
            refusal = exc.status, _serialize(error_body(exc.code, exc.message, exc.details))
            # Undo everything the handler wrote, and the claim with it; the refusal is stored below.
            transaction.set_rollback(True)
        else:
            status, body = outcome.status_code, _serialize(outcome.value)
            with connection.cursor() as cursor:
                cursor.execute(STORE_SQL, [status, body, claimed[0]])
            return _json_response(status, body)
    status, body = refusal
    with connection.cursor() as cursor:
        cursor.execute(REFUSAL_STORE_SQL, [api_key.pk, key, fingerprint, status, body])
        stored = cursor.fetchone()
    if stored is None:
        # A twin claimed the key after the rollback and committed first: its outcome is the key's.
        return _replay(api_key_id=api_key.pk, key=key, fingerprint=fingerprint)
    return _json_response(status, body)


def _replay(*, api_key_id: int, key: str, fingerprint: str) -> HttpResponse:
    """The stored answer of a key used before; FOR UPDATE waits for a twin still in flight to commit."""
    with transaction.atomic(savepoint=False):
        record = (
            IdempotencyRecord.objects.select_for_update()
            .only("pk", "request_fingerprint", "status_code", "response_body")
            .get(api_key_id=api_key_id, key=key)
        )
    if record.request_fingerprint != fingerprint:
        raise BillingError(
            "This Idempotency-Key was used with a different request.",
            code="idempotency_key_reused",
            details={"Idempotency-Key": key[:MAX_KEY_LENGTH]},
        )
    return _json_response(record.status_code, record.response_body)


def idempotency_records_purge(*, batch_size: int = 5000) -> int:
    """Forgets keys older than IDEMPOTENCY_KEY_TTL_HOURS (the contract promises at least 24 hours)."""
    cutoff = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)
    removed = 0
    while True:
        ids = list(
            IdempotencyRecord.objects.filter(created_at__lt=cutoff).values_list("pk", flat=True)[:batch_size]
        )
        if not ids:
            return removed
        removed += IdempotencyRecord.objects.filter(pk__in=ids).delete()[0]
