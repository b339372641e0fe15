"""Admin of bot events and deliveries: pinned query counts, the permission-checked redeliver action,
and retention of finished events through ops' framework."""

import uuid
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from accounts.models import BotEvent, Operator, WebhookDelivery, WebhookEndpoint
from accounts.services import api_key_create
from accounts.webhooks import webhook_set
from ops.retention import retention_policy_get
from ops.services import retention_cleanup_run
from tests.support.admin import changelist_queries_pinned, client_logged_in

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def make_events(count: int, *, status: str = "pending", created_at=None, finished_at=None) -> list[BotEvent]:
    api_key, _ = api_key_create(name=f"bot-{uuid.uuid4().hex[:6]}")
    events = BotEvent.objects.bulk_create(
        [
            BotEvent(
                public_id=uuid.uuid4(),
                api_key=api_key,
                type="payment.succeeded",
                data={"n": n},
                created_at=created_at or NOW,
                status=status,
                next_attempt_at=NOW if status == "pending" else None,
                finished_at=finished_at,
                attempts=2,
                last_error="HTTP 500: " + "x" * 490,
            )  # fmt: skip
            for n in range(count)
        ]
    )
    WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                event=event,
                attempt=1,
                url="https://bot.example.com/",
                started_at=NOW,
                status_code=500,
                error="HTTP 500",
            )
            for event in events
        ]  # fmt: skip
    )
    return events


def make_endpoints(count: int) -> None:
    for _ in range(count):
        api_key, _ = api_key_create(name="bot")
        webhook_set(api_key=api_key, url="https://bot.example.com/hook", events=["payment.succeeded"])


# session + operator + capped COUNT for the paginator + page of rows (joined to its key / event)
CHANGELISTS = [
    ("/admin/accounts/botevent/", make_events, 4),
    ("/admin/accounts/botevent/?status__exact=pending&type__exact=payment.succeeded", make_events, 4),
    ("/admin/accounts/webhookdelivery/", make_events, 4),
    ("/admin/accounts/webhookendpoint/", make_endpoints, 4),
]


@pytest.mark.parametrize(("url", "make_rows", "queries"), CHANGELISTS)
def test_changelist_query_count_is_constant(admin_client, django_assert_num_queries, url, make_rows, queries):
    changelist_queries_pinned(admin_client, django_assert_num_queries, url, make_rows, queries)


def test_event_page_shows_status_attempts_and_the_error(admin_client):
    [event] = make_events(1)
    response = admin_client.get(f"/admin/accounts/botevent/{event.pk}/change/")
    assert response.status_code == 200
    content = response.content.decode()
    assert str(event.public_id) in content and "HTTP 500" in content
    assert admin_client.get(f"/admin/accounts/botevent/?q={event.public_id}").status_code == 200
    assert admin_client.get("/admin/accounts/botevent/?q=not-a-uuid").status_code == 200


def test_events_and_deliveries_are_read_only(admin_client):
    for model in ("botevent", "webhookdelivery", "webhookendpoint"):
        assert admin_client.get(f"/admin/accounts/{model}/add/").status_code == 403


def redeliver(client: Client, events: list[BotEvent]):
    return client.post(
        "/admin/accounts/botevent/",
        {"action": "redeliver", "_selected_action": [event.pk for event in events]},
    )


def test_redeliver_needs_its_permission(settings):
    settings.WEBHOOK_DELIVER_ON_COMMIT = False
    events = make_events(2, status="failed", finished_at=NOW)
    operator = Operator.objects.create_user(username="support", password="x", is_staff=True)
    operator.user_permissions.add(Permission.objects.get(codename="view_botevent"))
    client = client_logged_in(operator)

    page = client.get("/admin/accounts/botevent/")
    assert page.status_code == 200 and b'value="redeliver"' not in page.content
    redeliver(client, events)
    assert set(BotEvent.objects.values_list("status", flat=True)) == {"failed"}

    operator.user_permissions.add(Permission.objects.get(codename="redeliver_botevent"))
    operator = Operator.objects.get(pk=operator.pk)  # permissions are cached on the instance
    client.force_login(operator)
    assert b'value="redeliver"' in client.get("/admin/accounts/botevent/").content
    assert redeliver(client, events).status_code == 302
    assert (
        list(BotEvent.objects.values_list("status", "attempts", "finished_at")) == [("pending", 0, None)] * 2
    )


def test_redeliver_sends_now_with_a_fresh_schedule(
    admin_client, receiver, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_DELIVER_ON_COMMIT = True
    [event] = make_events(1, status="failed", finished_at=NOW)
    webhook_set(api_key=event.api_key, url=receiver.url, events=None)

    with django_capture_on_commit_callbacks(execute=True):
        redeliver(admin_client, [event])

    event.refresh_from_db()
    assert (event.status, event.attempts) == ("delivered", 1)
    assert len(receiver.requests) == 1


def test_retention_deletes_finished_events_past_the_cutoff_with_their_deliveries(settings):
    policy = retention_policy_get(name="webhook-events")
    assert (policy.days_setting, policy.days) == ("WEBHOOK_EVENT_RETENTION_DAYS", 30)
    old = NOW - timedelta(days=31)
    make_events(3, status="delivered", created_at=old, finished_at=old)
    make_events(2, status="failed", created_at=old, finished_at=old)
    kept_pending = make_events(1, status="pending", created_at=old)
    kept_recent = make_events(1, status="delivered", created_at=old, finished_at=NOW - timedelta(days=2))

    [run] = retention_cleanup_run(policies=(policy,))

    assert (run.rows_deleted, run.error) == (5, "")
    assert set(BotEvent.objects.values_list("pk", flat=True)) == {kept_pending[0].pk, kept_recent[0].pk}
    assert WebhookDelivery.objects.count() == 2
    assert WebhookEndpoint.objects.count() == 0
