"""Blocked users (bot-api.md v1.1): 403 forbidden with details.user=blocked on every call that spends or
starts something, nothing written; money already paid is recorded; reads work and show is_blocked."""

from decimal import Decimal

import pytest

from accounts import services
from accounts.errors import AccountsError
from accounts.models import EndUser, Operator, UserBlockAudit
from assistants import services as assistant_services
from assistants.models import Dialog, Message
from billing.models import IdempotencyRecord, LedgerEntry, Payment, PromoCode, PromoRedemption, Subscription
from generations.models import Generation
from tests.generations.helpers import model_create
from tests.support.admin import client_logged_in
from tests.support.ledger import assert_ledger_clean
from tests.support.users import user_funded

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator() -> Operator:
    return Operator.objects.create_superuser("boss", "boss@example.com", "x")


@pytest.fixture
def blocked(operator, settings):
    settings.RATE_LIMITS_ENABLED = False
    user = user_funded("500.00")
    assistant = assistant_services.assistant_create(owner=user, name="Helper", instructions="")
    dialog, _ = assistant_services.dialog_open(assistant=assistant, user=user, chat_id="chat-1")
    PromoCode.objects.create(code="GIFT", amount=Decimal("5.00"))
    model_create()
    services.end_user_block(user_id=user.pk, reason="chargeback fraud", operator=operator)
    return {"user": EndUser.objects.get(pk=user.pk), "assistant": assistant, "dialog": dialog}


def written() -> tuple:
    return (
        LedgerEntry.objects.count(),
        Payment.objects.count(),
        Generation.objects.count(),
        PromoRedemption.objects.count(),
        Subscription.objects.count(),
        Dialog.objects.count(),
        Message.objects.count(),
        IdempotencyRecord.objects.count(),
    )


def spending_calls(world):
    ref = world["user"].display_ref
    return [
        (
            "post",
            "/api/v1/generations",
            {"user": ref, "model": "flux-test", "prompt": "x", "parameters": {}},
            "g-1",
        ),
        ("post", f"/api/v1/users/{ref}/payments", {"amount": "100.00"}, "p-1"),
        ("post", f"/api/v1/users/{ref}/promo-codes/redeem", {"code": "GIFT"}, None),
        ("post", f"/api/v1/users/{ref}/subscription", {"plan": "pro", "auto_renew": False}, None),
        (
            "post",
            f"/api/v1/assistants/{world['assistant'].pk}/dialogs",
            {"user": ref, "chat_id": "chat-2"},
            None,
        ),
        ("post", f"/api/v1/dialogs/{world['dialog'].pk}/messages", {"role": "user", "content": "hi"}, None),
    ]


def test_every_spending_or_starting_call_is_403_blocked_and_writes_nothing(api, blocked):
    before = written()
    for method, path, body, key in spending_calls(blocked):
        response = getattr(api, method)(path, body, idempotency_key=key)
        assert response.status_code == 403, path
        assert response.json()["error"]["code"] == "forbidden", path
        assert response.json()["error"]["details"] == {"user": "blocked"}, path
    assert written() == before
    assert_ledger_clean()


def test_unblocked_the_same_idempotency_key_goes_through(api, blocked, operator):
    body = {"user": blocked["user"].display_ref, "model": "flux-test", "prompt": "x", "parameters": {}}
    assert api.post("/api/v1/generations", body, idempotency_key="again").status_code == 403

    services.end_user_unblock(user_id=blocked["user"].pk, reason="cleared", operator=operator)

    assert api.post("/api/v1/generations", body, idempotency_key="again").status_code == 201


def test_reads_work_and_show_is_blocked(api, blocked):
    ref = blocked["user"].display_ref
    user = api.get(f"/api/v1/users/{ref}")
    assert user.status_code == 200
    assert user.json()["is_blocked"] is True
    for path in (
        f"/api/v1/users/{ref}/balance",
        f"/api/v1/users/{ref}/transactions",
        f"/api/v1/users/{ref}/generations",
    ):
        assert api.get(path).status_code == 200, path
    assert api.get(f"/api/v1/dialogs/{blocked['dialog'].pk}/messages").status_code == 200


def test_money_already_paid_is_still_credited(api, blocked):
    body = {
        "user": blocked["user"].display_ref,
        "telegram_payment_charge_id": "paid-before-the-block",
        "currency": "XTR",
        "total_amount": 50,
        "invoice_payload": "p",
    }
    assert api.post("/api/v1/payments/telegram-stars", body).status_code == 201
    assert_ledger_clean()


def test_block_and_unblock_are_audited_and_a_second_block_is_refused(blocked, operator):
    user = blocked["user"]
    assert (user.is_blocked, user.blocked_reason, user.blocked_by) == (True, "chargeback fraud", operator)
    with pytest.raises(AccountsError, match="already blocked"):
        services.end_user_block(user_id=user.pk, reason="again", operator=operator)
    services.end_user_unblock(user_id=user.pk, reason="refunded", operator=operator)
    with pytest.raises(AccountsError, match="not blocked"):
        services.end_user_unblock(user_id=user.pk, reason="again", operator=operator)
    audits = list(UserBlockAudit.objects.filter(user=user).order_by("pk").values_list("action", "reason"))
    assert audits == [("block", "chargeback fraud"), ("unblock", "refunded")]
    with pytest.raises(AccountsError):
        services.end_user_block(user_id=user.pk, reason="   ", operator=operator)


def test_admin_block_needs_a_reason_and_a_blocked_user_gets_a_message(operator):
    user = user_funded("10.00")
    client = client_logged_in(operator)
    url = f"/admin/accounts/enduser/{user.pk}/block/"

    empty = client.post(url, {"reason": ""})
    assert empty.status_code == 200 and empty.context["form"].errors["reason"]
    assert not EndUser.objects.get(pk=user.pk).is_blocked

    assert client.post(url, {"reason": "spam"}).status_code == 302
    assert EndUser.objects.get(pk=user.pk).is_blocked

    again = client.post(url, {"reason": "spam again"}, follow=True)
    assert "already blocked" in again.content.decode()
    assert UserBlockAudit.objects.filter(user=user).count() == 1


def test_bulk_block_action_asks_for_a_reason_then_blocks(operator):
    users = [user_funded("10.00") for _ in range(2)]
    client = client_logged_in(operator)
    selected = {"action": "block_users", "_selected_action": [user.pk for user in users], "index": 0}

    asked = client.post("/admin/accounts/enduser/", selected)
    assert asked.status_code == 200 and "reason" in asked.content.decode()
    assert not EndUser.objects.filter(is_blocked=True).exists()

    done = client.post("/admin/accounts/enduser/", {**selected, "apply": 1, "reason": "bots"})
    assert done.status_code == 302
    assert EndUser.objects.filter(is_blocked=True).count() == 2
