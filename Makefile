# The two commands a newcomer needs: `make run` and `make test`. Both set up what they need first.
.PHONY: setup run test lint format stress bench bot

VENV := .venv/bin
export DJANGO_SETTINGS_MODULE ?= config.settings.local

setup:
	bash scripts/setup.sh

run: setup
	$(VENV)/python manage.py collectstatic --noinput -v 0
	$(VENV)/python manage.py seed_demo
	@echo
	@$(VENV)/python manage.py ensure_operator --username admin
	@echo "API key (bot 'demo-bot'): $$($(VENV)/python manage.py create_api_key demo-bot --rotate 2>/dev/null | tail -n1)"
	@echo "Admin: http://127.0.0.1:8000/admin/   API docs: http://127.0.0.1:8000/api/v1/docs"
	@echo
	$(VENV)/honcho start

test:
	bash scripts/setup.sh --no-migrate
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .
	DJANGO_SETTINGS_MODULE=config.settings.test $(VENV)/pytest

lint:
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .

format:
	$(VENV)/ruff check --fix .
	$(VENV)/ruff format .

# Fault tests on a stack of its own (PostgreSQL 15 cluster on 5433, Redis on 6380, gunicorn, Celery
# worker and beat), then the long randomized history and schemathesis runs; prints its own duration.
stress:
	bash scripts/setup.sh --no-migrate
	bash scripts/stress.sh

# The example Telegram bot (examples/aiogram_bot/README.md) against the Botdesk of `make run`:
#   BOT_TOKEN=123:abc make bot        (BOTDESK_URL and BOTDESK_API_KEY optional; a key is made if unset)
bot:
	@test -n "$$BOT_TOKEN" || { echo "BOT_TOKEN is required: ask @BotFather for a token" >&2; exit 2; }
	bash scripts/setup.sh --no-migrate
	BOTDESK_API_KEY="$${BOTDESK_API_KEY:-$$($(VENV)/python manage.py create_api_key example-bot --rotate 2>/dev/null | tail -n1)}" \
		$(VENV)/python -m examples.aiogram_bot
