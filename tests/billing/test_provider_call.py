"""The YooKassa call runs outside any transaction; a crash between the steps never makes a second payment.

The steps (billing.idempotency.idempotent_provider_call): 1. the key and the payment intent commit;
2. YooKassa is asked with the Idempotence-Key; 3. its answer and the response commit.
"""

import os
import signal
import subprocess
import sys
import textwrap
import threading

import pytest
from django.conf import settings
from django.db import connection

from billing import services
from billing.models import IdempotencyRecord, Payment, Refund
from tests.billing.money_helpers import notification, webhook_post
from tests.support.api import ApiClient
from tests.support.ledger import assert_ledger_clean
from tests.support.users import user_create

pytestmark = pytest.mark.django_db(transaction=True)


class ProcessDied(BaseException):
    """Stands for the process dying: not an Exception, so no handler on the way catches it."""


def pay(api: ApiClient, user, key: str = "k1", amount: str = "100.00"):
    return api.post(f"/api/v1/users/{user.display_ref}/payments", {"amount": amount}, idempotency_key=key)


def test_yookassa_is_called_with_no_transaction_open_and_the_intent_committed(raw_api_key, yookassa_live):
    user = user_create()
    seen = {}
    original = yookassa_live.handle

    def handle(request):
        # Another connection (another thread) sees the intent: it was committed before the call.
        def look() -> None:
            seen["intent"] = list(Payment.objects.values_list("provider_payment_id", "status"))
            seen["record"] = list(IdempotencyRecord.objects.values_list("status_code", flat=True))
            connection.close()

        thread = threading.Thread(target=look)
        thread.start()
        thread.join()
        seen["in_transaction"] = connection.in_atomic_block
        return original(request)

    yookassa_live.handle = handle

    response = pay(ApiClient(raw_api_key), user)

    assert response.status_code == 201
    assert seen == {"intent": [(None, "pending")], "record": [None], "in_transaction": False}
    assert Payment.objects.get().provider_payment_id == "live-pay-1"


def test_a_crash_before_yookassa_answered_is_completed_by_a_retry_with_the_same_key(
    raw_api_key, yookassa_live
):
    # given the process dies while it waits for YooKassa
    user = user_create()
    api = ApiClient(raw_api_key)
    original = yookassa_live.handle
    calls = []

    def dying(request):
        calls.append(request.headers["Idempotence-Key"])
        if len(calls) == 1:
            raise ProcessDied
        return original(request)

    yookassa_live.handle = dying
    with pytest.raises(ProcessDied):
        pay(api, user)

    # then the intent and the key are committed, unanswered
    intent = Payment.objects.get()
    assert (intent.provider_payment_id, intent.status) == (None, "pending")
    assert IdempotencyRecord.objects.get().status_code is None

    # when the bot retries with the same key
    retry = pay(api, user)
    replay = pay(api, user)

    # then the same intent is completed with one YooKassa payment, asked with the same Idempotence-Key
    assert retry.status_code == 201 and replay.content == retry.content
    assert retry.json()["id"] == intent.pk
    assert calls[0] == calls[1] == intent.provider_idempotence_key
    assert len(yookassa_live.payments) == 1
    assert Payment.objects.count() == 1


def test_a_crash_after_yookassa_answered_makes_no_second_provider_payment(
    raw_api_key, yookassa_live, monkeypatch
):
    # given the process dies after YooKassa created the payment, before its answer was stored
    user = user_create()
    api = ApiClient(raw_api_key)
    original = services.payment_provider_answer
    monkeypatch.setattr(
        services, "payment_provider_answer", lambda **kwargs: (_ for _ in ()).throw(ProcessDied)
    )
    with pytest.raises(ProcessDied):
        pay(api, user)
    assert len(yookassa_live.payments) == 1
    assert Payment.objects.get().provider_payment_id is None

    # when it is retried after a restart
    monkeypatch.setattr(services, "payment_provider_answer", original)
    retry = pay(api, user)

    # then YooKassa was asked twice with one key and holds one payment; Botdesk has that one
    assert retry.status_code == 201
    keys = [key for _, _, _, key in yookassa_live.posts("/payments")]
    assert len(keys) == 2 and len(set(keys)) == 1
    assert len(yookassa_live.payments) == 1
    assert Payment.objects.get().provider_payment_id == "live-pay-1"
    # and the webhook credits it
    payment = Payment.objects.get()
    for state in yookassa_live.payments.values():
        state["status"] = "succeeded"
    assert webhook_post(notification(payment)).json()["status"] == "credited"
    assert_ledger_clean()


def test_a_payment_whose_answer_was_never_stored_is_found_by_its_metadata(
    raw_api_key, yookassa_live, monkeypatch
):
    # given a request that died after YooKassa created the payment and was never retried
    user = user_create()
    monkeypatch.setattr(
        services, "payment_provider_answer", lambda **kwargs: (_ for _ in ()).throw(ProcessDied)
    )
    with pytest.raises(ProcessDied):
        pay(ApiClient(raw_api_key), user)
    intent = Payment.objects.get()
    (request,) = yookassa_live.posts("/payments")
    assert request[2]["metadata"] == {"user_id": str(user.pk), "payment_id": str(intent.pk)}

    # when the buyer pays it all the same and YooKassa notifies with the metadata it was given
    for state in yookassa_live.payments.values():
        state["status"] = "succeeded"
    body = {
        "type": "notification",
        "event": "payment.succeeded",
        "object": {
            "id": "live-pay-1",
            "status": "succeeded",
            "amount": {"value": "100.00", "currency": "RUB"},
            "metadata": request[2]["metadata"],
        },
    }
    response = webhook_post(body)

    # then the intent takes YooKassa's id and is credited once
    assert response.json()["status"] == "credited"
    intent.refresh_from_db()
    assert (intent.provider_payment_id, intent.status) == ("live-pay-1", "succeeded")
    assert webhook_post(body).json()["status"] == "duplicate"
    assert_ledger_clean()


def test_yookassa_down_is_503_not_remembered_and_the_retry_completes_the_same_intent(
    raw_api_key, yookassa_live
):
    user = user_create()
    api = ApiClient(raw_api_key)
    yookassa_live.refuse_next = 503

    down = pay(api, user)
    retry = pay(api, user)

    assert down.status_code == 503 and down.json()["error"]["code"] == "service_unavailable"
    assert retry.status_code == 201
    assert Payment.objects.count() == 1 and len(yookassa_live.payments) == 1


def test_a_refund_crashing_before_yookassa_answered_is_completed_by_the_retry(raw_api_key, yookassa_live):
    user = user_create()
    api = ApiClient(raw_api_key)
    payment = Payment.objects.get(pk=pay(api, user).json()["id"])
    for state in yookassa_live.payments.values():
        state["status"] = "succeeded"
    webhook_post(notification(payment))
    original = yookassa_live.handle

    def dying(request):
        if request.url.path.endswith("/refunds") and not yookassa_live.refunds:
            yookassa_live.refunds["died"] = {}
            raise ProcessDied
        return original(request)

    yookassa_live.handle = dying
    with pytest.raises(ProcessDied):
        api.post(f"/api/v1/payments/{payment.pk}/refunds", {"amount": "30.00"}, idempotency_key="r")
    assert Refund.objects.get().status == "pending"

    retry = api.post(f"/api/v1/payments/{payment.pk}/refunds", {"amount": "30.00"}, idempotency_key="r")

    assert (retry.status_code, retry.json()["status"]) == (201, "succeeded")
    assert Refund.objects.count() == 1
    assert len([key for key in yookassa_live.refunds if key != "died"]) == 1
    assert_ledger_clean()


KILLED_CHILD = textwrap.dedent(
    """
    import os, signal, sys
    import django
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    from django.conf import settings
    settings.DATABASES["default"]["NAME"] = sys.argv[1]
    django.setup()
    from django.test import Client
    from billing.providers import yookassa

    class Killed(yookassa.FakeYooKassaClient):
        def payment_create(self, **kwargs):
            with open(sys.argv[3], "a") as log:
                log.write(kwargs["idempotence_key"] + "\\n")
            os.kill(os.getpid(), signal.SIGKILL)  # dies here, between the committed intent and the answer

    import billing.services.payments as payments
    payments.yookassa_client = Killed
    Client().post(
        f"/api/v1/users/{sys.argv[4]}/payments", data='{"amount": "100.00"}', content_type="application/json",
        headers={"Authorization": f"Bearer {sys.argv[2]}", "Idempotency-Key": "killed-1"},
    )
    """
)


def test_a_process_killed_between_the_steps_leaves_a_payment_the_retry_completes(raw_api_key, tmp_path):
    # given a web process SIGKILLed while it waits for YooKassa
    user = user_create()
    keys_log = tmp_path / "keys"
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            KILLED_CHILD,
            connection.settings_dict["NAME"],
            raw_api_key,
            str(keys_log),
            user.display_ref,
        ],
        cwd=settings.BASE_DIR,
        env={**os.environ, "PYTHONPATH": str(settings.BASE_DIR)},
        capture_output=True,
        timeout=120,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()[-2000:]
    intent = Payment.objects.get()
    assert (intent.provider_payment_id, intent.status) == (None, "pending")

    # when the bot retries with the same key on a live process
    retry = ApiClient(raw_api_key).post(
        f"/api/v1/users/{user.display_ref}/payments", {"amount": "100.00"}, idempotency_key="killed-1"
    )

    # then that intent is completed, under the Idempotence-Key the killed process had sent
    assert retry.status_code == 201, retry.content
    assert retry.json()["id"] == intent.pk
    intent.refresh_from_db()
    assert keys_log.read_text().split() == [intent.provider_idempotence_key]
    assert Payment.objects.count() == 1
