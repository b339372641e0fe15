"""Resolved holds deleted by retention (HOLD_RETENTION_DAYS): the money stays whole and refundable."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing import services
from billing.models import ChargeRefund, EntryType, Hold, LedgerEntry
from generations.models import AIModel, Generation
from ops import services as ops_services
from ops.retention import retention_policy_get
from tests.support.api import ApiClient
from tests.support.concurrency import run_concurrently
from tests.support.ledger import assert_ledger_clean, balance_of
from tests.support.users import user_create, user_funded


def cleanup(**kwargs):
    (run,) = ops_services.retention_cleanup_run(
        policies=(retention_policy_get(name="resolved-holds"),), **kwargs
    )
    assert run.error == "", run.error
    return run


def aged(hold_ids, *, days: int) -> None:
    """Holds as if created and resolved `days` ago (a hold row is not append-only)."""
    past = timezone.now() - timedelta(days=days)
    Hold.objects.filter(pk__in=hold_ids).update(created_at=past, expires_at=past, resolved_at=past)


@pytest.mark.django_db
def test_old_jobs_stay_refundable_and_the_ledger_whole_after_their_holds_are_deleted(raw_api_key, settings):
    # given three jobs 40 days old (charged, charged and refunded, failed) and one charged yesterday
    settings.RATE_LIMITS_ENABLED = False
    settings.HOLD_RETENTION_DAYS = 30
    AIModel.objects.create(
        code="ret-img", name="img", category=AIModel.Category.IMAGE, provider="t", price=Decimal("2.00")
    )
    api = ApiClient(raw_api_key)
    user = user_create()

    def job(final: str) -> Generation:
        response = api.post(
            "/api/v1/generations", {"user": user.display_ref, "model": "ret-img", "prompt": "p"},
            idempotency_key=f"job-{Generation.objects.count()}",
        )  # fmt: skip
        assert (
            api.post(f"/api/v1/generations/{response.json()['id']}/status", {"status": final}).status_code
            == 200
        )
        return Generation.objects.get(pk=response.json()["id"])

    charged, refunded, failed, recent = job("succeeded"), job("succeeded"), job("failed"), job("succeeded")
    refunded_before = api.post(f"/api/v1/generations/{refunded.pk}/refund", {"reason": "early"})
    aged([charged.hold_id, refunded.hold_id, failed.hold_id], days=40)

    # when the retention runs
    run = cleanup()

    # then exactly the old resolved holds are gone and every invariant still holds
    assert run.rows_deleted == 3
    assert list(Hold.objects.values_list("pk", flat=True)) == [recent.hold_id]
    assert_ledger_clean()
    # and the old jobs answer refunds as before: a charge is given back once, a failed job refused
    first = api.post(f"/api/v1/generations/{charged.pk}/refund", {"reason": "late"})
    again = api.post(f"/api/v1/generations/{refunded.pk}/refund", {})
    never = api.post(f"/api/v1/generations/{failed.pk}/refund", {})
    assert (first.status_code, first.json()["amount"]) == (201, "2.00")
    assert (again.status_code, again.json()) == (200, refunded_before.json())
    assert never.status_code == 409
    assert balance_of(user) == Decimal("10.00") - Decimal("2.00")  # only the recent job stays charged
    assert ChargeRefund.objects.count() == 2
    assert_ledger_clean()


@pytest.mark.django_db(transaction=True)
def test_holds_captured_and_released_while_retention_runs_keep_every_invariant(settings):
    # given 120 old resolved holds to delete, and 40 open ones that jobs are settling right now
    settings.HOLD_RETENTION_DAYS = 30
    users = [user_funded("100.00") for _ in range(4)]
    old = []
    for index in range(120):
        hold = services.hold_create(
            user=users[index % 4], amount=Decimal("0.10"), currency="RUB", reference=f"old:{index}"
        )
        resolution = services.hold_capture if index % 3 else services.hold_release
        resolution(hold_id=hold.pk)
        old.append(hold.pk)
    aged(old, days=45)
    live = [
        services.hold_create(
            user=users[index % 4], amount=Decimal("1.00"), currency="RUB", reference=f"live:{index}"
        )
        for index in range(40)
    ]
    done = threading.Event()

    # when workers capture, release and open holds while retention deletes in small batches
    def worker(index: int):
        if index == 0:
            runs = []
            while not done.is_set() or not runs:
                runs.append(cleanup(batch_size=7))
            return runs
        try:
            for hold in live[index - 1 :: 4]:
                if hold.pk % 2:
                    services.hold_capture(hold_id=hold.pk, description="job")
                else:
                    services.hold_release(hold_id=hold.pk)
                services.hold_create(
                    user=users[index - 1], amount=Decimal("0.50"), currency="RUB", reference=f"new:{hold.pk}"
                )
        finally:
            if index == 4:
                done.set()

    results = run_concurrently(worker, 5)

    # then nothing failed, only the old resolved holds went, and the money is whole
    assert not [result for result in results if isinstance(result, BaseException)], results
    assert sum(run.rows_deleted for run in results[0]) == 120
    assert not Hold.objects.filter(pk__in=old).exists()
    assert Hold.objects.filter(pk__in=[hold.pk for hold in live]).count() == 40
    assert Hold.objects.filter(status=Hold.Status.OPEN).count() == 40  # the new ones, still open
    assert LedgerEntry.objects.filter(type=EntryType.CHARGE, reference__startswith="live:").count() == 20
    assert_ledger_clean()
