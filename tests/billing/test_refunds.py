"""Refunds (bot-api.md, Refunds): YooKassa in fake and live modes, Telegram Stars, generation charges."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing.models import ChargeRefund, EntryType, Hold, LedgerEntry, Payment, ProviderEvent, Refund
from billing.services import balance_adjust, holds_expire
from tests.billing.money_helpers import notification, paid_stars, refund_notification, webhook_post
from tests.support.ledger import account_of, balance_of
from tests.support.users import user_create

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("ledger_clean_after")]


def paid_yookassa(api, user, amount="100.00", key="pay-1", emulator=None) -> Payment:
    """A YooKassa top-up that succeeded: created through the API, confirmed by the webhook."""
    response = api.post(f"/api/v1/users/{user.display_ref}/payments", {"amount": amount}, idempotency_key=key)
    assert response.status_code == 201, response.content
    payment = Payment.objects.get(pk=response.json()["id"])
    for state in emulator.payments.values() if emulator else ():
        state["status"] = "succeeded"  # the buyer paid: YooKassa confirms the notification
    assert webhook_post(notification(payment)).status_code == 200
    payment.refresh_from_db()
    return payment


def refund_post(api, payment, body=None, key="refund-1"):
    return api.post(f"/api/v1/payments/{payment.pk}/refunds", body or {}, idempotency_key=key)


# --- YooKassa, fake mode: pending, then refund.succeeded through the webhook ------------------------


def test_full_refund_holds_then_debits_when_the_webhook_reports_success(api):
    # given a user who topped up 100.00 on top of the 10.00 welcome bonus
    user = user_create()
    payment = paid_yookassa(api, user)

    # when the bot asks for a refund of what is left
    response = refund_post(api, payment, {"reason": "changed my mind"})

    # then it is pending with YooKassa's (fake) refund id, and the amount is held, not yet debited
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "pending"
    assert body["amount"] == "100.00" and body["currency"] == "RUB"
    assert body["payment"] == payment.pk and body["provider"] == "yookassa"
    assert body["provider_refund_id"].startswith("fake-refund-")
    assert body["reason"] == "changed my mind"
    account = account_of(user)
    assert (account.balance, account.held) == (Decimal("110.00"), Decimal("100.00"))

    # when refund.succeeded reaches the webhook (twice)
    first = webhook_post(refund_notification(body))
    again = webhook_post(refund_notification(body))

    # then the ledger has one refund debit and the hold is gone
    assert (first.status_code, first.json()["status"]) == (200, "refunded")
    assert (again.status_code, again.json()["status"]) == (200, "duplicate")
    account.refresh_from_db()
    assert (account.balance, account.held) == (Decimal("10.00"), Decimal("0.00"))
    entry = LedgerEntry.objects.get(type=EntryType.REFUND)
    assert (entry.amount, entry.reference) == (Decimal("-100.00"), f"refund:{body['id']}")
    assert api.get(f"/api/v1/refunds/{body['id']}").json()["status"] == "succeeded"
    transactions = api.get(f"/api/v1/users/{user.display_ref}/transactions?type=refund").json()["items"]
    assert [item["amount"] for item in transactions] == ["-100.00"]


def test_partial_refunds_add_up_to_the_payment_and_no_more(api):
    user = user_create()
    payment = paid_yookassa(api, user)

    first = refund_post(api, payment, {"amount": "30.00"}, key="r1")
    second = refund_post(api, payment, {"amount": "60.00"}, key="r2")
    too_much = refund_post(api, payment, {"amount": "10.01"}, key="r3")
    rest = refund_post(api, payment, {}, key="r4")
    nothing_left = refund_post(api, payment, {}, key="r5")

    assert [first.status_code, second.status_code] == [201, 201]
    assert too_much.status_code == 409
    assert too_much.json()["error"]["details"] == {"amount": "at most 10.00"}
    assert (rest.status_code, rest.json()["amount"]) == (201, "10.00")
    assert nothing_left.status_code == 409
    payment.refresh_from_db()
    assert payment.refunded_amount == Decimal("100.00")
    for response in (first, second, rest):
        assert webhook_post(refund_notification(response.json())).status_code == 200
    assert balance_of(user) == Decimal("10.00")


def test_refund_is_idempotent_by_key_and_a_different_body_is_409(api):
    user = user_create()
    payment = paid_yookassa(api, user)

    first = refund_post(api, payment, {"amount": "40.00"}, key="same")
    replay = refund_post(api, payment, {"amount": "40.00"}, key="same")
    other = refund_post(api, payment, {"amount": "41.00"}, key="same")
    missing_key = api.post(f"/api/v1/payments/{payment.pk}/refunds", {"amount": "1.00"})

    assert first.status_code == replay.status_code == 201
    assert first.content == replay.content
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_key_reused"
    assert missing_key.status_code == 422 and "Idempotency-Key" in missing_key.json()["error"]["details"]
    assert Refund.objects.count() == 1


def test_refund_of_a_payment_that_did_not_succeed_is_409_and_unknown_is_404(api):
    user = user_create()
    pending = Payment.objects.get(
        pk=api.post(
            f"/api/v1/users/{user.display_ref}/payments", {"amount": "50.00"}, idempotency_key="p"
        ).json()["id"]
    )

    assert refund_post(api, pending).status_code == 409
    assert refund_post(api, pending, key="k2").json()["error"]["details"] == {"payment": "pending"}
    for payment_id in ("999999", "abc"):
        response = api.post(f"/api/v1/payments/{payment_id}/refunds", {}, idempotency_key=f"x{payment_id}")
        assert response.status_code == 404
    assert Refund.objects.count() == 0


def test_refund_beyond_the_available_balance_is_402_and_remembered(api):
    # given a user who spent most of the top-up
    user = user_create()
    payment = paid_yookassa(api, user)
    from billing import services

    services.hold_create(user=user, amount=Decimal("105.00"), currency="RUB", reference="job:spent")

    response = refund_post(api, payment, {"amount": "50.00"})
    replay = refund_post(api, payment, {"amount": "50.00"})

    assert response.status_code == 402
    assert response.json()["error"]["code"] == "insufficient_funds"
    assert replay.content == response.content
    assert Refund.objects.count() == 0
    payment.refresh_from_db()
    assert payment.refunded_amount == Decimal("0.00")


@pytest.mark.parametrize("amount", [150.5, 10, "0.00", "-1.00", "1.001"])
def test_refund_amount_must_be_a_positive_decimal_string(api, amount):
    user = user_create()
    payment = paid_yookassa(api, user)

    response = refund_post(api, payment, {"amount": amount})

    assert response.status_code == 422
    assert "amount" in response.json()["error"]["details"]
    assert Refund.objects.count() == 0


def test_refund_notification_with_another_amount_is_409_and_debits_nothing(api):
    user = user_create()
    body = refund_post(api, paid_yookassa(api, user), {"amount": "20.00"}).json()

    response = webhook_post(refund_notification(body, amount="25.00"))
    unknown = webhook_post(
        {**refund_notification(body), "object": {**refund_notification(body)["object"], "id": "nope"}}
    )

    assert response.status_code == 409
    assert unknown.status_code == 404
    assert LedgerEntry.objects.filter(type=EntryType.REFUND).count() == 0
    assert ProviderEvent.objects.filter(outcome=ProviderEvent.Outcome.MISMATCH).count() == 1


def test_a_pending_refund_holds_its_amount_so_it_cannot_be_spent(api):
    user = user_create()
    payment = paid_yookassa(api, user)
    refund_post(api, payment, {"amount": "100.00"})
    from billing import services
    from billing.errors import InsufficientFunds

    with pytest.raises(InsufficientFunds):
        services.hold_create(user=user, amount=Decimal("10.01"), currency="RUB", reference="job:x")
    services.hold_create(user=user, amount=Decimal("10.00"), currency="RUB", reference="job:y")


# --- YooKassa, live mode -------------------------------------------------------------------------


def test_live_refund_that_yookassa_settles_at_once_is_debited_at_once(api, settings, yookassa_live):
    user = user_create()
    payment = paid_yookassa(api, user, emulator=yookassa_live)

    response = refund_post(api, payment, {"amount": "25.00", "reason": "bad result"})

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["provider_refund_id"]) == ("succeeded", "live-refund-1")
    (request,) = yookassa_live.posts("/refunds")
    assert request[2]["payment_id"] == payment.provider_payment_id
    assert request[2]["amount"] == {"value": "25.00", "currency": "RUB"}
    assert request[3] == Refund.objects.get().provider_idempotence_key
    assert balance_of(user) == Decimal("85.00")
    assert account_of(user).held == Decimal("0.00")
    # a later refund.succeeded notification, confirmed by YooKassa, is a duplicate
    again = webhook_post(refund_notification(body))
    assert (again.status_code, again.json()["status"]) == (200, "duplicate")


def test_live_refund_pending_then_notified_is_verified_with_yookassa(api, yookassa_live):
    yookassa_live.refund_status = "pending"
    user = user_create()
    body = refund_post(api, paid_yookassa(api, user, emulator=yookassa_live), {"amount": "40.00"}).json()
    assert body["status"] == "pending"

    yookassa_live.refunds[next(iter(yookassa_live.refunds))]["status"] = "succeeded"
    response = webhook_post(refund_notification(body))

    assert (response.status_code, response.json()["status"]) == (200, "refunded")
    assert balance_of(user) == Decimal("70.00")
    assert any(method == "GET" and "/refunds/" in path for method, path, _, _ in yookassa_live.requests)


def test_live_refund_canceled_by_yookassa_fails_and_gives_the_amount_back(api, yookassa_live):
    yookassa_live.refund_status = "canceled"
    user = user_create()
    payment = paid_yookassa(api, user, emulator=yookassa_live)

    response = refund_post(api, payment, {"amount": "40.00"})

    assert (response.status_code, response.json()["status"]) == (201, "failed")
    payment.refresh_from_db()
    assert payment.refunded_amount == Decimal("0.00")
    account = account_of(user)
    assert (account.balance, account.held) == (Decimal("110.00"), Decimal("0.00"))


def test_live_refund_refused_by_yookassa_is_422_remembered_and_releases_the_hold(api, yookassa_live):
    user = user_create()
    payment = paid_yookassa(api, user, emulator=yookassa_live)
    yookassa_live.refuse_next = 400

    response = refund_post(api, payment, {"amount": "40.00"})
    replay = refund_post(api, payment, {"amount": "40.00"})

    assert response.status_code == 422
    assert replay.content == response.content
    assert len(yookassa_live.posts("/refunds")) == 1
    assert Refund.objects.get().status == Refund.Status.FAILED
    assert account_of(user).held == Decimal("0.00")
    payment.refresh_from_db()
    assert payment.refunded_amount == Decimal("0.00")


# --- Telegram Stars: held, then reported by the bot -----------------------------------------------


def test_stars_refund_is_held_until_the_bot_reports_success(api):
    user = user_create()
    payment = paid_stars(api, user, stars=100)

    created = refund_post(api, payment, {"reason": "refundStarPayment"})

    assert created.status_code == 201
    body = created.json()
    assert (body["status"], body["provider"], body["provider_refund_id"]) == (
        "pending",
        "telegram_stars",
        None,
    )
    assert account_of(user).held == Decimal("100.00")

    done = api.post(f"/api/v1/refunds/{body['id']}/status", {"status": "succeeded"})
    same = api.post(f"/api/v1/refunds/{body['id']}/status", {"status": "succeeded"})
    other = api.post(f"/api/v1/refunds/{body['id']}/status", {"status": "failed"})

    assert (done.status_code, done.json()["status"]) == (200, "succeeded")
    assert (same.status_code, same.json()["status"]) == (200, "succeeded")
    assert other.status_code == 409
    account = account_of(user)
    assert (account.balance, account.held) == (Decimal("10.00"), Decimal("0.00"))
    assert LedgerEntry.objects.filter(type=EntryType.REFUND).count() == 1


def test_a_stars_payment_is_refunded_whole(api):
    payment = paid_stars(api, user_create(), stars=100)

    partial = refund_post(api, payment, {"amount": "40.00"})
    whole = refund_post(api, payment, {"amount": "100.00"}, key="whole")

    assert partial.status_code == 422
    assert "amount" in partial.json()["error"]["details"]
    assert whole.status_code == 201


def test_stars_refund_that_failed_releases_the_hold_and_can_be_asked_again(api):
    user = user_create()
    payment = paid_stars(api, user, stars=100)
    body = refund_post(api, payment).json()

    failed = api.post(
        f"/api/v1/refunds/{body['id']}/status",
        {"status": "failed", "error_message": "CHARGE_ALREADY_REFUNDED"},
    )

    assert (failed.status_code, failed.json()["status"]) == (200, "failed")
    assert failed.json()["error_message"] == "CHARGE_ALREADY_REFUNDED"
    assert account_of(user).held == Decimal("0.00")
    assert balance_of(user) == Decimal("110.00")
    assert refund_post(api, payment, key="again").status_code == 201


def test_a_stars_refund_reported_after_its_hold_expired_is_debited_directly(api):
    # given a pending Stars refund whose hold outlived REFUND_HOLD_TTL_SECONDS and was released
    user = user_create()
    payment = paid_stars(api, user, stars=100)
    body = refund_post(api, payment).json()
    Hold.objects.filter(reference=f"refund:{body['id']}").update(
        expires_at=timezone.now() - timedelta(hours=1)
    )
    assert holds_expire() == 1
    assert account_of(user).held == Decimal("0.00")

    # when the bot reports that Telegram refunded the charge after all
    done = api.post(f"/api/v1/refunds/{body['id']}/status", {"status": "succeeded"})

    # then the money Telegram gave back is debited once, under its own reference (ledger_check 8 holds)
    assert (done.status_code, done.json()["status"]) == (200, "succeeded")
    entry = LedgerEntry.objects.get(type=EntryType.REFUND)
    assert (entry.amount, entry.reference) == (Decimal("-100.00"), f"refund-late:{body['id']}")
    assert balance_of(user) == Decimal("10.00")


def test_a_late_stars_refund_the_payer_already_spent_is_402_and_writes_nothing(api, admin_user):
    user = user_create()
    payment = paid_stars(api, user, stars=100)
    body = refund_post(api, payment).json()
    Hold.objects.filter(reference=f"refund:{body['id']}").update(
        expires_at=timezone.now() - timedelta(hours=1)
    )
    holds_expire()
    balance_adjust(
        user=user, amount=Decimal("-60.00"), currency="RUB", reason="spent meanwhile", operator=admin_user
    )

    refused = api.post(f"/api/v1/refunds/{body['id']}/status", {"status": "succeeded"})

    assert refused.status_code == 402
    assert api.get(f"/api/v1/refunds/{body['id']}").json()["status"] == "pending"
    assert not LedgerEntry.objects.filter(type=EntryType.REFUND).exists()


def test_refund_status_of_a_yookassa_refund_is_409_and_bad_input_is_422(api):
    user = user_create()
    body = refund_post(api, paid_yookassa(api, user), {"amount": "5.00"}).json()

    assert api.post(f"/api/v1/refunds/{body['id']}/status", {"status": "succeeded"}).status_code == 409
    assert api.post(f"/api/v1/refunds/{body['id']}/status", {"status": "pending"}).status_code == 422
    assert api.post("/api/v1/refunds/999999/status", {"status": "failed"}).status_code == 404
    assert api.get("/api/v1/refunds/abc").status_code == 404


# --- Generation refunds ---------------------------------------------------------------------------


@pytest.fixture
def catalog():
    from generations.models import AIModel

    paid = AIModel.objects.create(
        code="refund-img", name="img", category=AIModel.Category.IMAGE, provider="t", price=Decimal("7.50")
    )
    free = AIModel.objects.create(
        code="refund-free", name="free", category=AIModel.Category.TEXT, provider="t", price=0, is_free=True
    )
    return paid, free


def generation(api, user, model: str, final: str | None = "succeeded") -> int:
    response = api.post(
        "/api/v1/generations",
        {"user": user.display_ref, "model": model, "prompt": "p"},
        idempotency_key=f"g-{model}-{final}",
    )
    assert response.status_code == 201, response.content
    generation_id = response.json()["id"]
    if final:
        assert api.post(f"/api/v1/generations/{generation_id}/status", {"status": final}).status_code == 200
    return generation_id


def test_generation_refund_credits_the_charge_once(api, catalog, settings):
    settings.RATE_LIMITS_ENABLED = False
    user = user_create()
    generation_id = generation(api, user, "refund-img")
    assert balance_of(user) == Decimal("2.50")

    first = api.post(f"/api/v1/generations/{generation_id}/refund", {"reason": "blurry"})
    again = api.post(f"/api/v1/generations/{generation_id}/refund", {"reason": "other words"})

    assert first.status_code == 201
    body = first.json()
    assert body == {
        **body,
        "generation": generation_id,
        "amount": "7.50",
        "currency": "RUB",
        "reason": "blurry",
    }
    assert (again.status_code, again.json()) == (200, body)
    assert balance_of(user) == Decimal("10.00")
    entry = LedgerEntry.objects.get(type=EntryType.REFUND)
    hold = Hold.objects.get(reference=f"generation:{generation_id}")
    assert (entry.amount, entry.reference) == (Decimal("7.50"), f"charge-refund:{hold.pk}")


def test_generation_refund_of_a_job_never_charged_is_409(api, catalog, settings):
    settings.RATE_LIMITS_ENABLED = False
    user = user_create()
    failed = generation(api, user, "refund-img", final="failed")
    pending = generation(api, user, "refund-img", final=None)
    free = generation(api, user, "refund-free")

    for generation_id in (failed, pending, free):
        response = api.post(f"/api/v1/generations/{generation_id}/refund", {})
        assert response.status_code == 409, response.content
        assert response.json()["error"]["code"] == "conflict"
    assert api.post("/api/v1/generations/999999/refund", {}).status_code == 404
    assert LedgerEntry.objects.filter(type=EntryType.REFUND).count() == 0


def hold_deleted(generation_id: int) -> Hold:
    """The job's hold as retention deletes it once resolved for HOLD_RETENTION_DAYS."""
    hold = Hold.objects.get(reference=f"generation:{generation_id}")
    Hold.objects.filter(pk=hold.pk).delete()
    return hold


def test_generation_refund_after_its_hold_was_deleted_credits_the_charge_from_the_ledger(
    api, catalog, settings
):
    # given a charged job whose resolved hold retention has deleted
    settings.RATE_LIMITS_ENABLED = False
    user = user_create()
    generation_id = generation(api, user, "refund-img")
    hold = hold_deleted(generation_id)

    # when the bot refunds it, twice
    first = api.post(f"/api/v1/generations/{generation_id}/refund", {"reason": "old but bad"})
    again = api.post(f"/api/v1/generations/{generation_id}/refund", {"reason": "again"})

    # then the ledger's charge is credited back once, exactly as with the hold kept
    assert first.status_code == 201, first.content
    assert first.json() == {
        **first.json(),
        "generation": generation_id,
        "amount": "7.50",
        "reason": "old but bad",
    }
    assert (again.status_code, again.json()) == (200, first.json())
    assert balance_of(user) == Decimal("10.00")
    refund = ChargeRefund.objects.get()
    assert (refund.hold_id, refund.reference, refund.user_id) == (
        hold.pk,
        f"generation:{generation_id}",
        user.pk,
    )
    credit = LedgerEntry.objects.get(type=EntryType.REFUND)
    assert (credit.amount, credit.reference) == (Decimal("7.50"), f"charge-refund:{hold.pk}")


def test_a_charge_refunded_before_its_hold_was_deleted_answers_the_same_refund_after(api, catalog, settings):
    settings.RATE_LIMITS_ENABLED = False
    user = user_create()
    generation_id = generation(api, user, "refund-img")
    first = api.post(f"/api/v1/generations/{generation_id}/refund", {"reason": "blurry"})
    hold_deleted(generation_id)

    again = api.post(f"/api/v1/generations/{generation_id}/refund", {})

    assert (first.status_code, again.status_code, again.json()) == (201, 200, first.json())
    assert LedgerEntry.objects.filter(type=EntryType.REFUND).count() == 1
    assert balance_of(user) == Decimal("10.00")


def test_a_job_never_charged_is_still_409_once_its_hold_was_deleted(api, catalog, settings):
    settings.RATE_LIMITS_ENABLED = False
    user = user_create()
    failed = generation(api, user, "refund-img", final="failed")
    hold_deleted(failed)

    response = api.post(f"/api/v1/generations/{failed}/refund", {})

    assert response.status_code == 409
    assert LedgerEntry.objects.filter(type=EntryType.REFUND).count() == 0


def test_a_deleted_holds_charge_is_looked_up_by_its_reference_around_its_time(api, catalog, settings):
    from billing.errors import BillingError
    from billing.services import ChargeRef, charge_refund
    from generations.models import Generation

    # given a charged job whose hold is gone
    settings.RATE_LIMITS_ENABLED = False
    user = user_create()
    job = Generation.objects.get(pk=generation(api, user, "refund-img"))
    hold = hold_deleted(job.pk)

    # when the caller names another reference, or a time far from the charge, nothing is found
    for wrong in (
        ChargeRef("generation:0", job.completed_at),
        ChargeRef(job.hold_reference, job.completed_at + timedelta(days=2)),
    ):
        with pytest.raises(BillingError, match="never charged"):
            charge_refund(hold_id=hold.pk, charge=wrong)
    # nor without any (the hold alone is gone)
    with pytest.raises(BillingError, match="never charged"):
        charge_refund(hold_id=hold.pk)

    # and with the job's own reference and completion time the charge is refunded
    refund, created = charge_refund(hold_id=hold.pk, charge=ChargeRef(job.hold_reference, job.completed_at))
    assert (created, refund.amount) == (True, Decimal("7.50"))
