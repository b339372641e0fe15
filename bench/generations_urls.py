"""The application's urls plus two bare views that do, in raw SQL, what POST /generations and
POST /generations/{id}/status do: the baseline of bench/generations_http.py. Bench-only."""

import hashlib
import json
from decimal import Decimal

from django.db import connection, transaction
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from config.urls import urlpatterns as app_urlpatterns

_revenue_accounts: dict[str, int] = {}


def _authenticated(request: HttpRequest) -> int | None:
    raw = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM accounts_api_key WHERE key_hash = %s AND revoked_at IS NULL",
            [hashlib.sha256(raw.encode()).hexdigest()],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def _error(status: int, code: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": code, "details": {}}}, status=status)


@csrf_exempt
def raw_generation_create(request: HttpRequest) -> JsonResponse:
    api_key_id = _authenticated(request)
    if api_key_id is None:
        return _error(401, "unauthorized")
    key = request.headers.get("Idempotency-Key")
    body = json.loads(request.body)
    fingerprint = hashlib.sha256(request.body).hexdigest()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO billing_idempotency_record (api_key_id, key, request_fingerprint, response_body, created_at) "
            "VALUES (%s, %s, %s, '', now()) ON CONFLICT DO NOTHING RETURNING id",
            [api_key_id, key, fingerprint],
        )
        record = cursor.fetchone()
        if record is None:
            return _error(409, "idempotency_key_reused")
        cursor.execute(
            "SELECT id, telegram_id FROM accounts_end_user WHERE telegram_id = %s", [int(body["user"])]
        )
        user_id, telegram_id = cursor.fetchone()
        cursor.execute(
            "SELECT id, price, currency, is_free FROM generations_model WHERE code = %s AND is_active",
            [body["model"]],
        )
        model_id, price, currency, is_free = cursor.fetchone()
        cursor.execute(
            "SELECT COALESCE((SELECT p.limits FROM billing_subscription s JOIN billing_plan p ON p.id = s.plan_id "
            "WHERE s.user_id = %s AND (s.expires_at IS NULL OR s.expires_at > now())), "
            "(SELECT limits FROM billing_plan WHERE code = 'free'))",
            [user_id],
        )
        limits = cursor.fetchone()[0]
        if isinstance(limits, str):
            limits = json.loads(limits)
        cursor.execute("SELECT pg_advisory_xact_lock(4004001, %s)", [user_id % 2**31])
        cursor.execute(
            "SELECT COUNT(*) FILTER (WHERE created_at > now() - interval '1 minute'), "
            "COUNT(*) FILTER (WHERE created_at > now() - interval '1 day'), "
            "COUNT(*) FILTER (WHERE status IN ('pending', 'processing')) "
            "FROM generations_generation WHERE user_id = %s "
            "AND (created_at > now() - interval '1 day' OR status IN ('pending', 'processing'))",
            [user_id],
        )
        per_minute, per_day, concurrent = cursor.fetchone()
        for used, name in ((per_minute, "per_minute"), (per_day, "per_day"), (concurrent, "concurrent")):
            if limits.get(name) is not None and used >= limits[name]:
                transaction.set_rollback(True)
                return _error(429, "rate_limited")
        cost = Decimal("0.00") if is_free else price
        prompt = str(body.get("prompt", ""))[:1000]
        cursor.execute(
            "INSERT INTO generations_generation (user_id, model_id, status, prompt, parameters, cost, currency, "
            "is_free, task_id, result_url, error_code, error_message, created_at) "
            "VALUES (%s, %s, 'pending', %s, %s, %s, %s, %s, '', '', '', '', now()) RETURNING id, created_at",
            [user_id, model_id, prompt, json.dumps(body.get("parameters") or {}), cost, currency, is_free],
        )
        generation_id, created_at = cursor.fetchone()
        if not is_free:
            cursor.execute(
                "WITH reserved AS (UPDATE billing_account SET held = held + %s WHERE kind = 'user' "
                "AND owner_id = %s AND currency = %s AND balance - held >= %s RETURNING id) "
                "INSERT INTO billing_hold (account_id, amount, status, reference, created_at, expires_at) "
                "SELECT id, %s, 'open', %s, now(), now() + interval '1020 seconds' FROM reserved RETURNING id",
                [cost, user_id, currency, cost, cost, f"generation:{generation_id}"],
            )
            hold = cursor.fetchone()
            if hold is None:
                transaction.set_rollback(True)
                return _error(402, "insufficient_funds")
            cursor.execute(
                "UPDATE generations_generation SET hold_id = %s WHERE id = %s", [hold[0], generation_id]
            )
        answer = {
            "id": generation_id,
            "user": str(telegram_id),
            "status": "pending",
            "model": body["model"],
            "cost": f"{cost:.2f}",
            "currency": currency,
            "is_free": is_free,
            "prompt": prompt,
            "created_at": created_at.isoformat(),
        }
        cursor.execute(
            "UPDATE billing_idempotency_record SET status_code = 201, response_body = %s WHERE id = %s",
            [json.dumps(answer), record[0]],
        )
    return JsonResponse(answer, status=201)


@csrf_exempt
def raw_generation_status(request: HttpRequest, generation_id: int) -> JsonResponse:
    if _authenticated(request) is None:
        return _error(401, "unauthorized")
    body = json.loads(request.body)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE generations_generation SET status = 'succeeded', completed_at = now(), result_url = %s, "
            "duration_ms = (EXTRACT(EPOCH FROM (now() - COALESCE(started_at, created_at))) * 1000)::integer "
            "WHERE id = %s AND status IN ('pending', 'processing') RETURNING hold_id, status, cost, currency",
            [body.get("result_url") or "", generation_id],
        )
        row = cursor.fetchone()
        if row is None:
            return _error(409, "conflict")
        hold_id, status, cost, currency = row
        if hold_id is not None:
            if currency not in _revenue_accounts:
                cursor.execute(
                    "SELECT id FROM billing_account WHERE kind = 'revenue' AND currency = %s", [currency]
                )
                _revenue_accounts[currency] = cursor.fetchone()[0]
            cursor.execute(
                "WITH captured AS (UPDATE billing_hold SET status = 'captured', resolved_at = now(), "
                "captured_amount = amount WHERE id = %s AND status = 'open' RETURNING account_id, amount, reference), "
                "charged AS (UPDATE billing_account a SET balance = a.balance - c.amount, held = a.held - c.amount "
                "FROM captured c WHERE a.id = c.account_id RETURNING a.id, a.balance, a.currency, c.amount, c.reference) "
                "INSERT INTO billing_ledger_entry (type, account_id, counter_account_id, currency, amount, "
                "balance_after, reference, description, created_at) "
                "SELECT 2, id, %s, currency, -amount, balance, reference, '', now() FROM charged RETURNING id",
                [hold_id, _revenue_accounts[currency]],
            )
    return JsonResponse({"id": generation_id, "status": status, "cost": f"{cost:.2f}", "currency": currency})


urlpatterns = [
    *app_urlpatterns,
    path("bench/raw/generations", raw_generation_create),
    path("bench/raw/generations/<int:generation_id>/status", raw_generation_status),
]
