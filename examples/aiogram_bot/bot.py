"""The bot: Telegram updates in (aiogram 3), Botdesk calls out (botdesk-client), Botdesk events in (aiohttp).

`build_dispatcher` and `events_app` take everything they use as arguments, so the tests feed them real
Telegram updates and events against a live Botdesk without any Telegram network.
"""

import logging
from collections import OrderedDict
from decimal import Decimal, InvalidOperation
from typing import Any

from aiogram import Bot, Dispatcher, F, Router
from aiogram.filters import Command, CommandObject, CommandStart, ExceptionTypeFilter
from aiogram.types import (
    ErrorEvent,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LabeledPrice,
    Message,
    PreCheckoutQuery,
)
from aiohttp import web
from pydantic import ValidationError as PydanticValidationError

from botdesk_client import (
    SIGNATURE_HEADER,
    AsyncBotdeskClient,
    BotdeskError,
    Event,
    EventType,
    ForbiddenError,
    InsufficientFundsError,
    NotFoundError,
    RateLimitedError,
    SignatureVerificationError,
    parse_event,
)
from examples.aiogram_bot.config import BotConfig
from examples.aiogram_bot.provider import GenerationProvider

logger = logging.getLogger(__name__)

REFERRAL_PREFIX = "ref_"
STARS_PAYLOAD_PREFIX = "stars:"
MAX_STARS = 10_000
START_FIRST = "Send /start first."


def referral_link(bot_username: str, telegram_id: int) -> str:
    """The deep link a user shares: opening it sends `/start ref_<their id>` to the bot."""
    return f"https://t.me/{bot_username}?start={REFERRAL_PREFIX}{telegram_id}"


def _referrer_of(args: str | None, telegram_id: int) -> int | None:
    if not args or not args.startswith(REFERRAL_PREFIX):
        return None
    digits = args[len(REFERRAL_PREFIX) :]
    if not digits.isdigit() or int(digits) == telegram_id:
        return None  # Botdesk refuses self-referral too; not sending it keeps the answer clean
    return int(digits)


def _key(message: Message, purpose: str) -> str:
    # Telegram may deliver an update again (webhook retries, a restarted poller): the same message makes
    # the same Idempotency-Key, so Botdesk answers the first outcome instead of charging twice.
    return f"tg:{purpose}:{message.chat.id}:{message.message_id}"


async def start(message: Message, command: CommandObject, botdesk: AsyncBotdeskClient, bot: Bot) -> None:
    sender = message.from_user
    assert sender is not None
    user = await botdesk.user_upsert(
        sender.id,
        username=sender.username,
        first_name=sender.first_name,
        last_name=sender.last_name,
        language_code=sender.language_code,
        referrer=_referrer_of(command.args, sender.id),
    )
    me = await bot.me()
    await message.answer(
        f"Hello, {sender.first_name}! Your balance: {user.balance.available} {user.balance.currency}.\n"
        "/generate <prompt> - make an image\n/balance - your balance\n"
        "/stars [n] - top up with Telegram Stars\n/topup [amount] - top up by card (YooKassa)\n"
        "/ask <question> - ask the knowledge base\n"
        f"Invite friends: {referral_link(me.username or 'bot', sender.id)}"
    )


async def balance(message: Message, botdesk: AsyncBotdeskClient) -> None:
    assert message.from_user is not None
    try:
        account = await botdesk.balance_detail(message.from_user.id)
    except NotFoundError:
        await message.answer(START_FIRST)
        return
    held = f" ({account.held} held for jobs in progress)" if account.held else ""
    await message.answer(f"Balance: {account.available} {account.currency}{held}.")


async def stars_invoice(message: Message, command: CommandObject, config: BotConfig) -> None:
    args = (command.args or "").strip()
    amount = int(args) if args.isdigit() else config.stars_default
    if not 1 <= amount <= MAX_STARS:
        await message.answer(f"Between 1 and {MAX_STARS} stars, please.")
        return
    await message.answer_invoice(
        title="Balance top-up",
        description=f"{amount} stars to your Botdesk balance",
        payload=f"{STARS_PAYLOAD_PREFIX}{amount}",
        currency="XTR",  # Telegram Stars: no provider token
        prices=[LabeledPrice(label=f"{amount} stars", amount=amount)],
    )


async def stars_pre_checkout(query: PreCheckoutQuery, botdesk: AsyncBotdeskClient) -> None:
    # Telegram waits at most 10 s for this answer; refuse what Botdesk could not credit.
    if query.currency != "XTR" or not query.invoice_payload.startswith(STARS_PAYLOAD_PREFIX):
        await query.answer(ok=False, error_message="This invoice is not one of ours.")
        return
    try:
        user = await botdesk.user_detail(query.from_user.id)
    except NotFoundError:
        await query.answer(ok=False, error_message=START_FIRST)
        return
    if user.is_blocked:
        await query.answer(ok=False, error_message="Your account is blocked.")
        return
    await query.answer(ok=True)


async def stars_paid(message: Message, botdesk: AsyncBotdeskClient) -> None:
    assert message.from_user is not None and message.successful_payment is not None
    # Everything Telegram sent goes to Botdesk (it ignores what it does not need); credited once per
    # telegram_payment_charge_id, so a redelivered update is answered with the same payment.
    fields = message.successful_payment.model_dump(mode="json", exclude_none=True)
    payment = await botdesk.telegram_stars_credit(user=message.from_user.id, **fields)
    account = await botdesk.balance_detail(message.from_user.id, currency=payment.currency)
    await message.answer(
        f"Thank you! {payment.amount} {payment.currency} credited. Balance: {account.available} {account.currency}."
    )


async def yookassa_topup(
    message: Message, command: CommandObject, botdesk: AsyncBotdeskClient, config: BotConfig
) -> None:
    assert message.from_user is not None
    try:
        amount = Decimal((command.args or config.topup_default).strip().replace(",", "."))
    except InvalidOperation:
        await message.answer("Usage: /topup 250")
        return
    try:
        payment = await botdesk.payment_create(
            message.from_user.id, amount=amount, idempotency_key=_key(message, "topup")
        )
    except NotFoundError:
        await message.answer(START_FIRST)
        return
    except BotdeskError as exc:
        if exc.code != "validation_error":
            raise
        await message.answer("That amount cannot be paid; try e.g. /topup 250")
        return
    button = InlineKeyboardButton(
        text=f"Pay {payment.amount} {payment.currency}", url=payment.confirmation_url
    )
    await message.answer(
        "Pay by card; the balance is credited as soon as the payment succeeds (I will tell you).",
        reply_markup=InlineKeyboardMarkup(inline_keyboard=[[button]]),
    )


async def generate(
    message: Message,
    command: CommandObject,
    botdesk: AsyncBotdeskClient,
    config: BotConfig,
    provider: GenerationProvider,
) -> None:
    assert message.from_user is not None
    prompt = (command.args or "").strip()
    if not prompt:
        await message.answer("Usage: /generate <prompt>")
        return
    try:
        job = await botdesk.generation_create(
            user=message.from_user.id, model=config.model, prompt=prompt, idempotency_key=_key(message, "gen")
        )
    except InsufficientFundsError:
        await message.answer("Not enough balance for this model: /stars or /topup.")
        return
    except RateLimitedError as exc:
        await message.answer(f"Too many jobs right now; try again in {int(exc.retry_after or 5)} s.")
        return
    except ForbiddenError:
        await message.answer("Your account is blocked.")
        return
    except NotFoundError:
        await message.answer(START_FIRST)
        return
    await message.answer(f"Generation #{job.id} started; {job.cost} {job.currency} is held until it is done.")

    outcome = await provider.run(model=job.model, prompt=prompt, parameters={})
    if outcome.ok:
        job = await botdesk.generation_status_set(
            job.id, status="succeeded", result_url=outcome.result_url, duration_ms=outcome.duration_ms
        )
        await message.answer(
            f"Generation #{job.id}: {job.status}. {job.result_url}\nCharged {job.cost} {job.currency}."
        )
    else:
        job = await botdesk.generation_status_set(
            job.id, status="failed", error_code=outcome.error_code, error_message=outcome.error_message
        )
        await message.answer(
            f"Generation #{job.id}: {job.status} ({job.error_message}). Nothing was charged."
        )


async def ask(
    message: Message, command: CommandObject, botdesk: AsyncBotdeskClient, config: BotConfig
) -> None:
    assert message.from_user is not None
    question = (command.args or "").strip()
    if config.assistant_id is None:
        await message.answer("No knowledge base is configured (BOT_ASSISTANT_ID).")
        return
    if not question:
        await message.answer("Usage: /ask <question>")
        return
    dialog = await botdesk.dialog_open(
        config.assistant_id, user=message.from_user.id, chat_id=message.chat.id
    )
    await botdesk.message_create(dialog.id, role="user", content=question)
    found = await botdesk.assistant_search(config.assistant_id, query=question, limit=3, mode="hybrid")
    answer = found.items[0].content if found.items else "I found nothing about that; an operator will answer."
    await botdesk.message_create(dialog.id, role="assistant", content=answer)
    await message.answer(answer)


async def on_botdesk_error(event: ErrorEvent) -> bool:
    """Botdesk down or refusing: the user hears so, the error goes to the log, the update is done."""
    logger.error("Botdesk call failed: %s", event.exception)
    message = event.update.message
    if message is not None:
        await message.answer("The service is busy; please try again in a minute.")
    return True


def build_router() -> Router:
    """A fresh router per dispatcher (an aiogram router belongs to one parent)."""
    router = Router(name="botdesk-example")
    router.message.register(start, CommandStart())
    router.message.register(balance, Command("balance"))
    router.message.register(stars_invoice, Command("stars"))
    router.pre_checkout_query.register(stars_pre_checkout)
    router.message.register(stars_paid, F.successful_payment)
    router.message.register(yookassa_topup, Command("topup"))
    router.message.register(generate, Command("generate"))
    router.message.register(ask, Command("ask"))
    return router


def build_dispatcher(
    *, botdesk: AsyncBotdeskClient, config: BotConfig, provider: GenerationProvider
) -> Dispatcher:
    dispatcher = Dispatcher(botdesk=botdesk, config=config, provider=provider)
    dispatcher.include_router(build_router())
    dispatcher.errors.register(on_botdesk_error, ExceptionTypeFilter(BotdeskError))
    return dispatcher


# --- Botdesk's events ------------------------------------------------------------------------------------

EVENT_TEXTS = {
    EventType.PAYMENT_SUCCEEDED: "Your payment of {amount} {currency} arrived. /balance",
    EventType.PAYMENT_CANCELED: "Your payment of {amount} {currency} was canceled; nothing was charged.",
    EventType.GENERATION_TIMEOUT: "Generation #{id} took too long and was stopped; nothing was charged.",
    EventType.SUBSCRIPTION_RENEWED: "Your {plan} subscription was renewed until {expires_at}.",
    EventType.SUBSCRIPTION_EXPIRED: "Your {plan} subscription has expired.",
}


class SeenEvents:
    """Event ids already handled (delivery is at least once). In memory for the example: a bot with
    several processes keeps them in Redis or its database."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._ids: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, event_id: str) -> bool:
        return event_id in self._ids

    def add(self, event_id: str) -> None:
        self._ids[event_id] = None
        while len(self._ids) > self.size:
            self._ids.popitem(last=False)


def _chat_of(data: dict[str, Any]) -> int | None:
    user = str(data.get("user") or "")
    return int(user) if user.isdigit() else None  # device:/ext: users have no Telegram chat


async def notify(bot: Bot, event: Event) -> None:
    template = EVENT_TEXTS.get(event.type)  # type: ignore[call-overload]
    chat_id = _chat_of(event.data)
    if template is None or chat_id is None:
        return
    await bot.send_message(chat_id, template.format_map({**event.data, "id": event.data.get("id")}))


def events_app(
    *, bot: Bot, secret: str, path: str = "/botdesk/events", seen: SeenEvents | None = None
) -> web.Application:
    """POST <path>: a Botdesk event. 400 for a bad signature (Botdesk will not fix it by retrying, but a
    forger learns nothing); 200 once handled or already seen; 500 lets Botdesk retry later."""
    seen = seen if seen is not None else SeenEvents()

    async def receive(request: web.Request) -> web.Response:
        body = await request.read()
        try:
            event = parse_event(body, request.headers.get(SIGNATURE_HEADER), secret)
        except (SignatureVerificationError, PydanticValidationError) as exc:
            logger.warning("refused an event: %s", exc)
            return web.json_response({"error": "invalid signature or body"}, status=400)
        if event.id not in seen:
            await notify(bot, event)  # a Telegram failure raises: 500, and Botdesk delivers it again
            seen.add(event.id)
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post(path, receive)
    return app
