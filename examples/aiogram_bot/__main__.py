"""`make bot` (or `python -m examples.aiogram_bot`): long polling plus the events endpoint."""

import asyncio
import logging

from aiogram import Bot
from aiohttp import web

from botdesk_client import AsyncBotdeskClient
from examples.aiogram_bot.bot import build_dispatcher, events_app
from examples.aiogram_bot.config import BotConfig
from examples.aiogram_bot.provider import FakeProvider

logger = logging.getLogger("examples.aiogram_bot")


async def main() -> None:
    config = BotConfig.from_env()
    if not config.botdesk_api_key:
        raise SystemExit("BOTDESK_API_KEY is required (manage.py create_api_key NAME prints one)")
    async with AsyncBotdeskClient(config.botdesk_url, config.botdesk_api_key) as botdesk:
        bot = Bot(config.bot_token)
        secret = config.webhook_secret
        if secret is None and config.events_public_url:
            webhook = await botdesk.webhook_set(url=config.events_public_url)
            secret = webhook.secret
            logger.info("Botdesk sends events to %s", webhook.url)
        runner: web.AppRunner | None = None
        if secret is not None:
            runner = web.AppRunner(events_app(bot=bot, secret=secret, path=config.events_path))
            await runner.setup()
            await web.TCPSite(runner, config.events_host, config.events_port).start()
            logger.info(
                "events endpoint on http://%s:%s%s",
                config.events_host,
                config.events_port,
                config.events_path,
            )
        else:
            logger.warning("no BOT_EVENTS_PUBLIC_URL or BOTDESK_WEBHOOK_SECRET: payment notices are off")
        try:
            await build_dispatcher(botdesk=botdesk, config=config, provider=FakeProvider()).start_polling(bot)
        finally:
            if runner is not None:
                await runner.cleanup()
            await bot.session.close()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    asyncio.run(main())
