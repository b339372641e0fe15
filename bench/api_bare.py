"""The bare Django app of bench/api_hot_path.py: settings, urls and the two views in one module.

No middleware, no installed apps, no authentication, no validation: the floor a Django process can
reach on the two calls bots make most, against the same database and tables as Botdesk.
  - GET /api/v1/users/<telegram id>/balance: one raw SELECT (the account by its owner's identity).
  - POST /api/v1/generations: one transaction, a conditional UPDATE of the account's `held` (reading the
    model's price) and an INSERT of the job.
Bench-only: served by `gunicorn bench.api_bare_wsgi:application`, never part of the application.
"""

import json
import os

from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

SECRET_KEY = "bench-bare-app"
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS: list[str] = []
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "bench.api_bare"
USE_TZ = True
# The same connection policy as Botdesk's settings (persistent, health-checked, the same timeouts), so
# the comparison is of the code on the request path, not of connection handling.
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ.get("BARE_DATABASE_NAME", "botdesk_bench_hot"),
        "USER": "botdesk",
        "PASSWORD": "botdesk",
        "HOST": "127.0.0.1",
        "PORT": "5432",
        "CONN_MAX_AGE": 300,
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": {
            "connect_timeout": 10,
            "options": "-c statement_timeout=30000 -c idle_in_transaction_session_timeout=60000",
        },
    }
}

BALANCE_SQL = """
SELECT a.balance, a.held FROM billing_account a JOIN accounts_end_user u ON u.id = a.owner_id
WHERE u.telegram_id = %s AND a.kind = 'user' AND a.currency = 'RUB'
"""
HOLD_SQL = """
UPDATE billing_account a SET held = a.held + m.price
FROM generations_model m, accounts_end_user u
WHERE m.code = %s AND m.is_active AND u.telegram_id = %s AND a.owner_id = u.id AND a.kind = 'user'
  AND a.currency = m.currency AND a.balance - a.held >= m.price
RETURNING a.owner_id, m.id, m.price, m.currency
"""
JOB_SQL = """
INSERT INTO generations_generation (user_id, model_id, status, prompt, parameters, cost, currency, is_free,
    task_id, result_url, error_code, error_message, created_at)
VALUES (%s, %s, 'pending', %s, %s::jsonb, %s, %s, false, '', '', '', '', now())
RETURNING id, created_at
"""


def balance(request: HttpRequest, user: str) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute(BALANCE_SQL, [int(user)])
        row = cursor.fetchone()
    if row is None:
        return JsonResponse({"error": {"code": "not_found"}}, status=404)
    amount, held = row
    return JsonResponse(
        {
            "currency": "RUB",
            "balance": f"{amount:.2f}",
            "held": f"{held:.2f}",
            "available": f"{amount - held:.2f}",
        }
    )


@csrf_exempt
def generation_create(request: HttpRequest) -> HttpResponse:
    body = json.loads(request.body)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(HOLD_SQL, [body["model"], int(body["user"])])
        row = cursor.fetchone()
        if row is None:
            return JsonResponse({"error": {"code": "insufficient_funds"}}, status=402)
        user_id, model_id, price, currency = row
        prompt = str(body.get("prompt", ""))[:1000]
        cursor.execute(
            JOB_SQL, [user_id, model_id, prompt, json.dumps(body.get("parameters") or {}), price, currency]
        )
        job_id, created_at = cursor.fetchone()
    answer = {
        "id": job_id,
        "status": "pending",
        "model": body["model"],
        "cost": f"{price:.2f}",
        "currency": currency,
        "is_free": False,
        "created_at": created_at.isoformat(),
    }
    return JsonResponse(answer, status=201)


urlpatterns = [
    path("api/v1/users/<str:user>/balance", balance),
    path("api/v1/generations", generation_create),
]
