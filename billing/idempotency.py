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
A request that calls a provider (YooKassa) runs in three steps instead, so that no transaction stays
open during the call: `idempotent_provider_call`.
"""

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
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
from core.errors import TRANSIENT_STATUSES, DomainError, error_body

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
            if exc.status in TRANSIENT_STATUSES or exc.transient:
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
    """The stored answer of a key used before."""
    with transaction.atomic(savepoint=False):
        record = _record_locked(api_key_id=api_key_id, key=key, fingerprint=fingerprint)
    return _json_response(record.status_code, record.response_body)


def _record_locked(*, api_key_id: int, key: str, fingerprint: str) -> IdempotencyRecord:
    """The record of a key used before; FOR UPDATE waits for a twin still in flight to commit.

    A different request under the same key is a conflict.
    """
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
    return record


def _decided(handler: Callable[[], Status]) -> tuple[int, str]:
    """Runs `handler` in a savepoint: its answer, or a decided refusal as the answer to store.

    A refusal rolls the savepoint back (nothing half-written); a transient one (429, 503) propagates.
    """
    try:
        with transaction.atomic():
            outcome = handler()
        return outcome.status_code, _serialize(outcome.value)
    except DomainError as exc:
        if exc.status in TRANSIENT_STATUSES or exc.transient:
            raise
        return exc.status, _serialize(error_body(exc.code, exc.message, exc.details))


def _claim(request: HttpRequest, key: str) -> tuple[int | None, IdempotencyRecord | None]:
    """(the new record's id, None) for a fresh key, or (None, the earlier record, locked).

    Runs inside the caller's transaction. A different request under a used key is a conflict.
    """
    api_key = request.auth
    fingerprint = _fingerprint(request)
    with connection.cursor() as cursor:
        cursor.execute(CLAIM_SQL, [api_key.pk, key, fingerprint])
        claimed = cursor.fetchone()
    if claimed is not None:
        return claimed[0], None
    return None, _record_locked(api_key_id=api_key.pk, key=key, fingerprint=fingerprint)


@dataclass(frozen=True)
class ProviderSteps:
    """A request whose provider call must run outside any transaction (bot-api.md, Idempotency).

    `begin` runs in the transaction that claims the key and commits the intent (or raises a decided
    refusal, stored like any other); it may also answer at once with a Status when no provider call
    is needed. `resume` finds the intent an earlier attempt with the same key committed. `ask` calls
    the provider with no transaction open and the same Idempotence-Key every attempt, so a retry never
    makes a second provider payment. `finish` stores the provider's answer and builds the response;
    `refused` closes the intent when the provider refuses it (a decided 4xx).
    """

    begin: Callable[[], Any]
    resume: Callable[[], Any]
    ask: Callable[[Any], Any]
    finish: Callable[[Any, Any], Status]
    refused: Callable[[Any, DomainError], None]


def _store(record_id: int, status: int, body: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(STORE_SQL, [status, body, record_id])


def _stored(record_id: int) -> IdempotencyRecord | None:
    """The record locked; None while no answer is stored yet."""
    record = (
        IdempotencyRecord.objects.select_for_update()
        .only("pk", "status_code", "response_body")
        .get(pk=record_id)
    )
    return record if record.status_code is not None else None


def idempotent_provider_call(request: HttpRequest, *, steps: ProviderSteps) -> HttpResponse:
    """Like `idempotent_call`, in three steps so that no transaction stays open during the provider call.

    1. One transaction: claim the key, record the intent (`begin`), commit.
    2. No transaction: ask the provider (`ask`), with the Idempotence-Key derived from the request's.
    3. One transaction: store the answer (`finish`) and the response under the key.
    A crash or a transient failure between the steps leaves the key claimed with no answer and the intent
    committed; a retry with the same key finds both (`resume`) and carries on from step 2. Twins that run
    step 2 at once send the provider the same Idempotence-Key; the first to store its answer wins and the
    other replays it.
    """
    key = idempotency_key_of(request, required=True)
    with transaction.atomic():
        claimed, record = _claim(request, key)
        if record is not None:
            if record.status_code is not None:
                return _json_response(record.status_code, record.response_body)
            record_id = record.pk
            intent = steps.resume()
        else:
            record_id = claimed
            try:
                with transaction.atomic():
                    intent = steps.begin()
            except DomainError as exc:
                if exc.status in TRANSIENT_STATUSES or exc.transient:
                    raise
                body = _serialize(error_body(exc.code, exc.message, exc.details))
                _store(record_id, exc.status, body)
                return _json_response(exc.status, body)
            if isinstance(intent, Status):
                body = _serialize(intent.value)
                _store(record_id, intent.status_code, body)
                return _json_response(intent.status_code, body)
    try:
        answer = steps.ask(intent)
    except DomainError as refusal:
        if refusal.status in TRANSIENT_STATUSES or refusal.transient:
            raise  # the key stays claimed and unanswered: a retry resumes at the provider call
        with transaction.atomic():
            if (record := _stored(record_id)) is not None:
                return _json_response(record.status_code, record.response_body)
            steps.refused(intent, refusal)
            body = _serialize(error_body(refusal.code, refusal.message, refusal.details))
            _store(record_id, refusal.status, body)
        return _json_response(refusal.status, body)
    with transaction.atomic():
        if (record := _stored(record_id)) is not None:
            return _json_response(record.status_code, record.response_body)
        status, body = _decided(lambda: steps.finish(intent, answer))
        _store(record_id, status, body)
    return _json_response(status, body)


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
