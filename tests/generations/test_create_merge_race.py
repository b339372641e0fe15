"""A job created while the anonymous user it names is being merged lands on the user that stays.

The create resolves its user in one statement (the hot path); it must still wait for a merge in flight,
as every credit does (accounts.services.end_user_current), and then follow `merged_into`, although the
merge freed the very identity the request named the user by.
"""

import threading
import time
from decimal import Decimal

import pytest
from django.db import connection, connections, transaction

from accounts.models import EndUser
from accounts.services import end_user_attach_identity, end_user_upsert
from billing.models import Hold
from generations.models import Generation
from generations.services import generation_create
from tests.generations.helpers import model_create
from tests.support.ledger import assert_ledger_clean

pytestmark = pytest.mark.django_db(transaction=True)

TELEGRAM_ID = 777_000_111
DEVICE_ID = "race-device"


def wait_for_a_backend_blocked_on_a_lock(timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.05)
    raise AssertionError("the create never waited for the merge")


@pytest.mark.parametrize("limits_on", [True, False], ids=["plan-limits", "no-limits"])
def test_a_job_racing_a_merge_waits_and_lands_on_the_user_that_stays(settings, limits_on):
    # given an anonymous device user and a Telegram user, and a paid model the device user can afford
    settings.RATE_LIMITS_ENABLED = limits_on
    model = model_create("race-merge", price="3.00")
    end_user_upsert(ref=f"device:{DEVICE_ID}", profile={})
    end_user_upsert(ref=str(TELEGRAM_ID), profile={})
    merge_in_flight, merge_may_commit = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def merge() -> None:
        try:
            with transaction.atomic():
                end_user_attach_identity(ref=str(TELEGRAM_ID), identity="device_id", value=DEVICE_ID)
                merge_in_flight.set()
                assert merge_may_commit.wait(30)
        finally:
            connections.close_all()

    def create() -> None:
        try:
            outcome["job"] = generation_create(
                user_ref=f"device:{DEVICE_ID}", model_code=model.code, prompt="p", parameters={}
            )
        except Exception as exc:  # asserted below
            outcome["error"] = exc
        finally:
            connections.close_all()

    # when the job is asked for by the device id while the merge that takes that id away is in flight
    merging = threading.Thread(target=merge)
    merging.start()
    assert merge_in_flight.wait(30)
    creating = threading.Thread(target=create)
    creating.start()
    wait_for_a_backend_blocked_on_a_lock()
    merge_may_commit.set()
    merging.join(30)
    creating.join(30)

    # then the create waited, and the job and its hold belong to the user that stays
    assert "error" not in outcome, outcome
    target = EndUser.objects.get(telegram_id=TELEGRAM_ID)
    job = Generation.objects.get()
    assert job.user_id == target.pk
    hold = Hold.objects.select_related("account").get(pk=job.hold_id)
    assert (hold.account.owner_id, hold.amount) == (target.pk, Decimal("3.00"))
    assert_ledger_clean()
