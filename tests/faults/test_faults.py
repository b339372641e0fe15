"""Fault tests against a real stack: gunicorn (3 workers), a Celery worker, Celery beat, PostgreSQL, Redis.

Run by `make stress` (scripts/stress.sh), which makes a PostgreSQL cluster on 5433 and a Redis on 6380
of its own; these tests restart and stop only those, never the shared servers on 5432 and 6379.
Each test prints how many requests it sent and which answers came back, and ends with ledger_check.
"""

import hashlib
import json
import logging
import os
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.support.processes import free_port

logging.getLogger("httpx").setLevel(logging.WARNING)

pytestmark = pytest.mark.skipif(
    os.environ.get("BOTDESK_FAULTS") != "1", reason="fault tests run in `make stress` (scripts/stress.sh)"
)

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".venv" / "bin"
DATABASE_URL = os.environ.get(
    "STRESS_DATABASE_URL", "postgres://botdesk:botdesk@127.0.0.1:5433/botdesk_stress"
)
# With STRESS_DATABASE_POOLER=pgbouncer (make stress's default) DATABASE_URL is pgbouncer's port (6433) in
# transaction mode, and the stack runs with DATABASE_POOLER=pgbouncer.
POOLER = os.environ.get("STRESS_DATABASE_POOLER", "")
BROKER_URL = os.environ.get("STRESS_BROKER_URL", "redis://127.0.0.1:6380/0")
REDIS_PORT = int(BROKER_URL.rsplit(":", 1)[1].split("/")[0])
PG_CLUSTER = ("15", "botdesk_stress")


# A port nobody else listens on: other engineers run servers on this machine too.
HTTP_PORT = int(os.environ.get("STRESS_HTTP_PORT") or free_port())
BASE = f"http://127.0.0.1:{HTTP_PORT}"
WEBHOOK_SECRET = "stress-webhook-secret"
GENERATION_TIMEOUT_SECONDS = 20
BEAT_PERIOD_SECONDS = 60  # generations-timeout runs every minute (ops/schedules.py)
LOGS = Path("/tmp/botdesk-stress-logs")

STACK_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "SECRET_KEY": "stress-" + "k" * 60,
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "DATABASE_URL": DATABASE_URL,
    "CELERY_BROKER_URL": BROKER_URL,
    "YOOKASSA_MODE": "fake",
    "YOOKASSA_WEBHOOK_SECRET": WEBHOOK_SECRET,
    "SECURE_SSL_REDIRECT": "false",
    "GENERATION_TIMEOUT_SECONDS": str(GENERATION_TIMEOUT_SECONDS),
    "HOLD_TTL_SECONDS": "30",
    "RATE_LIMITS_ENABLED": "false",
    "DATABASE_CONNECT_TIMEOUT": "2",
    "API_AUTH_FAILURE_LIMIT": "1000",
    # The webhook receiver of the event tests listens on 127.0.0.1; retries are shortened so that a run
    # takes minutes (production: 10 s growing to 6 h, more than 24 h in all), and so is the lease.
    "WEBHOOKS_ALLOW_PRIVATE_URLS": "true",
    "WEBHOOK_RETRY_DELAYS_SECONDS": "2,4,8,15,30,60",
    "WEBHOOK_DELIVERY_LEASE_SECONDS": "20",
    "DATABASE_POOLER": POOLER,
    # the failure throttle's counters: the stress Redis, never the shared one
    "REDIS_URL": BROKER_URL.rsplit("/", 1)[0] + "/1",
}


def stack_env() -> dict[str, str]:
    base = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "PYTEST_"))}
    return {**base, **STACK_ENV, "PYTHONPATH": str(ROOT)}


def manage(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(VENV / "python"), "manage.py", *args],
        cwd=ROOT,
        env=stack_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


def sql(query: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(DATABASE_URL, autocommit=True, connect_timeout=5) as conn:
        return conn.execute(query, params).fetchall()


def ledger_check_clean() -> None:
    result = manage("ledger_check")
    assert result.returncode == 0, result.stdout + result.stderr


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_until(predicate, *, timeout: float, what: str, every: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Process:
    """A stack process in its own process group, so a SIGKILL takes its children (pool workers) too."""

    def __init__(self, name: str, args: list[str]) -> None:
        self.name, self.args = name, args
        self.popen: subprocess.Popen | None = None

    def start(self) -> None:
        LOGS.mkdir(exist_ok=True)
        log = (LOGS / f"{self.name}.log").open("ab")
        self.popen = subprocess.Popen(
            self.args, cwd=ROOT, env=stack_env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.popen and self.popen.poll() is None:
            os.killpg(self.popen.pid, sig)
            self.popen.wait(timeout=30)

    def stop(self) -> None:
        if self.popen and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None


class Stack:
    def __init__(self) -> None:
        celery = str(VENV / "celery")
        self.web = Process(
            "gunicorn",
            [str(VENV / "gunicorn"), "config.wsgi:application", "--bind", f"127.0.0.1:{HTTP_PORT}", "--workers", "3",
             "--timeout", "60", "--graceful-timeout", "5"],
        )  # fmt: skip
        self.worker = Process(
            "worker",
            [celery, "-A", "config", "worker", "-I", "tests.faults.fault_tasks", "--concurrency", "2",
             "--loglevel", "INFO", "--without-gossip", "--without-mingle", "-n", f"stress-{uuid.uuid4().hex[:6]}@%h"],
        )  # fmt: skip
        self.beat = Process(
            "beat",
            [celery, "-A", "config", "beat", "--loglevel", "INFO", "--schedule", "/tmp/botdesk-stress-beat",
             "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler"],
        )  # fmt: skip

    def worker_start(self) -> None:
        log = LOGS / "worker.log"
        before = log.read_text(errors="replace").count(" ready.") if log.exists() else 0
        self.worker.start()
        wait_until(
            lambda: log.read_text(errors="replace").count(" ready.") > before, timeout=90, what="worker"
        )

    def redis_start(self) -> None:
        if not port_open(REDIS_PORT):
            subprocess.run(
                ["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "--port", str(REDIS_PORT), "--save", "",
                 "--appendonly", "no", "--pidfile", "/tmp/botdesk-stress-redis.pid",
                 "--logfile", "/tmp/botdesk-stress-redis.log"],
                check=True,
            )  # fmt: skip
            wait_until(lambda: port_open(REDIS_PORT), timeout=10, what="redis")

    def redis_stop(self) -> None:
        subprocess.run(
            ["redis-cli", "-p", str(REDIS_PORT), "shutdown", "nosave"], capture_output=True, timeout=10
        )
        wait_until(lambda: not port_open(REDIS_PORT), timeout=10, what="redis to stop")


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    for log in LOGS.glob("*.log") if LOGS.exists() else []:
        log.unlink()
    assert not port_open(HTTP_PORT), f"port {HTTP_PORT} is taken"
    stack = Stack()
    stack.redis_start()
    stack.web.start()
    stack.worker_start()
    stack.beat.start()
    wait_until(lambda: port_open(HTTP_PORT), timeout=60, what="gunicorn")
    assert stack.web.alive, (LOGS / "gunicorn.log").read_text()
    try:
        yield stack
    finally:
        for process in (stack.beat, stack.worker, stack.web):
            process.stop()


@pytest.fixture(scope="module")
def raw_key(stack) -> str:
    result = manage("create_api_key", f"stress-{uuid.uuid4().hex[:6]}")
    assert result.returncode == 0, result.stderr
    key = result.stdout.strip().splitlines()[-1]
    script = (
        "from generations.models import AIModel; AIModel.objects.get_or_create(code='stress-img', defaults="
        "dict(name='Stress', category='image', provider='test', price='3.00', currency='RUB'))"
    )
    created = manage("shell", "-c", script)
    assert created.returncode == 0, created.stderr
    return key


def client(raw_key: str, **kwargs) -> httpx.Client:
    return httpx.Client(base_url=BASE, headers={"Authorization": f"Bearer {raw_key}"}, timeout=30, **kwargs)


def report(name: str, sent: Counter, answers: Counter) -> None:
    print(f"\nfault {name}: sent {dict(sent)}; answers {dict(sorted(answers.items(), key=str))}")


# --- 1. a worker killed between hold and capture ------------------------------------------------


def test_worker_killed_between_hold_and_capture_releases_the_hold(stack, raw_key):
    from celery import Celery

    sent, answers = Counter(), Counter()
    user = str(9_100_000_000 + int(time.time()) % 1_000_000)
    with client(raw_key) as api:
        answers[api.put(f"/api/v1/users/{user}", json={}).status_code] += 1
        created = api.post(
            "/api/v1/generations",
            json={"user": user, "model": "stress-img", "prompt": "killed", "parameters": {}},
            headers={"Idempotency-Key": f"kill-{user}"},
        )
        sent["requests"] += 2
        answers[created.status_code] += 1
        assert created.status_code == 201, created.text
        generation_id = created.json()["id"]
        hold_sql = "SELECT h.status FROM billing_hold h WHERE h.reference = %s"
        assert sql(hold_sql, (f"generation:{generation_id}",)) == [("open",)]

        # when a worker takes the job, marks it processing and is SIGKILLed mid-work
        producer = Celery(broker=BROKER_URL)
        producer.send_task("stress.generation_work", args=[generation_id, BASE, raw_key, 600])
        sent["tasks"] += 1

        def processing():
            sent["requests"] += 1
            response = api.get(f"/api/v1/generations/{generation_id}")
            answers[response.status_code] += 1
            return response.json()["status"] == "processing"

        wait_until(processing, timeout=60, what="the worker to start the job")
        stack.worker.kill(signal.SIGKILL)
        killed_at = time.time()
        assert sql(hold_sql, (f"generation:{generation_id}",)) == [("open",)], (
            "the hold is open after the kill"
        )
        # the supervisor (systemd, honcho) starts a fresh worker; the killed job's message is not redelivered
        stack.worker_start()

        # then beat's timeout sweep releases the hold within one period after the job's deadline
        created_at = sql(
            "SELECT extract(epoch FROM created_at) FROM generations_generation WHERE id = %s",
            (generation_id,),
        )
        deadline = float(created_at[0][0]) + GENERATION_TIMEOUT_SECONDS

        def released():
            sent["requests"] += 1
            response = api.get(f"/api/v1/generations/{generation_id}")
            answers[response.status_code] += 1
            return response.json()["status"] == "timeout" and sql(hold_sql, (f"generation:{generation_id}",))

        wait_until(
            released,
            timeout=max(0, deadline - time.time()) + BEAT_PERIOD_SECONDS + 20,
            what="release",
            every=2,
        )
        released_after = time.time() - deadline
        assert sql(hold_sql, (f"generation:{generation_id}",)) == [("released",)]
        balance = api.get(f"/api/v1/users/{user}/balance").json()
        sent["requests"] += 1
        assert (balance["balance"], balance["held"]) == ("10.00", "0.00")
    print(
        f"\nfault worker-kill: killed {time.time() - killed_at:.0f}s ago; released {released_after:.1f}s after the deadline"
    )
    report("worker-kill", sent, answers)
    assert released_after <= BEAT_PERIOD_SECONDS + 15
    ledger_check_clean()


# --- 2. PostgreSQL restarted while clients keep sending -----------------------------------------


def restart_under_load(stack, raw_key, *, name: str, restart: list[str], expect_outage: bool) -> None:
    """Four bots keep sending paid generations (each retried with its key until decided) while
    `restart` runs; then: JSON answers only, 503 + Retry-After during the outage, recovery without
    restarting gunicorn, one job and one hold per decided key, ledger_check clean."""
    stop = threading.Event()
    lock = threading.Lock()
    answers, sent, bad = Counter(), Counter(), []
    decided_keys: dict[str, int] = {}  # Idempotency-Key -> generation id of its 201
    run_id = uuid.uuid4().hex[:6]
    timeline: list[tuple[float, bool]] = []  # (when, answered 2xx) of every generation request

    def bot(index: int) -> None:
        user = str(9_200_000_000 + index * 1000 + int(time.time()) % 1000)
        number = 0
        with client(raw_key) as api:
            while True:  # money first (Telegram Stars, once per charge id), so that most jobs are paid
                try:
                    api.put(f"/api/v1/users/{user}", json={})
                    stars = api.post(
                        "/api/v1/payments/telegram-stars",
                        json={"user": user, "telegram_payment_charge_id": f"pg-{run_id}-{index}",
                              "currency": "XTR", "total_amount": 3000, "invoice_payload": "stress"},
                    )  # fmt: skip
                    if stars.status_code in {200, 201}:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.5)
            while not stop.is_set() and number < 2_000:
                number += 1
                key = f"pg-{run_id}-{index}-{number}"
                for attempt in range(60):  # a bot retries with the same key until the outcome is decided
                    try:
                        if attempt == 0 or number == 1:
                            api.put(f"/api/v1/users/{user}", json={})
                        response = api.post(
                            "/api/v1/generations",
                            json={"user": user, "model": "stress-img", "prompt": "restart", "parameters": {}},
                            headers={"Idempotency-Key": key},
                        )
                    except httpx.HTTPError as exc:
                        with lock:
                            answers[type(exc).__name__] += 1
                            timeline.append((time.monotonic(), False))
                        time.sleep(0.5)
                        continue
                    with lock:
                        sent["requests"] += 1
                        answers[response.status_code] += 1
                        timeline.append((time.monotonic(), response.status_code < 500))
                        if not response.headers.get("content-type", "").startswith("application/json"):
                            bad.append(f"non-JSON {response.status_code}: {response.text[:200]}")
                        elif response.status_code >= 500 and response.status_code != 503:
                            bad.append(f"{response.status_code}: {response.text[:200]}")
                        elif response.status_code == 503:
                            assert response.json()["error"]["code"] == "service_unavailable"
                            assert response.headers.get("Retry-After")
                    if response.status_code == 503:
                        time.sleep(0.5)
                        continue
                    if response.status_code == 201:
                        with lock:
                            decided_keys[key] = response.json()["id"]
                        finish = api.post(
                            f"/api/v1/generations/{response.json()['id']}/status",
                            json={"status": "succeeded" if number % 3 else "failed"},
                        )
                        with lock:
                            sent["requests"] += 1
                            answers[f"status:{finish.status_code}"] += 1
                    break

    threads = [threading.Thread(target=bot, args=(index,)) for index in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(4)
    # when the database (or the pooler) restarts under load
    restart_started = time.monotonic()
    restarted = subprocess.run(restart, capture_output=True, text=True, timeout=120)
    assert restarted.returncode == 0, restarted.stderr
    restarted_at = time.monotonic()
    # the bots keep going; the service must come back by itself (gunicorn is not restarted)
    time.sleep(8)
    stop.set()
    for thread in threads:
        thread.join(120)
    web_pid_unchanged = stack.web.alive
    with client(raw_key) as api:
        health = api.get("/api/v1/health")
    report(name, sent, answers)
    failures = [when for when, ok in timeline if not ok and when >= restart_started]
    last_failure = max(failures, default=restart_started)
    recovered = min((when for when, ok in timeline if ok and when > last_failure), default=None)
    recovery = f"{recovered - restart_started:.1f}s" if recovered is not None else "never"
    print(
        f"fault {name}: restart took {restarted_at - restart_started:.1f}s; {len(failures)} failed answers "
        f"after it began; first success after the last failure {recovery} after the restart began; "
        f"health {health.status_code}"
    )

    # then there were only JSON answers, 503s during the outage, and the service recovered
    assert bad == []
    assert web_pid_unchanged and health.status_code == 200
    assert recovered is not None
    if expect_outage:
        assert (
            answers[503] + answers["ConnectError"] + answers["ReadError"] + answers["RemoteProtocolError"]
            >= 1
        )
    # and nothing is half-written: one generation and one hold per decided key, no job without its hold
    keys = list(decided_keys)
    rows = sql(
        "SELECT count(*), count(DISTINCT g.id) FROM generations_generation g JOIN billing_hold h "
        "ON h.reference = 'generation:' || g.id WHERE g.id = ANY(%s)",
        (list(decided_keys.values()),),
    )
    assert rows == [(len(keys), len(keys))]
    orphans = sql(
        "SELECT count(*) FROM generations_generation g WHERE g.prompt = 'restart' AND g.is_free = false "
        "AND NOT EXISTS (SELECT 1 FROM billing_hold h WHERE h.reference = 'generation:' || g.id)"
    )
    assert orphans == [(0,)]
    recorded = sql("SELECT count(*) FROM billing_idempotency_record WHERE key LIKE %s", (f"pg-{run_id}-%",))
    print(f"fault {name}: decided keys {len(keys)}, idempotency records {recorded[0][0]}")
    ledger_check_clean()


def test_postgres_restart_gives_503_then_recovers_without_half_writes(stack, raw_key):
    restart_under_load(
        stack,
        raw_key,
        name="postgres-restart",
        restart=["pg_ctlcluster", *PG_CLUSTER, "restart"],
        expect_outage=True,
    )


# --- 2b. behind pgbouncer (transaction pooling): a hard restart of the pooler, and no session state ----

needs_pgbouncer = pytest.mark.skipif(
    POOLER != "pgbouncer", reason="runs when make stress puts pgbouncer in front"
)


@needs_pgbouncer
def test_pgbouncer_restart_under_load_recovers_without_half_writes(stack, raw_key):
    restart_under_load(
        stack,
        raw_key,
        name="pgbouncer-restart",
        restart=["bash", str(ROOT / "scripts" / "stress_pgbouncer.sh"), "restart"],
        expect_outage=False,  # a fast restart may fall between two requests of every worker
    )


@needs_pgbouncer
def test_pgbouncer_session_state_does_not_leak_and_the_lease_holds():
    # the leader lease: held by another runner, a manual cleanup refuses to start; released, it runs
    sql("DELETE FROM ops_leader_lease WHERE name = 'ops.retention_cleanup' RETURNING name")
    sql(
        "INSERT INTO ops_leader_lease (name, holder, acquired_at, expires_at) "
        "VALUES ('ops.retention_cleanup', 'another-runner', now(), now() + interval '5 minutes') RETURNING name"
    )
    refused = manage("cleanup_retention")
    assert sql("DELETE FROM ops_leader_lease WHERE name = 'ops.retention_cleanup' RETURNING holder") == [
        ("another-runner",)
    ]
    ran = manage("cleanup_retention")
    assert refused.returncode != 0 and "already running" in refused.stderr, refused.stdout + refused.stderr
    assert ran.returncode == 0, ran.stdout + ran.stderr

    # ledger_check raises its statement timeout with SET LOCAL: no server session keeps it afterwards
    ledger_check_clean()
    connections = [psycopg.connect(DATABASE_URL, connect_timeout=5) for _ in range(12)]
    try:
        # twelve open transactions at once hold twelve different server sessions
        timeouts = [conn.execute("SHOW statement_timeout").fetchone()[0] for conn in connections]
    finally:
        for conn in connections:
            conn.close()
    print(f"fault pgbouncer-session-state: statement_timeout on 12 server sessions: {Counter(timeouts)}")
    assert set(timeouts) == {"30s"}

    # .iterator() (the admin CSV exports) works without server-side cursors
    script = (
        "from billing.models import LedgerEntry; "
        "print('rows', sum(1 for _ in LedgerEntry.objects.order_by('pk').iterator(chunk_size=7)))"
    )
    iterated = manage("shell", "-c", script)
    assert iterated.returncode == 0 and "rows " in iterated.stdout, iterated.stderr


# --- 3. Redis stopped ---------------------------------------------------------------------------


def test_redis_down_keeps_balances_and_charges_and_health_reports_it(stack, raw_key):
    sent, answers = Counter(), Counter()
    user = str(9_300_000_000 + int(time.time()) % 1_000_000)
    try:
        stack.redis_stop()
        with client(raw_key) as api:

            def call(method: str, path: str, **kwargs) -> httpx.Response:
                response = api.request(method, path, **kwargs)
                sent["requests"] += 1
                answers[f"{method} {path.split('/')[3]}:{response.status_code}"] += 1
                return response

            # health caches the broker's status for a few seconds (HEALTH_BROKER_CACHE_SECONDS)
            health = wait_until(
                lambda: (answer := call("GET", "/api/v1/health")).json()["broker"] == "down" and answer,
                timeout=30,
                what="health to report broker: down",
            )
            assert health.status_code == 200, health.text
            assert call("PUT", f"/api/v1/users/{user}", json={}).status_code == 201
            for number in range(3):
                created = call(
                    "POST",
                    "/api/v1/generations",
                    json={"user": user, "model": "stress-img", "prompt": "redis", "parameters": {}},
                    headers={"Idempotency-Key": f"redis-{user}-{number}"},
                )
                assert created.status_code == 201, created.text
                done = call(
                    "POST", f"/api/v1/generations/{created.json()['id']}/status", json={"status": "succeeded"}
                )
                assert done.status_code == 200, done.text
            payment = call(
                "POST",
                f"/api/v1/users/{user}/payments",
                json={"amount": "50.00"},
                headers={"Idempotency-Key": f"rp-{user}"},
            )
            assert payment.status_code == 201, payment.text
            notification = {
                "type": "notification",
                "event": "payment.succeeded",
                "object": {
                    "id": payment.json()["provider_payment_id"],
                    "status": "succeeded",
                    "amount": {"value": "50.00", "currency": "RUB"},
                    "metadata": {},
                },
            }
            webhook = httpx.post(f"{BASE}/webhooks/yookassa/{WEBHOOK_SECRET}", json=notification, timeout=30)
            sent["webhooks"] += 1
            answers[f"webhook:{webhook.status_code}"] += 1
            assert webhook.status_code == 200, webhook.text
            balance = call("GET", f"/api/v1/users/{user}/balance")
            assert balance.status_code == 200
            assert (
                balance.json()["balance"]
                == f"{Decimal('10.00') - 3 * Decimal('3.00') + Decimal('50.00'):.2f}"
            )
    finally:
        stack.redis_start()
    with client(raw_key) as api:
        assert wait_until(
            lambda: api.get("/api/v1/health").json()["broker"] == "ok", timeout=30, what="broker ok"
        )
    report("redis-down", sent, answers)
    ledger_check_clean()


# --- 4. a dropped connection, retried with the same Idempotency-Key -----------------------------


def send_and_drop(path: str, body: dict, headers: dict[str, str]) -> None:
    """Sends a whole request, then closes the socket before reading a byte of the answer."""
    payload = json.dumps(body).encode()
    head = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{HTTP_PORT}", "Content-Type: application/json",
            f"Content-Length: {len(payload)}", "Connection: close"]  # fmt: skip
    head += [f"{name}: {value}" for name, value in headers.items()]
    with socket.create_connection(("127.0.0.1", HTTP_PORT), timeout=10) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + payload)
        sock.shutdown(socket.SHUT_WR)
    # closed: the server answers into a dead socket


def test_retry_after_dropped_connection_gets_the_original_outcome(stack, raw_key):
    sent, answers = Counter(), Counter()
    auth = {"Authorization": f"Bearer {raw_key}"}
    user = str(9_400_000_000 + int(time.time()) % 1_000_000)
    with client(raw_key) as api:
        assert api.put(f"/api/v1/users/{user}", json={}).status_code == 201
        sent["requests"] += 1
        cases = [
            (
                "/api/v1/generations",
                {"user": user, "model": "stress-img", "prompt": "drop", "parameters": {}},
            ),
            (f"/api/v1/users/{user}/payments", {"amount": "77.00"}),
            # 10.00 - 3.00 leaves 7.00: three more jobs cannot all be paid, the refusal is decided too
            (
                "/api/v1/generations",
                {"user": user, "model": "stress-img", "prompt": "drop-2", "parameters": {}},
            ),
            (
                "/api/v1/generations",
                {"user": user, "model": "stress-img", "prompt": "drop-3", "parameters": {}},
            ),
            (
                "/api/v1/generations",
                {"user": user, "model": "stress-img", "prompt": "drop-4", "parameters": {}},
            ),
        ]
        outcomes = []
        for number, (path, body) in enumerate(cases):
            key = f"drop-{user}-{number}"
            send_and_drop(path, body, {**auth, "Idempotency-Key": key})
            sent["dropped"] += 1
            time.sleep(1.0)
            # a read timeout on the client side is the other way a connection drops mid-request
            try:
                httpx.post(
                    f"{BASE}{path}", json=body, headers={**auth, "Idempotency-Key": key}, timeout=0.001
                )
                sent["timed-out"] += 1
            except httpx.TimeoutException:
                sent["timed-out"] += 1
            time.sleep(1.0)
            first = api.post(path, json=body, headers={"Idempotency-Key": key})
            again = api.post(path, json=body, headers={"Idempotency-Key": key})
            sent["requests"] += 2
            answers[first.status_code] += 1
            answers[again.status_code] += 1
            assert (first.status_code, first.json()) == (again.status_code, again.json())
            outcomes.append((path, first.status_code, first.json()))
        statuses = [status for _, status, _ in outcomes]
        assert statuses == [201, 201, 201, 201, 402], outcomes
        # exactly one job per key that was decided as created, and one pending payment
        jobs = sql("SELECT count(*) FROM generations_generation g JOIN accounts_end_user u ON u.id = g.user_id "
                   "WHERE u.telegram_id = %s", (int(user),))  # fmt: skip
        payments = sql("SELECT count(*) FROM billing_payment p JOIN accounts_end_user u ON u.id = p.user_id "
                       "WHERE u.telegram_id = %s", (int(user),))  # fmt: skip
        assert jobs == [(3,)] and payments == [(1,)]
        balance = api.get(f"/api/v1/users/{user}/balance").json()
        assert (balance["balance"], balance["held"]) == ("10.00", "9.00")
    report("dropped-connection", sent, answers)
    ledger_check_clean()


# --- 5-7. events sent to the bot's webhook: at least once, signed, none for a rolled-back change ----


@pytest.fixture(scope="module")
def hook_key(stack) -> tuple[str, int]:
    """An API key of its own, so the webhook does not change what the tests above see."""
    result = manage("create_api_key", f"stress-hook-{uuid.uuid4().hex[:6]}")
    assert result.returncode == 0, result.stderr
    raw = result.stdout.strip().splitlines()[-1]
    [(key_id,)] = sql(
        "SELECT id FROM accounts_api_key WHERE key_hash = %s", (hashlib.sha256(raw.encode()).hexdigest(),)
    )
    return raw, key_id


def webhook_point(raw: str, url: str) -> str:
    with client(raw) as api:
        response = api.put("/api/v1/webhook", json={"url": url})
    assert response.status_code == 200, response.text
    return response.json()["secret"]


def stars_credits(raw: str, user: str, prefix: str, count: int) -> list[str]:
    charge_ids = []
    with client(raw) as api:
        assert api.put(f"/api/v1/users/{user}", json={}).status_code in (200, 201)
        for number in range(count):
            charge_id = f"{prefix}-{number}"
            response = api.post("/api/v1/payments/telegram-stars", json={
                "user": user, "telegram_payment_charge_id": charge_id, "currency": "XTR", "total_amount": 5,
                "invoice_payload": "stress"})  # fmt: skip
            assert response.status_code == 201, response.text
            charge_ids.append(charge_id)
    return charge_ids


def key_events(key_id: int) -> dict[str, tuple[str, str, int]]:
    """public id -> (type, status, attempts) of every event recorded for the key."""
    rows = sql("SELECT public_id::text, type, status, attempts FROM accounts_bot_event WHERE api_key_id = %s",
               (key_id,))  # fmt: skip
    return {public_id: (event_type, status, attempts) for public_id, event_type, status, attempts in rows}


def all_delivered(key_id: int, expected: int):
    events = key_events(key_id)
    return (
        len(events) >= expected and all(status == "delivered" for _, status, _ in events.values()) and events
    )


def arrivals_check(receiver, secret: str, events: dict) -> Counter:
    """Every recorded event arrived at least once with a valid signature; returns requests per event id."""
    from tests.accounts.webhook_receiver import signature_valid

    per_event = Counter()
    for request in receiver.requests:
        body = json.loads(request.body)
        assert request.headers["Botdesk-Event-Id"] == body["id"]
        assert signature_valid(secret=secret, header=request.headers["Botdesk-Signature"], body=request.body)
        per_event[body["id"]] += 1
    assert set(events) <= set(per_event), set(events) - set(per_event)
    return per_event


def rolled_back_credit(key_id: int, user: str, charge_id: str) -> None:
    """A change that records its event and then rolls back (in a process of its own, on the stack's database)."""
    script = (
        "from django.db import transaction\n"
        "from accounts.selectors import end_user_get\n"
        "from billing.services import telegram_stars_credit\n"
        "try:\n"
        "    with transaction.atomic():\n"
        f"        telegram_stars_credit(user=end_user_get(ref={user!r}), charge_id={charge_id!r}, total_amount=9,\n"
        f"                              invoice_payload='', api_key_id={key_id})\n"
        "        raise RuntimeError('the change fails after its event was recorded')\n"
        "except RuntimeError:\n"
        "    print('rolled back')\n"
    )
    result = manage("shell", "-c", script)
    assert "rolled back" in result.stdout, result.stdout + result.stderr


def test_webhook_receiver_answering_500_then_200_gets_every_event(stack, hook_key):
    from tests.accounts.webhook_receiver import WebhookReceiver

    raw, key_id = hook_key
    seen: set[str] = set()

    def first_500_then_200(request) -> tuple[int, float]:
        event_id = request.headers["Botdesk-Event-Id"]
        first = event_id not in seen
        seen.add(event_id)
        return (500 if first else 200), 0.0

    receiver = WebhookReceiver(decide=first_500_then_200)
    try:
        secret = webhook_point(raw, receiver.url)
        user = str(9_500_000_000 + int(time.time()) % 1_000_000)
        run = uuid.uuid4().hex[:6]
        started = time.monotonic()
        charge_ids = stars_credits(raw, user, f"wh500-{run}", 20)
        # YooKassa: one payment succeeds, one is canceled, each through its notification
        with client(raw) as api:
            for number, outcome in enumerate(("payment.succeeded", "payment.canceled")):
                created = api.post(f"/api/v1/users/{user}/payments", json={"amount": "40.00"},
                                   headers={"Idempotency-Key": f"wh500-{run}-{number}"})  # fmt: skip
                assert created.status_code == 201, created.text
                notification = {"type": "notification", "event": outcome, "object": {
                    "id": created.json()["provider_payment_id"], "status": outcome.removeprefix("payment."),
                    "amount": {"value": "40.00", "currency": "RUB"}}}  # fmt: skip
                answer = httpx.post(
                    f"{BASE}/webhooks/yookassa/{WEBHOOK_SECRET}", json=notification, timeout=30
                )
                assert answer.status_code == 200, answer.text
        rolled_back_credit(key_id, user, f"wh500-{run}-rolled-back")
        recorded_at = time.monotonic()

        events = wait_until(
            lambda: all_delivered(key_id, 22), timeout=240, what="every event delivered", every=1
        )
        took, since_first = time.monotonic() - recorded_at, time.monotonic() - started
        per_event = arrivals_check(receiver, secret, events)
    finally:
        receiver.close()
    types = Counter(event_type for event_type, _, _ in events.values())
    assert types == {"payment.succeeded": 21, "payment.canceled": 1}
    delivered_charges = {json.loads(r.body)["data"]["provider_payment_id"] for r in receiver.requests}
    assert set(charge_ids) <= delivered_charges
    assert f"wh500-{run}-rolled-back" not in delivered_charges
    assert sql(
        "SELECT count(*) FROM billing_payment WHERE provider_payment_id = %s", (f"wh500-{run}-rolled-back",)
    ) == [(0,)]
    assert all(count >= 2 for count in per_event.values()), "each event was refused once, then acknowledged"
    attempts = sum(attempts for _, _, attempts in events.values())
    print(f"\nfault webhook-500-then-200: events {len(events)} ({dict(types)}), requests {len(receiver.requests)}, "
          f"attempts {attempts}, all delivered {since_first:.1f}s after the first change and {took:.1f}s after the "
          f"last; rolled-back change sent: none")  # fmt: skip
    ledger_check_clean()


def test_webhook_worker_killed_mid_delivery_is_delivered_after_the_lease(stack, hook_key):
    from tests.accounts.webhook_receiver import WebhookReceiver

    raw, key_id = hook_key
    first_arrived = threading.Event()

    def stall_the_first(request) -> tuple[int, float]:
        if not first_arrived.is_set():
            first_arrived.set()
            return 200, 8.0  # the worker waits for this answer when it is killed
        return 200, 0.0

    receiver = WebhookReceiver(decide=stall_the_first)
    before = set(key_events(key_id))
    try:
        secret = webhook_point(raw, receiver.url)
        user = str(9_600_000_000 + int(time.time()) % 1_000_000)
        stars_credits(raw, user, f"whkill-{uuid.uuid4().hex[:6]}", 1)
        assert first_arrived.wait(60), "the first delivery attempt never came"
        stack.worker.kill(signal.SIGKILL)
        killed_at = time.monotonic()
        stack.worker_start()
        events = wait_until(
            lambda: all_delivered(key_id, len(before) + 1), timeout=240, what="redelivery", every=1
        )
        took = time.monotonic() - killed_at
        new = {event_id: value for event_id, value in events.items() if event_id not in before}
        per_event = arrivals_check(receiver, secret, new)
    finally:
        receiver.close()
    [(event_id, (_, _, attempts))] = new.items()
    assert per_event[event_id] >= 2, "the killed attempt was not acknowledged, so it was sent again"
    assert attempts >= 2
    print(f"\nfault webhook-worker-kill: 1 event, requests {per_event[event_id]}, attempts {attempts}, "
          f"delivered {took:.1f}s after the worker was killed (lease 20 s + the minutely sweep)")  # fmt: skip
    ledger_check_clean()


def test_webhook_receiver_down_for_a_while_gets_every_event_when_back(stack, hook_key):
    from tests.accounts.webhook_receiver import WebhookReceiver

    raw, key_id = hook_key
    receiver = WebhookReceiver()
    port, url = receiver.server.server_address[1], receiver.url
    before = set(key_events(key_id))
    secret = webhook_point(raw, url)
    receiver.close()  # down
    user = str(9_700_000_000 + int(time.time()) % 1_000_000)
    stars_credits(raw, user, f"whdown-{uuid.uuid4().hex[:6]}", 10)
    # and a job left to time out: the beat sweep times it out and records generation.timeout
    with client(raw) as api:
        created = api.post("/api/v1/generations", json={"user": user, "model": "stress-img", "prompt": "hook",
                           "parameters": {}}, headers={"Idempotency-Key": f"whdown-{user}"})  # fmt: skip
        assert created.status_code == 201, created.text
    time.sleep(45)
    receiver = WebhookReceiver(port=port)  # back
    back_at = time.monotonic()
    try:
        events = wait_until(
            lambda: all_delivered(key_id, len(before) + 11), timeout=300, what="delivery", every=1
        )
        took = time.monotonic() - back_at
        new = {event_id: value for event_id, value in events.items() if event_id not in before}
        arrivals_check(receiver, secret, new)
    finally:
        receiver.close()
    types = Counter(event_type for event_type, _, _ in new.values())
    assert types == {"payment.succeeded": 10, "generation.timeout": 1}
    attempts = sum(attempts for _, _, attempts in new.values())
    print(f"\nfault webhook-receiver-down: events {len(new)} ({dict(types)}), failed attempts while down "
          f"{attempts - len(new)}, attempts {attempts}, requests after it came back {len(receiver.requests)}, "
          f"all delivered {took:.1f}s after it came back")  # fmt: skip
    ledger_check_clean()
