"""The outbox: every contract event type is recorded in the transaction of its change, for the webhook of
the API key that made the request the event is about, with the object as the API shows it."""

import json
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from accounts.models import BotEvent, BotEventType
from accounts.services import api_key_create, bot_event_record
from billing import services as billing_services
from billing.models import Payment, Subscription
from generations import services as generation_services
from generations.models import Generation
from tests.billing.money_helpers import notification, webhook_post
from tests.generations.helpers import model_create
from tests.support.api import ApiClient
from tests.support.users import user_funded

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _rate_limits_off(settings):
    settings.RATE_LIMITS_ENABLED = False


HOOK = "https://bot.example.com/events"


@pytest.fixture
def hooked(api) -> ApiClient:
    assert api.put("/api/v1/webhook", {"url": HOOK}).status_code == 200
    return api


def only_event(event_type: str) -> BotEvent:
    events = list(BotEvent.objects.all())
    assert [event.type for event in events] == [event_type], events
    return events[0]


def api_json(data) -> dict:
    """What the API answered, for comparison with an event's stored data (both JSON-decoded)."""
    return json.loads(json.dumps(data))


def stars_body(user, charge_id: str = "charge-1") -> dict:
    return {"user": user.display_ref, "telegram_payment_charge_id": charge_id, "currency": "XTR",
            "total_amount": 50, "invoice_payload": "p"}  # fmt: skip


def test_telegram_stars_credit_is_a_payment_succeeded_event_once(hooked):
    user = user_funded("10.00")
    first = hooked.post("/api/v1/payments/telegram-stars", stars_body(user))
    replay = hooked.post("/api/v1/payments/telegram-stars", stars_body(user))
    assert (first.status_code, replay.status_code) == (201, 200)

    event = only_event("payment.succeeded")
    assert event.data == first.json()
    assert event.api_key.name == "test-bot"
    assert (event.status, event.attempts) == ("pending", 0)


def test_no_event_without_a_webhook_or_for_an_unwanted_type(api):
    user = user_funded("10.00")
    api.post("/api/v1/payments/telegram-stars", stars_body(user, "c1"))
    api.put("/api/v1/webhook", {"url": HOOK, "events": ["payment.canceled"]})
    api.post("/api/v1/payments/telegram-stars", stars_body(user, "c2"))
    assert not BotEvent.objects.exists()


def test_event_goes_to_the_key_that_made_the_request(hooked):
    _, other_raw = api_key_create(name="other-bot")
    other = ApiClient(other_raw)
    user = user_funded("10.00")
    other.post("/api/v1/payments/telegram-stars", stars_body(user, "by-other"))
    assert not BotEvent.objects.exists(), "the other key has no webhook"
    hooked.post("/api/v1/payments/telegram-stars", stars_body(user, "by-hooked"))
    assert only_event("payment.succeeded").api_key.name == "test-bot"


def yookassa_notify(client, provider_payment_id: str, event: str, value: str = "100.00"):
    status = event.removeprefix("payment.")
    body = {"type": "notification", "event": event,
            "object": {"id": provider_payment_id, "status": status, "amount": {"value": value, "currency": "RUB"}}}  # fmt: skip
    return client.client.post("/webhooks/yookassa/test-webhook-secret", json.dumps(body),
                              content_type="application/json")  # fmt: skip


@pytest.mark.parametrize("outcome", ["payment.succeeded", "payment.canceled"])
def test_yookassa_outcome_is_an_event_with_the_payment_as_get_shows_it(hooked, outcome):
    user = user_funded("10.00")
    created = hooked.post(f"/api/v1/users/{user.display_ref}/payments", {"amount": "100.00"},
                          idempotency_key="p1").json()  # fmt: skip
    assert not BotEvent.objects.exists()

    assert yookassa_notify(hooked, created["provider_payment_id"], outcome).status_code == 200
    assert yookassa_notify(hooked, created["provider_payment_id"], outcome).status_code == 200  # a replay

    event = only_event(outcome)
    assert event.data == hooked.get(f"/api/v1/payments/{created['id']}").json()
    assert event.data["status"] == outcome.removeprefix("payment.")


def test_a_mismatched_notification_records_nothing(hooked):
    user = user_funded("10.00")
    created = hooked.post(f"/api/v1/users/{user.display_ref}/payments", {"amount": "100.00"},
                          idempotency_key="p1").json()  # fmt: skip
    assert (
        yookassa_notify(hooked, created["provider_payment_id"], "payment.succeeded", "1.00").status_code
        == 409
    )
    assert not BotEvent.objects.exists()


def test_a_rolled_back_change_leaves_no_event(hooked, raw_api_key):
    user = user_funded("10.00")
    api_key_id = BotEvent._meta.get_field("api_key").related_model.objects.get().pk
    with pytest.raises(RuntimeError), transaction.atomic():
        billing_services.telegram_stars_credit(user=user, charge_id="rolled", total_amount=5, invoice_payload="",
                                               api_key_id=api_key_id)  # fmt: skip
        assert BotEvent.objects.count() == 1
        raise RuntimeError("the change fails after the event was recorded")
    assert not BotEvent.objects.exists()


def test_generation_timed_out_by_the_sweep_is_an_event(hooked):
    user, model = user_funded("20.00"), model_create(price="6.00")
    created = hooked.post("/api/v1/generations", {"user": user.display_ref, "model": model.code, "prompt": "p",
                          "parameters": {}}, idempotency_key="g1").json()  # fmt: skip
    # a job made outside the API has no key: timed out too, reported to nobody
    generation_services.generation_create(user=user, model_code=model.code, prompt="", parameters={})
    Generation.objects.update(created_at=timezone.now() - timedelta(days=1))

    assert generation_services.generations_time_out() == 2

    event = only_event("generation.timeout")
    assert event.data == api_json(hooked.get(f"/api/v1/generations/{created['id']}").json())
    assert event.data["status"] == "timeout"


def test_generation_timed_out_by_the_bot_is_an_event_too(hooked):
    user, model = user_funded("20.00"), model_create(price="6.00")
    created = hooked.post("/api/v1/generations", {"user": user.display_ref, "model": model.code, "prompt": "p",
                          "parameters": {}}, idempotency_key="g1").json()  # fmt: skip
    answer = hooked.post(f"/api/v1/generations/{created['id']}/status", {"status": "timeout"})
    again = hooked.post(f"/api/v1/generations/{created['id']}/status", {"status": "timeout"})
    assert (answer.status_code, again.status_code) == (200, 200)
    assert only_event("generation.timeout").data == answer.json()


def test_generation_failure_or_success_is_no_event(hooked):
    user, model = user_funded("20.00"), model_create(price="6.00")
    for number, final in enumerate(("failed", "succeeded")):
        created = hooked.post("/api/v1/generations", {"user": user.display_ref, "model": model.code,
                              "prompt": "p", "parameters": {}}, idempotency_key=f"g{number}").json()  # fmt: skip
        hooked.post(f"/api/v1/generations/{created['id']}/status", {"status": final})
    assert not BotEvent.objects.exists()


def test_subscription_renewed_and_expired_events(hooked):
    user = user_funded("980.00")
    hooked.post(f"/api/v1/users/{user.display_ref}/subscription", {"plan": "pro", "auto_renew": True})
    Subscription.objects.update(expires_at=timezone.now() + timedelta(minutes=30))

    assert billing_services.subscriptions_renew()["renewed"] == 1
    renewed = only_event("subscription.renewed")
    shown = hooked.get(f"/api/v1/users/{user.display_ref}/subscription").json()
    assert renewed.data == {"user": user.display_ref, **shown}

    BotEvent.objects.all().delete()
    Subscription.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    assert billing_services.subscriptions_renew()["expired"] == 1  # 0.00 left: cannot pay another period
    expired = only_event("subscription.expired")
    shown = hooked.get(f"/api/v1/users/{user.display_ref}/subscription").json()
    assert expired.data == {"user": user.display_ref, **shown, "expired_plan": "pro"}
    assert expired.data["plan"] == "free"


def test_refund_succeeded_is_recorded_when_the_bot_reports_a_stars_refund(hooked):
    user = user_funded("10.00")
    paid = hooked.post("/api/v1/payments/telegram-stars", stars_body(user, "to-refund")).json()
    BotEvent.objects.all().delete()
    refund = hooked.post(
        f"/api/v1/payments/{paid['id']}/refunds", {"reason": "r"}, idempotency_key="rf-1"
    ).json()
    assert not BotEvent.objects.exists(), "a pending refund is not an event"

    done = hooked.post(f"/api/v1/refunds/{refund['id']}/status", {"status": "succeeded"})
    again = hooked.post(f"/api/v1/refunds/{refund['id']}/status", {"status": "succeeded"})

    assert (done.status_code, again.status_code) == (200, 200)
    event = only_event("refund.succeeded")  # the no-op repeat records nothing
    assert event.data == api_json(hooked.get(f"/api/v1/refunds/{refund['id']}").json())
    assert event.data["status"] == "succeeded"


def test_refund_succeeded_is_recorded_when_yookassa_notifies_it(hooked):
    user = user_funded("0.00")
    created = hooked.post(
        f"/api/v1/users/{user.display_ref}/payments", {"amount": "40.00"}, idempotency_key="p1"
    )
    payment = Payment.objects.get(pk=created.json()["id"])
    assert webhook_post(notification(payment)).status_code == 200
    refund = hooked.post(f"/api/v1/payments/{payment.pk}/refunds", {}, idempotency_key="rf-2").json()
    BotEvent.objects.all().delete()

    refunded = webhook_post(
        {
            "type": "notification",
            "event": "refund.succeeded",
            "object": {
                "id": refund["provider_refund_id"],
                "payment_id": payment.provider_payment_id,
                "status": "succeeded",
                "amount": {"value": refund["amount"], "currency": refund["currency"]},
                "created_at": "2026-12-01T10:00:00.000Z",
            },
        }
    )

    assert refunded.json()["status"] == "refunded"
    event = only_event("refund.succeeded")
    assert event.data["id"] == refund["id"] and event.data["amount"] == "40.00"


def test_a_refund_that_rolls_back_records_no_event(hooked):
    user = user_funded("10.00")
    paid = hooked.post("/api/v1/payments/telegram-stars", stars_body(user, "rolled")).json()
    refund = hooked.post(f"/api/v1/payments/{paid['id']}/refunds", {}, idempotency_key="rf-3").json()
    BotEvent.objects.all().delete()

    with pytest.raises(RuntimeError), transaction.atomic():
        billing_services.refund_status_set(refund_id=refund["id"], status="succeeded")
        raise RuntimeError("the change rolls back")

    assert not BotEvent.objects.exists()


def test_an_unknown_event_type_is_a_programming_error(hooked):
    with pytest.raises(ValueError):
        bot_event_record(api_key_id=1, event_type="payment.refunded", data={})
    assert bot_event_record(api_key_id=None, event_type="payment.succeeded", data={}) is None


def test_every_contract_event_type_exists():
    assert set(BotEventType.values) == {"payment.succeeded", "payment.canceled", "refund.succeeded",
                                        "generation.timeout", "subscription.renewed", "subscription.expired"}  # fmt: skip
