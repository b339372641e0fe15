"""Delivery to a real HTTP server on a thread: signature, acknowledgement, retries, give-up, SSRF, leases."""

import json
import time
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import ApiKey, BotEvent, WebhookDelivery, WebhookEndpoint
from accounts.services import api_key_create, bot_event_record
from accounts.webhook_delivery import bot_event_deliver, bot_events_due_enqueue, retry_delay
from accounts.webhooks import webhook_set
from billing import services as billing_services
from tests.accounts.webhook_receiver import WebhookReceiver, signature_valid
from tests.support.users import user_funded

pytestmark = pytest.mark.django_db


@pytest.fixture
def bot(receiver):
    api_key, _ = api_key_create(name="hooked-bot")
    _, secret = webhook_set(api_key=api_key, url=receiver.url, events=None)
    return api_key, secret


def record(api_key: ApiKey, data: dict | None = None) -> BotEvent:
    return bot_event_record(api_key_id=api_key.pk, event_type="payment.succeeded", data=data or {"id": 1})


def make_due(event: BotEvent) -> None:
    """What the passing of time does: the next attempt is now due."""
    BotEvent.objects.filter(pk=event.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))


def test_delivery_is_a_signed_post_that_a_2xx_acknowledges(bot, receiver):
    api_key, secret = bot
    event = record(api_key, {"id": 42, "amount": "12.50", "note": "привет"})

    assert bot_event_deliver(event_id=event.pk) == "delivered"

    [request] = receiver.requests
    body = json.loads(request.body)
    assert body == {"id": str(event.public_id), "type": "payment.succeeded",
                    "created_at": body["created_at"], "data": {"id": 42, "amount": "12.50", "note": "привет"}}  # fmt: skip
    assert body["created_at"].endswith("Z")
    assert request.headers["Botdesk-Event-Id"] == str(event.public_id)
    assert request.headers["Content-Type"] == "application/json"
    assert request.path == "/botdesk-events"
    assert signature_valid(secret=secret, header=request.headers["Botdesk-Signature"], body=request.body)
    timestamp = int(request.headers["Botdesk-Signature"].split(",")[0].removeprefix("t="))
    assert abs(timestamp - time.time()) < 300
    assert not signature_valid(
        secret="whsec_other", header=request.headers["Botdesk-Signature"], body=request.body
    )

    event.refresh_from_db()
    assert (event.status, event.attempts, event.next_attempt_at, event.last_error) == (
        "delivered",
        1,
        None,
        "",
    )
    assert event.delivered_at is not None and event.finished_at is not None
    attempt = WebhookDelivery.objects.get()
    assert (attempt.attempt, attempt.status_code, attempt.ok) == (1, 200, True)

    # a duplicate task, or the sweep, finds nothing to do
    assert bot_event_deliver(event_id=event.pk) == "skipped"
    assert bot_events_due_enqueue() == 0
    assert len(receiver.requests) == 1


def test_a_500_is_retried_later_then_a_200_acknowledges(bot, receiver):
    receiver.statuses[:] = [500, 200]
    event = record(bot[0])
    before = timezone.now()

    assert bot_event_deliver(event_id=event.pk) == "retry"
    event.refresh_from_db()
    assert event.status == "pending" and event.attempts == 1
    assert event.next_attempt_at >= before + timedelta(seconds=10)
    assert event.last_error == "HTTP 500: receiver says no"
    assert bot_event_deliver(event_id=event.pk) == "skipped", "not due yet"

    make_due(event)
    assert bot_event_deliver(event_id=event.pk) == "delivered"
    event.refresh_from_db()
    assert (event.status, event.attempts) == ("delivered", 2)
    assert list(WebhookDelivery.objects.order_by("id").values_list("attempt", "status_code", "ok")) == [
        (1, 500, False),
        (2, 200, True),
    ]
    # both attempts carried the same event id and body, each with a valid signature
    assert receiver.requests[0].body == receiver.requests[1].body
    assert all(signature_valid(secret=bot[1], header=r.headers["Botdesk-Signature"], body=r.body)
               for r in receiver.requests)  # fmt: skip


def test_a_redirect_is_not_followed_and_not_an_acknowledgement(bot, receiver):
    receiver.statuses[:] = [302]
    event = record(bot[0])
    assert bot_event_deliver(event_id=event.pk) == "retry"
    assert len(receiver.requests) == 1


def test_a_receiver_that_is_down_is_retried(bot, receiver):
    event = record(bot[0])
    receiver.close()  # nothing listens on the port any more

    assert bot_event_deliver(event_id=event.pk) == "retry"
    event.refresh_from_db()
    assert "ConnectError" in event.last_error
    assert WebhookDelivery.objects.get().status_code is None


def test_a_receiver_slower_than_the_timeout_is_retried(bot, receiver, settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.5
    receiver.stall_seconds = 3
    event = record(bot[0])

    assert bot_event_deliver(event_id=event.pk) == "retry"
    event.refresh_from_db()
    assert event.last_error.startswith("timed out after 0.5 s")


def test_retries_grow_and_last_more_than_a_day_then_the_event_is_given_up(bot, receiver, settings):
    delays = settings.WEBHOOK_RETRY_DELAYS_SECONDS
    assert all(later >= earlier for earlier, later in zip(delays, delays[1:], strict=False))
    assert sum(delays) >= 24 * 3600
    assert retry_delay(attempt=len(delays) + 1) is None
    for attempt, delay in enumerate(delays, start=1):
        assert delay <= retry_delay(attempt=attempt) <= delay * 1.1

    settings.WEBHOOK_RETRY_DELAYS_SECONDS = [10, 20]
    receiver.statuses[:] = [503]
    event = record(bot[0])
    outcomes = []
    for _ in range(3):
        make_due(event)
        outcomes.append(bot_event_deliver(event_id=event.pk))
    assert outcomes == ["retry", "retry", "failed"]
    event.refresh_from_db()
    assert (event.status, event.attempts, event.next_attempt_at) == ("failed", 3, None)
    assert event.finished_at is not None
    assert bot_event_deliver(event_id=event.pk) == "skipped"


def test_long_errors_are_cut_to_500_characters(bot, receiver, monkeypatch):
    from accounts import webhook_delivery

    event = record(bot[0])
    monkeypatch.setattr(
        webhook_delivery, "_connect_target", lambda url: (_ for _ in ()).throw(ConnectionError("x" * 2000))
    )
    assert bot_event_deliver(event_id=event.pk) == "retry"
    event.refresh_from_db()
    assert len(event.last_error) == 500 and len(WebhookDelivery.objects.get().error) == 500


def test_delivery_refuses_a_name_that_resolves_to_a_private_address(bot, receiver, settings):
    """The PUT check cannot see where a name points: the delivery resolves and checks before connecting."""
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False
    WebhookEndpoint.objects.update(url=receiver.url.replace("127.0.0.1", "localhost"))
    event = record(bot[0])

    assert bot_event_deliver(event_id=event.pk) == "retry"
    assert receiver.requests == []
    event.refresh_from_db()
    assert "private, loopback or link-local" in event.last_error


def test_delivery_connects_to_the_checked_address_and_keeps_the_host_name(bot, receiver):
    WebhookEndpoint.objects.update(url=receiver.url.replace("127.0.0.1", "localhost"))
    event = record(bot[0])
    assert bot_event_deliver(event_id=event.pk) == "delivered"
    assert receiver.requests[0].headers["Host"] == f"localhost:{receiver.server.server_address[1]}"


def test_an_event_whose_webhook_was_removed_is_given_up(bot, receiver, api):
    event = record(bot[0])
    WebhookEndpoint.objects.all().delete()
    assert bot_event_deliver(event_id=event.pk) == "failed"
    assert receiver.requests == []
    event.refresh_from_db()
    assert "no webhook" in event.last_error


def test_the_current_url_and_secret_are_used_at_delivery_time(bot, receiver):
    event = record(bot[0])
    second = WebhookReceiver()
    try:
        _, new_secret = webhook_set(api_key=bot[0], url=second.url, events=None)
        assert bot_event_deliver(event_id=event.pk) == "delivered"
        assert receiver.requests == []
        [request] = second.requests
        assert signature_valid(
            secret=new_secret, header=request.headers["Botdesk-Signature"], body=request.body
        )
    finally:
        second.close()


def test_an_attempt_whose_worker_died_is_taken_again_after_its_lease(bot, receiver, settings):
    event = record(bot[0])
    # a worker claimed the event (attempt 1, lease running) and was killed before it finished
    BotEvent.objects.filter(pk=event.pk).update(
        attempts=1, next_attempt_at=timezone.now() + timedelta(seconds=60)
    )
    assert bot_event_deliver(event_id=event.pk) == "skipped", "the lease still runs"
    assert bot_events_due_enqueue() == 0

    make_due(event)  # the lease ended
    assert bot_events_due_enqueue() == 1  # the sweep queues it; eager in tests, so it is delivered now
    event.refresh_from_db()
    assert (event.status, event.attempts) == ("delivered", 2)
    assert len(receiver.requests) == 1


def test_the_sweep_task_delivers_every_due_event(bot, receiver):
    from accounts.tasks import bot_events_sweep

    events = [record(bot[0], {"n": n}) for n in range(3)]
    assert bot_events_sweep.delay().get() == 3
    assert sorted(json.loads(r.body)["data"]["n"] for r in receiver.requests) == [0, 1, 2]
    assert set(BotEvent.objects.filter(pk__in=[e.pk for e in events]).values_list("status", flat=True)) == {
        "delivered"
    }


def test_recorded_events_are_queued_when_the_change_commits(
    bot, receiver, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_DELIVER_ON_COMMIT = True
    user = user_funded("10.00")
    with django_capture_on_commit_callbacks(execute=True):
        payment, _ = billing_services.telegram_stars_credit(user=user, charge_id="c-1", total_amount=7,
                                                            invoice_payload="", api_key_id=bot[0].pk)  # fmt: skip
    [request] = receiver.requests
    assert json.loads(request.body)["data"]["id"] == payment.pk
    assert BotEvent.objects.get().status == "delivered"


def test_a_broker_outage_loses_no_event(
    bot, receiver, settings, monkeypatch, django_capture_on_commit_callbacks
):
    from accounts import tasks

    settings.WEBHOOK_DELIVER_ON_COMMIT = True

    def broker_down(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(tasks.bot_event_deliver, "apply_async", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        event = record(bot[0])
    assert receiver.requests == [] and BotEvent.objects.get().status == "pending"
    monkeypatch.undo()
    assert bot_events_due_enqueue() == 1
    assert BotEvent.objects.get(pk=event.pk).status == "delivered"


@pytest.mark.django_db(transaction=True)
def test_at_least_once_and_none_for_a_rolled_back_change_end_to_end(settings):
    """Real commits: the on_commit queueing runs (eager Celery), a rolled-back credit sends nothing."""
    from django.db import transaction

    settings.WEBHOOK_DELIVER_ON_COMMIT = True
    server = WebhookReceiver(statuses=[500, 200])
    try:
        api_key, _ = api_key_create(name="e2e")
        _, secret = webhook_set(api_key=api_key, url=server.url, events=None)
        user = user_funded("10.00")
        billing_services.telegram_stars_credit(user=user, charge_id="kept", total_amount=3, invoice_payload="",
                                               api_key_id=api_key.pk)  # fmt: skip
        with pytest.raises(RuntimeError), transaction.atomic():
            billing_services.telegram_stars_credit(user=user, charge_id="undone", total_amount=4,
                                                   invoice_payload="", api_key_id=api_key.pk)  # fmt: skip
            raise RuntimeError("rolled back")
        kept = BotEvent.objects.get()
        assert kept.status == "pending" and kept.attempts == 1  # the 500
        make_due(kept)
        bot_events_due_enqueue()
        kept.refresh_from_db()
        assert kept.status == "delivered"
        ids = {json.loads(r.body)["id"] for r in server.requests}
        assert ids == {str(kept.public_id)}
        assert all(signature_valid(secret=secret, header=r.headers["Botdesk-Signature"], body=r.body)
                   for r in server.requests)  # fmt: skip
        charges = {json.loads(r.body)["data"]["provider_payment_id"] for r in server.requests}
        assert charges == {"kept"}
    finally:
        server.close()


def test_event_ids_are_unique_uuids(bot):
    events = [record(bot[0]) for _ in range(3)]
    assert len({event.public_id for event in events}) == 3
    assert all(isinstance(event.public_id, uuid.UUID) for event in events)
