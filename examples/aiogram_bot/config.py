"""The bot's settings, from the environment (see README.md)."""

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class BotConfig:
    bot_token: str
    botdesk_url: str = "http://127.0.0.1:8000"
    botdesk_api_key: str = ""
    model: str = "flux-2-pro"
    assistant_id: int | None = None
    stars_default: int = 50
    topup_default: str = "100.00"
    events_host: str = "127.0.0.1"
    events_port: int = 8081
    events_path: str = "/botdesk/events"
    # Where Botdesk can reach events_path from outside (registered with PUT /webhook at start), or the
    # signing secret of a webhook registered before (then nothing is registered).
    events_public_url: str | None = None
    webhook_secret: str | None = None

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "BotConfig":
        env = dict(os.environ if environ is None else environ)
        token = env.get("BOT_TOKEN", "")
        if not token:
            raise SystemExit("BOT_TOKEN is required (ask @BotFather for one)")
        assistant = env.get("BOT_ASSISTANT_ID")
        return cls(
            bot_token=token,
            botdesk_url=env.get("BOTDESK_URL", cls.botdesk_url),
            botdesk_api_key=env.get("BOTDESK_API_KEY", ""),
            model=env.get("BOT_MODEL", cls.model),
            assistant_id=int(assistant) if assistant else None,
            stars_default=int(env.get("BOT_STARS_DEFAULT", cls.stars_default)),
            topup_default=env.get("BOT_TOPUP_DEFAULT", cls.topup_default),
            events_host=env.get("BOT_EVENTS_HOST", cls.events_host),
            events_port=int(env.get("BOT_EVENTS_PORT", cls.events_port)),
            events_public_url=env.get("BOT_EVENTS_PUBLIC_URL") or None,
            webhook_secret=env.get("BOTDESK_WEBHOOK_SECRET") or None,
        )
