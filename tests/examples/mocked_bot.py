"""A Bot whose session never reaches Telegram, as in aiogram's own tests (tests/mocked_bot.py there):
every Bot API method the bot calls is recorded and answered with what Telegram would return."""

from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from typing import Any

from aiogram import Bot
from aiogram.client.session.base import BaseSession
from aiogram.methods import TelegramMethod
from aiogram.types import Chat, Message, User

BOT_USER = User(id=42, is_bot=True, first_name="Botdesk example", username="botdesk_example_bot")


class MockedSession(BaseSession):
    def __init__(self) -> None:
        super().__init__()
        self.requests: list[TelegramMethod[Any]] = []
        self._message_id = 5000

    async def make_request(self, bot: Bot, method: TelegramMethod[Any], timeout: int | None = None) -> Any:
        self.requests.append(method)
        returning = method.__returning__
        if returning is bool:
            return True
        if returning is User:
            return BOT_USER
        if returning is Message:
            self._message_id += 1
            chat_id = int(method.chat_id)  # type: ignore[attr-defined]
            return Message(
                message_id=self._message_id,
                date=datetime.now(UTC),
                chat=Chat(id=chat_id, type="private"),
                from_user=BOT_USER,
                text=getattr(method, "text", None),
            )
        raise AssertionError(f"the example bot is not expected to call {type(method).__name__}")

    async def stream_content(self, url: str, *args: Any, **kwargs: Any) -> AsyncGenerator[bytes, None]:
        yield b""

    async def close(self) -> None:
        pass

    def sent(self, kind: type[TelegramMethod[Any]]) -> list[Any]:
        return [request for request in self.requests if isinstance(request, kind)]


class MockedBot(Bot):
    session: MockedSession

    def __init__(self) -> None:
        super().__init__("42:TEST", session=MockedSession())
        self._me = BOT_USER
