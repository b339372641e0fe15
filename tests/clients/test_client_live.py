"""botdesk-client against the live app, over HTTP: every operation of the OpenAPI schema is called.

The refund and webhook operations of contract v1.1 have their own tests below.
"""

from decimal import Decimal

import httpx
import pytest

from botdesk_client import (
    AsyncBotdeskClient,
    GenerationStatus,
    InsufficientFundsError,
    NotFoundError,
    PaymentStatus,
    TransactionType,
    ValidationError,
)
from tests.support.live import schema_operations, yookassa_succeed
from tests.support.users import telegram_id_next

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

REFUND_OPERATIONS = {
    "POST /payments/{}/refunds",
    "POST /refunds/{}/status",
    "GET /refunds/{}",
    "POST /generations/{}/refund",
}
WEBHOOK_OPERATIONS = {"PUT /webhook", "GET /webhook", "DELETE /webhook"}
TESTED_SEPARATELY = REFUND_OPERATIONS | WEBHOOK_OPERATIONS


def test_the_journey_calls_every_operation_of_the_schema(botdesk, recorder, live_server, paid_model):
    from billing.services import promo_codes_create_batch

    referrer_id, telegram_id = telegram_id_next(), telegram_id_next()

    # health and users
    assert botdesk.health().status == "ok"
    botdesk.user_upsert(referrer_id, first_name="Ref")
    user = botdesk.user_upsert(telegram_id, username="alice", language_code="ru", referrer=referrer_id)
    assert (user.telegram_id, user.referrer, user.language_code) == (telegram_id, referrer_id, "ru")
    assert botdesk.user_detail(telegram_id).balance.available == Decimal("10.00")
    attached = botdesk.user_identity_attach(telegram_id, device_id=f"dev-{telegram_id}")
    assert attached.device_id == f"dev-{telegram_id}"

    # payments: YooKassa (its webhook, as in fake mode nobody else sends it) and Telegram Stars
    payment = botdesk.payment_create(telegram_id, amount="1000.00")
    assert payment.status is PaymentStatus.PENDING and payment.confirmation_url
    assert yookassa_succeed(live_server.url, payment).status_code == 200
    assert botdesk.payment_detail(payment.id).status is PaymentStatus.SUCCEEDED
    stars = botdesk.telegram_stars_credit(
        user=telegram_id, telegram_payment_charge_id=f"charge-{telegram_id}", total_amount=25
    )
    replay = botdesk.telegram_stars_credit(
        user=telegram_id, telegram_payment_charge_id=f"charge-{telegram_id}", total_amount=25
    )
    assert stars.id == replay.id
    assert botdesk.balance_detail(telegram_id, currency="RUB").available == Decimal("1035.00")

    # ledger, paged: four entries (bonus, top-up, stars) walked two at a time
    first = botdesk.transactions_list(telegram_id, limit=2)
    assert len(first.items) == 2 and first.next_cursor
    everything = list(botdesk.iter_transactions(telegram_id, page_size=2))
    assert [entry.type for entry in everything] == [
        TransactionType.TOPUP,
        TransactionType.TOPUP,
        TransactionType.BONUS,
    ]
    topups = botdesk.transactions_list(telegram_id, type=TransactionType.TOPUP)
    assert len(topups.items) == 2
    referrals = botdesk.referrals_list(referrer_id)
    assert referrals.referred_count == 1 and referrals.rewards_total == Decimal("102.50")
    assert [item.user for item in botdesk.iter_referrals(referrer_id)] == [str(telegram_id)]

    # promo codes, plans, subscriptions
    (promo,) = promo_codes_create_batch(
        count=1,
        amount=Decimal("5.00"),
        currency="RUB",
        expires_at=None,
        max_uses=None,
        batch="client-test",
        created_by=None,
    )
    assert botdesk.promo_code_redeem(telegram_id, code=promo.code).amount == Decimal("5.00")
    assert {plan.code for plan in botdesk.plans_list()} >= {"free", "pro", "premium"}
    assert botdesk.subscription_detail(telegram_id).plan == "free"
    assert botdesk.subscription_purchase(telegram_id, plan="pro").plan == "pro"

    # generations
    assert "client-flux" in {model.code for model in botdesk.models_list()}
    job = botdesk.generation_create(user=telegram_id, model="client-flux", prompt="a fox")
    assert job.status is GenerationStatus.PENDING and job.cost == Decimal("6.00")
    botdesk.generation_status_set(job.id, status="processing", task_id="t-1")
    done = botdesk.generation_status_set(
        job.id, status="succeeded", result_url="https://cdn.example.com/1.png"
    )
    assert done.is_final and botdesk.generation_detail(job.id).result_url == "https://cdn.example.com/1.png"
    assert [item.id for item in botdesk.generations_list(telegram_id, status="succeeded").items] == [job.id]
    assert [item.id for item in botdesk.iter_generations(telegram_id)] == [job.id]

    # projects
    project = botdesk.project_create(telegram_id, name="Cards")
    botdesk.project_item_add(project.id, generation=job.id)
    botdesk.project_item_add(project.id, model="outside", outputs={"url": "https://x.example/1"}, status="ok")
    assert botdesk.project_detail(project.id).items_count == 2
    assert [item.id for item in botdesk.projects_list(telegram_id).items] == [project.id]
    assert [item.id for item in botdesk.iter_projects(telegram_id)] == [project.id]

    # assistants, documents, search, dialogs
    assistant = botdesk.assistant_create(telegram_id, name="Support", instructions="Be brief.")
    assert botdesk.assistant_detail(assistant.id).name == "Support"
    assert [item.id for item in botdesk.assistant_list(telegram_id).items] == [assistant.id]
    assert [item.id for item in botdesk.iter_assistants(telegram_id)] == [assistant.id]
    document = botdesk.document_upload(
        assistant.id, title="Refunds", text="Unused balance is refunded within 14 days of the top-up."
    )
    assert document.status == "indexed"
    assert [item.id for item in botdesk.document_list(assistant.id).items] == [document.id]
    assert [item.id for item in botdesk.iter_documents(assistant.id)] == [document.id]
    hits = botdesk.assistant_search(assistant.id, query="refund within days", mode="hybrid")
    assert hits.items and hits.items[0].document_id == document.id
    dialog = botdesk.dialog_open(assistant.id, user=telegram_id, chat_id=telegram_id)
    assert botdesk.dialog_open(assistant.id, user=telegram_id, chat_id=telegram_id).id == dialog.id
    botdesk.message_create(dialog.id, role="user", content="How do I get a refund?")
    botdesk.message_create(dialog.id, role="assistant", content="Within 14 days.")
    assert [message.role for message in botdesk.iter_messages(dialog.id, page_size=1)] == [
        "assistant",
        "user",
    ]
    assert botdesk.message_list(dialog.id, limit=1).next_cursor
    assert botdesk.dialog_handoff(dialog.id, action="take", operator="anna").mode == "operator"
    assert botdesk.dialog_detail(dialog.id).operator == "anna"
    botdesk.document_delete(assistant.id, document.id)
    assert botdesk.document_list(assistant.id).items == []

    # logs
    assert (
        botdesk.provider_log_create(user=telegram_id, model="client-flux", duration_ms=5).status == "accepted"
    )
    assert botdesk.debug_log_post(level="info", message="hello from the client test").id > 0

    # errors arrive as the exception of their code
    with pytest.raises(NotFoundError):
        botdesk.user_detail(telegram_id_next())
    with pytest.raises(ValidationError) as invalid:
        botdesk.generation_create(user=telegram_id, model="", prompt="x")
    assert "model" in invalid.value.details
    poor = telegram_id_next()
    botdesk.user_upsert(poor)
    with pytest.raises(InsufficientFundsError) as short:
        for _ in range(3):
            botdesk.generation_create(user=poor, model="client-flux")
    assert short.value.status == 402

    missed = set(schema_operations()) - TESTED_SEPARATELY - recorder.seen
    assert not missed, f"operations the journey did not call: {sorted(missed)}"


def test_the_async_client_against_the_live_app(live_server, live_key, recorder, paid_model):
    import asyncio

    async def journey() -> None:
        http = httpx.AsyncClient(timeout=30, event_hooks={"request": [recorder.async_hook]})
        async with AsyncBotdeskClient(live_server.url, live_key, http_client=http) as botdesk:
            telegram_id = telegram_id_next()
            user = await botdesk.user_upsert(telegram_id, language_code="en")
            job = await botdesk.generation_create(user=user.telegram_id, model="client-flux", prompt="p")
            await botdesk.generation_status_set(job.id, status="failed", error_code="nsfw")
            assert (await botdesk.generation_detail(job.id)).status is GenerationStatus.FAILED
            assert [entry.type async for entry in botdesk.iter_transactions(telegram_id)] == ["bonus"]
        await http.aclose()

    asyncio.run(journey())
    assert {"PUT /users/{}", "POST /generations", "GET /users/{}/transactions"} <= recorder.seen


def test_refunds_through_the_client(botdesk, recorder, live_server, paid_model):
    telegram_id = telegram_id_next()
    botdesk.user_upsert(telegram_id)
    payment = botdesk.payment_create(telegram_id, amount="100.00")
    yookassa_succeed(live_server.url, payment)

    refund = botdesk.payment_refund_create(payment.id, amount="40.00", reason="asked")
    assert refund.amount == Decimal("40.00") and str(refund.payment) == str(payment.id)
    assert botdesk.refund_detail(refund.id).id == refund.id

    stars = botdesk.telegram_stars_credit(
        user=telegram_id, telegram_payment_charge_id=f"refund-{telegram_id}", total_amount=10
    )
    pending = botdesk.payment_refund_create(stars.id, reason="changed mind")
    assert pending.status == "pending"
    assert botdesk.refund_status_set(pending.id, status="succeeded").status == "succeeded"

    job = botdesk.generation_create(user=telegram_id, model="client-flux", prompt="p")
    botdesk.generation_status_set(job.id, status="succeeded", result_url="https://cdn.example.com/2.png")
    first = botdesk.generation_refund_create(job.id, reason="blank image")
    assert botdesk.generation_refund_create(job.id, reason="blank image").id == first.id
    assert first.amount == Decimal("6.00")
    assert recorder.seen >= REFUND_OPERATIONS


def test_webhook_settings_through_the_client(botdesk, recorder):
    created = botdesk.webhook_set(url="http://127.0.0.1:9/botdesk-events", events=["payment.succeeded"])
    assert created.secret and created.events == ["payment.succeeded"]
    assert botdesk.webhook_detail().url == "http://127.0.0.1:9/botdesk-events"
    botdesk.webhook_delete()
    with pytest.raises(NotFoundError):
        botdesk.webhook_detail()
    with pytest.raises(ValidationError) as invalid:
        botdesk.webhook_set(url="ftp://example.com/x")
    assert "url" in invalid.value.details
    assert recorder.seen >= WEBHOOK_OPERATIONS
