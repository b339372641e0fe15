"""The failure throttle behind a real proxy hop and several gunicorn workers: one counter for all of them.

gunicorn runs with two workers that each exit after one request (`--max-requests 1`), so every request
below is served by a process that has never seen the previous ones: only a counter shared through
Redis can refuse the fifth wrong key. The access log's pid per request proves it.
"""

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from django.db import connection

from accounts.services import api_key_create
from tests.support.processes import free_port

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 4


@pytest.fixture
def gunicorn(_throttle_namespace, tmp_path):
    db = connection.settings_dict
    port = free_port()
    access_log = tmp_path / "access.log"
    env = {
        **{key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")},
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "THROTTLE_KEY_PREFIX": _throttle_namespace,
        "TRUSTED_PROXIES": "127.0.0.1",  # this test is the proxy: it writes X-Forwarded-For
        "API_AUTH_FAILURE_LIMIT": str(LIMIT),
        "PYTHONPATH": str(ROOT),
    }
    process = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--max-requests",
            "1",
            "--preload",
            "--access-logfile",
            str(access_log),
            "--access-logformat",
            "%(p)s %(s)s",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "gunicorn.log").open("wb"),
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=5).status_code in (200, 503):
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, (tmp_path / "gunicorn.log").read_text()
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.3)
        yield base, access_log
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def test_workers_share_the_failure_counter(gunicorn):
    base, access_log = gunicorn
    _, good_key = api_key_create(name="gunicorn-bot")

    def call(key: str, client_ip: str) -> int:
        headers = {"Authorization": f"Bearer {key}", "X-Forwarded-For": client_ip}
        return httpx.get(f"{base}/api/v1/plans", headers=headers, timeout=30).status_code

    # when an attacker sends wrong keys, each request to a fresh worker process
    answers = [call(f"bd_attack{n}-gunicorn", "203.0.113.7") for n in range(LIMIT + 2)]

    # then the limit holds across processes, valid keys pass, and other clients are unaffected
    assert answers == [401] * LIMIT + [429, 429]
    assert call(good_key, "203.0.113.7") == 200
    assert call("bd_typo0000-gunicorn", "198.51.100.2") == 401
    served_by = [line.split()[0] for line in access_log.read_text().splitlines()]
    api_calls = served_by[-(LIMIT + 4) :]
    assert len(set(api_calls)) == len(api_calls), "each request should have met a new worker process"
