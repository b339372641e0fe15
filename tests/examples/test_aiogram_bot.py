"""The example bot (examples/aiogram_bot) end to end: real Telegram updates fed to its Dispatcher with a
mocked Bot session (no Telegram network), calling the live Botdesk over HTTP through botdesk-client."""

import asyncio
import json
from decimal import Decimal
from pathlib import Path

import pytest
from aiogram.methods import AnswerPreCheckoutQuery, SendInvoice, SendMessage
from aiogram.types import Update
from aiohttp.test_utils import TestClient, TestServer

from assistants.models import Dialog
from billing.models import Payment
from botdesk_client import AsyncBotdeskClient, sign_payload
from examples.aiogram_bot.bot import SeenEvents, build_dispatcher, events_app, referral_link
from examples.aiogram_bot.config import BotConfig
from examples.aiogram_bot.provider import FakeProvider
from generations.models import Generation
from tests.examples.mocked_bot import MockedBot
from tests.support.live import yookassa_succeed

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

UPDATES = json.loads((Path(__file__).parent / "telegram_updates.json").read_text())
REFERRER, ALICE = 111000001, 111000002
SECRET = "whsec_example"


def run_bot(live_server, live_key, names: list[str], botdesk_url: str | None = None, **config) -> MockedBot:
    """Feeds the named updates, in order, to a fresh dispatcher; returns the bot with what it sent."""
    bot = MockedBot()

    async def feed() -> None:
        async with AsyncBotdeskClient(botdesk_url or live_server.url, live_key, max_retries=0) as botdesk:
            dispatcher = build_dispatcher(
                botdesk=botdesk,
                config=BotConfig(bot_token="42:TEST", model="client-flux", **config),
                provider=FakeProvider(),
            )
            for name in names:
                await dispatcher.feed_update(bot, Update.model_validate(UPDATES[name], context={"bot": bot}))

    asyncio.run(feed())
    return bot


def texts(bot: MockedBot) -> list[str]:
    return [request.text for request in bot.session.sent(SendMessage)]


def test_start_with_a_referral_link_registers_the_user_with_referrer_and_language(live_server, live_key):
    from accounts.selectors import end_user_get

    bot = run_bot(live_server, live_key, ["start_referrer", "start_with_referral", "balance"])

    alice = end_user_get(ref=str(ALICE))
    assert (
        alice.referrer.telegram_id == REFERRER
        and alice.language_code == "en"
        and alice.username == "alice_sm"
    )
    hello, balance = texts(bot)[1:]
    assert "Hello, Alice! Your balance: 10.00 RUB" in hello
    assert referral_link("botdesk_example_bot", ALICE) in hello
    assert balance == "Balance: 10.00 RUB."


def test_telegram_stars_invoice_pre_checkout_and_successful_payment(live_server, live_key):
    bot = run_bot(
        live_server,
        live_key,
        ["start_with_referral", "stars", "pre_checkout_query", "successful_payment", "successful_payment"],
    )

    (invoice,) = bot.session.sent(SendInvoice)
    assert (invoice.currency, invoice.payload, invoice.prices[0].amount) == ("XTR", "stars:50", 50)
    (answer,) = bot.session.sent(AnswerPreCheckoutQuery)
    assert answer.ok is True and answer.pre_checkout_query_id == "4382109847201938475"
    # The update delivered twice credits once.
    (payment,) = Payment.objects.filter(provider="telegram_stars")
    assert payment.amount == Decimal("50.00")
    assert texts(bot)[-2:] == ["Thank you! 50.00 RUB credited. Balance: 60.00 RUB."] * 2


def test_pre_checkout_is_refused_for_an_unknown_user(live_server, live_key):
    bot = run_bot(live_server, live_key, ["pre_checkout_query"])

    (answer,) = bot.session.sent(AnswerPreCheckoutQuery)
    assert answer.ok is False and answer.error_message == "Send /start first."


def test_yookassa_link_top_up(live_server, live_key):
    bot = run_bot(live_server, live_key, ["start_with_referral", "topup", "topup"])

    (payment,) = Payment.objects.filter(provider="yookassa")  # the repeated update made no second payment
    assert payment.amount == Decimal("250.00") and payment.status == "pending"
    last = bot.session.sent(SendMessage)[-1]
    (button,) = last.reply_markup.inline_keyboard[0]
    assert button.url == payment.confirmation_url and button.text == "Pay 250.00 RUB"


def test_generate_holds_completes_through_the_provider_and_reports(live_server, live_key, paid_model):
    names = ["start_with_referral", "successful_payment", "generate", "generate_fail", "balance"]
    bot = run_bot(live_server, live_key, names)

    done, failed = Generation.objects.order_by("pk")
    assert (done.status, done.prompt, done.result_url.startswith("https://cdn.example.com/fake/")) == (
        "succeeded",
        "a red fox in the snow, watercolour",
        True,
    )
    assert failed.status == "failed" and failed.error_code == "fake_failure"
    sent = texts(bot)
    assert sent[2] == f"Generation #{done.pk} started; 6.00 RUB is held until it is done."
    assert sent[3].startswith(f"Generation #{done.pk}: succeeded. https://cdn.example.com/fake/")
    assert sent[3].endswith("Charged 6.00 RUB.")
    assert sent[5] == f"Generation #{failed.pk}: failed (asked to fail). Nothing was charged."
    assert sent[6] == "Balance: 54.00 RUB."


def test_generate_without_money_says_so(live_server, live_key, paid_model):
    paid_model.price = Decimal("50.00")
    paid_model.save(update_fields=["price"])

    bot = run_bot(live_server, live_key, ["start_with_referral", "generate"])

    assert texts(bot)[-1] == "Not enough balance for this model: /stars or /topup."
    assert not Generation.objects.exists()


def test_botdesk_out_of_reach_is_told_to_the_user_not_raised(live_server, live_key, free_tcp_port):
    bot = run_bot(live_server, live_key, ["balance"], botdesk_url=f"http://127.0.0.1:{free_tcp_port}")

    assert texts(bot) == ["The service is busy; please try again in a minute."]


def test_ask_searches_the_assistant_and_keeps_the_dialog(live_server, live_key, botdesk):
    botdesk.user_upsert(REFERRER)
    assistant = botdesk.assistant_create(REFERRER, name="Support")
    botdesk.document_upload(assistant.id, title="Refunds", text="A refund of unused balance takes 14 days.")
    botdesk.document_upload(assistant.id, title="Models", text="Images are made by FLUX in a few seconds.")

    bot = run_bot(live_server, live_key, ["start_with_referral", "ask"], assistant_id=assistant.id)

    assert texts(bot)[-1] == "A refund of unused balance takes 14 days."
    dialog = Dialog.objects.get()
    assert dialog.chat_id == str(ALICE) and dialog.messages_count == 2


def test_a_signed_payment_event_tells_the_user_and_a_forged_or_repeated_one_does_not(
    live_server, live_key, botdesk
):
    botdesk.user_upsert(ALICE)
    payment = botdesk.payment_create(ALICE, amount="100.00")
    yookassa_succeed(live_server.url, payment)
    data = botdesk.payment_detail(payment.id).model_dump(mode="json")
    body = json.dumps(
        {"id": "evt_42", "type": "payment.succeeded", "created_at": "2026-12-01T10:00:00Z", "data": data}
    ).encode()
    bot = MockedBot()

    async def deliver() -> list[int]:
        app = events_app(bot=bot, secret=SECRET, seen=SeenEvents())
        async with TestClient(TestServer(app)) as client:
            statuses = []
            for header in (
                sign_payload(body, "not the secret"),
                sign_payload(body, SECRET, timestamp=1),  # a replay from long ago
                sign_payload(body, SECRET),
                sign_payload(body, SECRET),  # the same event again: at least once delivery
            ):
                response = await client.post(
                    "/botdesk/events",
                    data=body,
                    headers={"Botdesk-Signature": header, "Content-Type": "application/json"},
                )
                statuses.append(response.status)
            return statuses

    assert asyncio.run(deliver()) == [400, 400, 200, 200]
    (notice,) = bot.session.sent(SendMessage)
    assert (notice.chat_id, notice.text) == (ALICE, "Your payment of 100.00 RUB arrived. /balance")
