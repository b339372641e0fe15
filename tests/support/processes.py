"""Child processes of the tests: manage.py under production settings, servers on free local ports."""

import os
import socket
import subprocess
import sys

from django.conf import settings

# What production requires and has no default for (config/settings/production.py); SECRET_KEY is left to
# each test, which may want it missing.
PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "ALLOWED_HOSTS": "botdesk.example.com",
    "DATABASE_URL": "postgres://botdesk:botdesk@127.0.0.1:5432/botdesk",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
    "YOOKASSA_WEBHOOK_SECRET": "s" * 40,
}


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """Runs `manage.py *args` in a child process and returns it finished, output captured as text.

    The child gets this process's environment without PRODUCTION_ENV's names and SECRET_KEY, then `env`:
    so only what `env` sets of those is set. It is killed after 120 seconds.
    """
    base = {
        key: value for key, value in os.environ.items() if key not in PRODUCTION_ENV and key != "SECRET_KEY"
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listened on a moment ago (other engineers run servers here too)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
