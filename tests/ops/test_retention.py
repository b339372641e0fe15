"""Retention: exactly the expired rows go, in batches, and every run is recorded."""

import uuid
from datetime import timedelta

import pytest
from django.apps import apps
from django.contrib.sessions.models import Session
from django.core.management import CommandError, call_command
from django.utils import timezone

from ops import services
from ops.models import DebugLog, RetentionRun
from ops.retention import RETENTION_POLICIES, RetentionPolicy, retention_policy_get

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def make_logs(*ages_in_days: float) -> list[DebugLog]:
    return DebugLog.objects.bulk_create(
        [
            DebugLog(level=30, source="tests", message=f"age {age}", created_at=NOW - timedelta(days=age))
            for age in ages_in_days
        ]
    )


def test_retention_deletes_exactly_the_expired_rows_in_batches(settings):
    settings.LOG_RETENTION_DAYS = 30
    expired = make_logs(30.001, 31, 45, 60, 90, 365, 400)
    kept = make_logs(0, 1, 29.999, 30)  # exactly at the cutoff is not older than it

    (run,) = services.retention_cleanup_run(
        policies=(retention_policy_get(name="debug-logs"),), now=NOW, batch_size=2
    )

    assert set(DebugLog.objects.values_list("pk", flat=True)) == {log.pk for log in kept}
    assert run.rows_deleted == len(expired) == 7
    assert run.batches == 4  # 2 + 2 + 2 + 1
    assert run.complete is True
    assert run.error == ""
    assert run.table == "ops_debug_log"
    assert run.cutoff == NOW - timedelta(days=30)
    assert run.finished_at is not None and run.duration_ms is not None


def test_retention_days_come_from_the_setting_at_run_time(settings):
    make_logs(0.5, 2, 3)
    settings.LOG_RETENTION_DAYS = 1

    (run,) = services.retention_cleanup_run(policies=(retention_policy_get(name="debug-logs"),), now=NOW)

    assert run.rows_deleted == 2
    assert DebugLog.objects.count() == 1


def test_a_run_stops_at_its_time_budget_and_the_next_run_continues():
    make_logs(*([40] * 5))
    policy = retention_policy_get(name="debug-logs")

    (first,) = services.retention_cleanup_run(policies=(policy,), now=NOW, batch_size=2, max_seconds=0)
    assert (first.rows_deleted, first.complete) == (2, False)

    (second,) = services.retention_cleanup_run(policies=(policy,), now=NOW, batch_size=2)
    assert (second.rows_deleted, second.complete) == (3, True)
    assert DebugLog.objects.count() == 0


def test_a_failing_policy_is_recorded_and_the_others_still_run():
    make_logs(40)
    broken = RetentionPolicy("broken", "nowhere.Model", "created_at", "LOG_RETENTION_DAYS")

    runs = services.retention_cleanup_run(policies=(broken, retention_policy_get(name="debug-logs")), now=NOW)

    assert "nowhere.Model" in runs[0].error
    assert runs[0].complete is False
    assert runs[1].rows_deleted == 1
    assert RetentionRun.objects.filter(policy="broken").exists()


def test_expired_sessions_are_removed():
    Session.objects.create(session_key="old", session_data="x", expire_date=NOW - timedelta(minutes=1))
    Session.objects.create(session_key="live", session_data="x", expire_date=NOW + timedelta(days=1))

    services.retention_cleanup_run(policies=(retention_policy_get(name="expired-sessions"),), now=NOW)

    assert list(Session.objects.values_list("session_key", flat=True)) == ["live"]


def test_every_declared_policy_resolves_to_an_installed_model():
    for policy in RETENTION_POLICIES:
        assert policy.model()._meta.label == policy.model_label


def test_cleanup_retention_command_does_the_same_work(capsys):
    make_logs(40, 41, 1)

    call_command("cleanup_retention", "--policy", "debug-logs")

    assert DebugLog.objects.count() == 1
    assert "debug-logs" in capsys.readouterr().out
    assert RetentionRun.objects.get(policy="debug-logs").rows_deleted == 2


def test_cleanup_retention_command_runs_every_policy(settings):
    settings.PROMPT_RETENTION_DAYS = 90  # the one policy that is off by default
    call_command("cleanup_retention")
    assert set(RetentionRun.objects.values_list("policy", flat=True)) == {p.name for p in RETENTION_POLICIES}


def test_cleanup_retention_command_refuses_an_unknown_policy():
    with pytest.raises(CommandError, match="No retention policy"):
        call_command("cleanup_retention", "--policy", "everything")


def test_provider_logs_of_generations_expire_with_the_log_retention(settings):
    settings.LOG_RETENTION_DAYS = 30
    provider_log = apps.get_model("generations.ProviderLog")
    old, recent = provider_log.objects.create(model_code="m"), provider_log.objects.create(model_code="m")
    provider_log.objects.filter(pk=old.pk).update(created_at=NOW - timedelta(days=31))

    (run,) = services.retention_cleanup_run(policies=(retention_policy_get(name="provider-logs"),), now=NOW)

    assert run.rows_deleted == 1
    assert list(provider_log.objects.values_list("pk", flat=True)) == [recent.pk]


def make_provider_event(*, received_days_ago: float, processed_days_ago: float | None, outcome: str):
    provider_event = apps.get_model("billing.ProviderEvent")
    event = provider_event.objects.create(provider="yookassa", body="{}")
    provider_event.objects.filter(pk=event.pk).update(
        received_at=NOW - timedelta(days=received_days_ago),
        processed_at=None if processed_days_ago is None else NOW - timedelta(days=processed_days_ago),
        outcome=outcome,
    )
    return event


def test_only_provider_events_processed_before_the_cutoff_expire(settings):
    # Given notifications of every age, processed or not (the inbox is an audit trail)
    settings.PROVIDER_EVENT_RETENTION_DAYS = 365
    expired = [
        make_provider_event(received_days_ago=400, processed_days_ago=400, outcome="credited"),
        make_provider_event(received_days_ago=366, processed_days_ago=365.5, outcome="mismatch"),
        make_provider_event(received_days_ago=365.01, processed_days_ago=365.001, outcome="duplicate"),
    ]
    kept = [
        # never processed: kept whatever its age, someone has to look at it
        make_provider_event(received_days_ago=800, processed_days_ago=None, outcome="received"),
        # received long ago but processed only recently: kept for the full period after processing
        make_provider_event(received_days_ago=400, processed_days_ago=10, outcome="credited"),
        # processed exactly at the cutoff is not older than it
        make_provider_event(received_days_ago=365, processed_days_ago=365, outcome="credited"),
        make_provider_event(received_days_ago=1, processed_days_ago=1, outcome="credited"),
    ]

    # When the policy runs in small batches
    (run,) = services.retention_cleanup_run(
        policies=(retention_policy_get(name="provider-events"),), now=NOW, batch_size=2
    )

    # Then exactly the expired processed rows are gone
    provider_event = apps.get_model("billing.ProviderEvent")
    assert set(provider_event.objects.values_list("pk", flat=True)) == {event.pk for event in kept}
    assert (run.rows_deleted, run.batches, run.complete, run.error) == (len(expired), 2, True, "")
    assert run.table == "billing_provider_event"
    assert run.cutoff == NOW - timedelta(days=365)


def test_provider_events_are_kept_a_year_unless_configured(settings):
    policy = retention_policy_get(name="provider-events")
    assert policy.days == 365
    settings.PROVIDER_EVENT_RETENTION_DAYS = 730
    assert policy.days == 730


def test_the_policy_list_names_the_extra_cutoff_fields(capsys):
    call_command("cleanup_retention", "--list")
    out = capsys.readouterr().out
    assert "provider-events: billing.ProviderEvent.received_at and processed_at older than" in out


def test_a_typo_in_an_extra_cutoff_field_fails_before_any_delete():
    make_logs(40)
    typo = RetentionPolicy(
        "typo", "ops.DebugLog", "created_at", "LOG_RETENTION_DAYS", also_past_cutoff=("created_att",)
    )

    (run,) = services.retention_cleanup_run(policies=(typo,), now=NOW)

    assert "created_att" in run.error
    assert DebugLog.objects.count() == 1


def test_a_soft_time_limit_is_recorded_and_stops_the_task(monkeypatch):
    from celery.exceptions import SoftTimeLimitExceeded
    from django.db.models.query import QuerySet

    make_logs(40)

    def interrupted(self):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(QuerySet, "delete", interrupted)
    with pytest.raises(SoftTimeLimitExceeded):
        services.retention_cleanup_run(policies=(retention_policy_get(name="debug-logs"),), now=NOW)

    run = RetentionRun.objects.get(policy="debug-logs")
    assert run.error == "stopped by the task's soft time limit"
    assert run.finished_at is not None


def make_hold(*, status: str, created_days_ago: float, resolved_days_ago: float | None, reference: str = ""):
    """A hold in any state and age, written as a row (the money itself is not what this policy is about)."""
    from tests.support.ledger import account_of
    from tests.support.users import user_create

    hold_model = apps.get_model("billing.Hold")
    hold = hold_model.objects.create(
        account=account_of(user_create()),
        amount=1,
        captured_amount=1 if status == "captured" else None,
        status=status,
        reference=reference or f"job:{uuid.uuid4().hex}",
        expires_at=NOW + timedelta(days=1),
        resolved_at=None if status == "open" else NOW,
    )
    hold_model.objects.filter(pk=hold.pk).update(
        created_at=NOW - timedelta(days=created_days_ago),
        resolved_at=None if resolved_days_ago is None else NOW - timedelta(days=resolved_days_ago),
    )
    return hold


def test_only_holds_resolved_before_the_cutoff_go_never_an_open_one_nor_a_payment_refunds(settings):
    # Given holds of every state and age
    settings.HOLD_RETENTION_DAYS = 30
    for status, created, resolved in (("captured", 40, 40), ("released", 35, 34), ("expired", 31, 30.001)):
        make_hold(status=status, created_days_ago=created, resolved_days_ago=resolved)
    kept = [
        make_hold(status="open", created_days_ago=400, resolved_days_ago=None),
        # open with a stray resolved_at (no constraint forbids it): its status keeps it
        make_hold(status="open", created_days_ago=400, resolved_days_ago=300),
        # created long ago, resolved only recently: kept for the full period after resolving
        make_hold(status="captured", created_days_ago=40, resolved_days_ago=29),
        make_hold(status="captured", created_days_ago=30, resolved_days_ago=30),  # at the cutoff: not older
        make_hold(status="released", created_days_ago=1, resolved_days_ago=1),
    ]
    # a payment refund's hold is kept whatever its age (the refund may still need it)
    refund_hold = make_hold(status="expired", created_days_ago=90, resolved_days_ago=83, reference="refund:1")
    refund_model = apps.get_model("billing.Refund")
    payment = apps.get_model("billing.Payment").objects.create(
        user=refund_hold.account.owner, provider="yookassa", status="succeeded", amount=1, currency="RUB",
        resolved_at=NOW, refunded_amount=1,
    )  # fmt: skip
    refund_model.objects.create(
        payment=payment, provider="yookassa", amount=1, currency="RUB", hold=refund_hold,
        status="pending",
    )  # fmt: skip
    kept.append(refund_hold)

    # When the policy runs in small batches
    (run,) = services.retention_cleanup_run(
        policies=(retention_policy_get(name="resolved-holds"),), now=NOW, batch_size=2
    )

    # Then exactly the holds resolved before the cutoff are gone
    hold_model = apps.get_model("billing.Hold")
    assert set(hold_model.objects.values_list("pk", flat=True)) == {hold.pk for hold in kept}
    assert (run.rows_deleted, run.batches, run.complete, run.error) == (3, 2, True, "")
    assert run.table == "billing_hold"
    assert run.cutoff == NOW - timedelta(days=30)


def test_hold_batches_walk_the_primary_key_in_one_delete_each(settings):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.HOLD_RETENTION_DAYS = 30
    for _ in range(3):
        make_hold(status="captured", created_days_ago=40, resolved_days_ago=40)

    with CaptureQueriesContext(connection) as captured:
        (run,) = services.retention_cleanup_run(
            policies=(retention_policy_get(name="resolved-holds"),), now=NOW, batch_size=2
        )

    deletes = [query["sql"] for query in captured if query["sql"].startswith("DELETE")]
    assert run.rows_deleted == 3 and len(deletes) == run.batches == 2
    # no created_at index on holds: each batch takes the oldest expired ids in primary key order,
    # which the primary key index gives without a sort (a scan of the whole table per batch otherwise)
    batch = deletes[0][deletes[0].index("(SELECT") + 1 : -1]
    assert batch.startswith('SELECT U0."id" AS "pk"') and batch.endswith("ORDER BY 1 ASC LIMIT 2")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute(f"EXPLAIN {batch}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Index Scan using billing_hold_pkey" in plan and "Sort" not in plan, plan


def test_holds_are_kept_7_days_unless_configured(settings):
    policy = retention_policy_get(name="resolved-holds")
    assert policy.days == 7
    settings.HOLD_RETENTION_DAYS = 90
    assert policy.days == 90
