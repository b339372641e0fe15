"""An aiogram 3 Telegram bot on Botdesk, through botdesk-client. Start with README.md."""
