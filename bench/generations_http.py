"""Benchmark: POST /api/v1/generations + POST /generations/{id}/status (succeeded) through the real HTTP
stack (gunicorn, several workers), against bare Django views doing the same work in raw SQL, in one run.

What it does:
  1. (Re)creates its own database (default botdesk_bench_gen) and migrates it with bench settings.
  2. Creates an API key, N users funded with 1,000,000.00 RUB each, and lifts the free plan's limits
     high enough never to refuse (the limit check itself, lock and count, still runs on every request).
  3. Starts gunicorn (bench.generations_settings: the app's urls plus the two bare views).
  4. Alternates rounds of the two variants (ORM/ninja endpoints, bare raw-SQL views), each with the same
     client processes; one operation = create a job + mark it succeeded (hold, then ledger charge).
  5. Prints ops/s (median of rounds), p50/p99 latency of an operation, the ratio, and ledger_check.

Run from the repository root:
    .venv/bin/python bench/generations_http.py --workers 3 --clients 4 --seconds 5 --rounds 6
"""

import argparse
import http.client
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
SETTINGS = "bench.generations_settings"
MODEL = "flux-2-pro"
TELEGRAM_ID_BASE = 9_100_000_000


def database_url(name: str) -> str:
    base = os.environ.get("BENCH_DATABASE_SERVER", "postgres://botdesk:botdesk@127.0.0.1:5432")
    return f"{base}/{name}"


def recreate_database(name: str) -> None:
    import psycopg

    with psycopg.connect(database_url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def bench_env(db_name: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": SETTINGS,
        "DATABASE_URL": database_url(db_name),
        "PYTHONPATH": str(ROOT),
        "RATE_LIMITS_ENABLED": "true",
        "LOG_LEVEL": "ERROR",
    }


SETUP_SCRIPT = """
import django, json, sys
django.setup()
from decimal import Decimal
from accounts.services import api_key_create, end_user_upsert
from billing.models import Account, EntryType, Plan
from billing.services import credit_grant, system_account_id

users = int(sys.argv[1]); base = int(sys.argv[2])
_, raw_key = api_key_create(name="bench")
for index in range(users):
    user, _ = end_user_upsert(ref=str(base + index), profile={})
    credit_grant(user=user, amount=Decimal("1000000.00"), currency="RUB", entry_type=EntryType.TOPUP,
                 counter_kind=Account.Kind.PAYMENTS, reference=f"bench-topup:{user.pk}")
Plan.objects.filter(code="free").update(limits={"per_minute": 1000000, "concurrent": 1000000, "per_day": 100000000})
system_account_id(kind=Account.Kind.REVENUE, currency="RUB")
print(json.dumps({"key": raw_key}))
"""

CHECK_SCRIPT = """
import django, json
django.setup()
from billing.checks import ledger_invariants_check
from generations.models import Generation
from django.db.models import Count
results = ledger_invariants_check()
print(json.dumps({
    "ledger_ok": all(r.ok for r in results),
    "failed": [r.invariant for r in results if not r.ok],
    "jobs_by_status": dict(Generation.objects.values_list("status").annotate(n=Count("pk")).values_list("status", "n")),
}))
"""


def run_python(script: str, env: dict[str, str], *args: str) -> dict:
    out = subprocess.run(
        [str(VENV_BIN / "python"), "-c", script, *args],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def prepare_database(name: str, env: dict[str, str], users: int, telegram_id_base: int) -> str:
    """Recreates and migrates the database, runs SETUP_SCRIPT; returns the API key it created."""
    recreate_database(name)
    subprocess.run(
        [str(VENV_BIN / "python"), "manage.py", "migrate", "-v", "0"], env=env, cwd=ROOT, check=True
    )
    return run_python(SETUP_SCRIPT, env, str(users), str(telegram_id_base))["key"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_up(port: int, server: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("gunicorn exited")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/api/v1/health")
            if conn.getresponse().status in (200, 503):
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError("gunicorn did not come up")


VARIANTS = {
    "orm": ("/api/v1/generations", "/api/v1/generations/{id}/status"),
    "raw": ("/bench/raw/generations", "/bench/raw/generations/{id}/status"),
}


def client_loop(args: tuple) -> dict:
    """One client process: create + succeed operations back to back until the round's deadline."""
    variant, port, raw_key, client_index, clients, users, seconds = args
    create_path, status_path = VARIANTS[variant]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    auth = {"Authorization": f"Bearer {raw_key}", "Content-Type": "application/json"}
    latencies: list[float] = []
    errors: dict[str, int] = {}
    turn = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        user = TELEGRAM_ID_BASE + (client_index + turn * clients) % users
        turn += 1
        body = json.dumps(
            {"user": str(user), "model": MODEL, "prompt": "a red fox in the snow", "parameters": {}}
        )
        started = time.perf_counter()
        try:
            conn.request(
                "POST", create_path, body=body, headers={**auth, "Idempotency-Key": uuid.uuid4().hex}
            )
            response = conn.getresponse()
            created = response.read()
            if response.status != 201:
                errors[f"create {response.status}"] = errors.get(f"create {response.status}", 0) + 1
                continue
            generation_id = json.loads(created)["id"]
            status_body = json.dumps({"status": "succeeded", "result_url": "https://cdn.example.com/r.png"})
            conn.request("POST", status_path.format(id=generation_id), body=status_body, headers=auth)
            response = conn.getresponse()
            response.read()
        except OSError as exc:
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
            conn.close()
            time.sleep(0.1)
            continue
        if response.status != 200:
            errors[f"status {response.status}"] = errors.get(f"status {response.status}", 0) + 1
            continue
        latencies.append(time.perf_counter() - started)
    return {"latencies": latencies, "errors": errors}


def run_round(pool, variant: str, port: int, raw_key: str, clients: int, users: int, seconds: float) -> dict:
    started = time.perf_counter()
    parts = pool.map(
        client_loop, [(variant, port, raw_key, i, clients, users, seconds) for i in range(clients)]
    )
    elapsed = time.perf_counter() - started
    latencies = [value for part in parts for value in part["latencies"]]
    errors: dict[str, int] = {}
    for part in parts:
        for name, count in part["errors"].items():
            errors[name] = errors.get(name, 0) + count
    return {"ops": len(latencies), "rps": len(latencies) / elapsed, "latencies": latencies, "errors": errors}


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=3, help="gunicorn sync workers")
    parser.add_argument("--clients", type=int, default=4, help="concurrent client processes")
    parser.add_argument("--seconds", type=float, default=5, help="length of one round of one variant")
    parser.add_argument("--rounds", type=int, default=6, help="rounds; each runs both variants back to back")
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    parser.add_argument("--database", default="botdesk_bench_gen")
    options = parser.parse_args()

    if not options.port:
        options.port = free_port()
    env = bench_env(options.database)
    print(f"recreating database {options.database} and migrating ...", flush=True)
    raw_key = prepare_database(options.database, env, options.users, TELEGRAM_ID_BASE)

    gunicorn = subprocess.Popen(
        [
            str(VENV_BIN / "gunicorn"),
            "config.wsgi:application",
            "--workers",
            str(options.workers),
            "--bind",
            f"127.0.0.1:{options.port}",
            "--log-level",
            "warning",
            "--timeout",
            "120",
        ],
        env=env,
        cwd=ROOT,
    )
    try:
        wait_until_up(options.port, gunicorn)
        time.sleep(1)
        if gunicorn.poll() is not None:
            raise RuntimeError(f"gunicorn exited: is port {options.port} taken by another server?")
        context = multiprocessing.get_context("spawn")
        with context.Pool(options.clients) as pool:
            for variant in VARIANTS:  # warm-up: connections, imports, caches of every worker
                run_round(pool, variant, options.port, raw_key, options.clients, options.users, 2)
            results: dict[str, list[dict]] = {variant: [] for variant in VARIANTS}
            for round_index in range(options.rounds):
                order = list(VARIANTS) if round_index % 2 == 0 else list(reversed(VARIANTS))
                for variant in order:
                    outcome = run_round(
                        pool, variant, options.port, raw_key, options.clients, options.users, options.seconds
                    )
                    results[variant].append(outcome)
                    print(
                        f"round {round_index + 1} {variant}: {outcome['rps']:.1f} ops/s"
                        f"{' errors ' + str(outcome['errors']) if outcome['errors'] else ''}",
                        flush=True,
                    )
    finally:
        gunicorn.terminate()
        gunicorn.wait(timeout=30)

    summary = {}
    for variant, rounds in results.items():
        latencies = [value for outcome in rounds for value in outcome["latencies"]]
        summary[variant] = {
            "ops_per_s": statistics.median(outcome["rps"] for outcome in rounds),
            "p50_ms": percentile(latencies, 0.50) * 1000,
            "p99_ms": percentile(latencies, 0.99) * 1000,
            "ops": sum(outcome["ops"] for outcome in rounds),
            "errors": sum(sum(outcome["errors"].values()) for outcome in rounds),
        }
    if not summary["raw"]["ops_per_s"] or not summary["orm"]["ops_per_s"]:
        sys.exit(f"no successful operations: {summary}")
    # The machine is shared and its load drifts: compare the two variants within each round (they run
    # back to back), then take the median of those ratios.
    round_ratios = [orm["rps"] / raw["rps"] for orm, raw in zip(results["orm"], results["raw"], strict=True)]
    ratio = statistics.median(round_ratios)
    check = run_python(CHECK_SCRIPT, env)
    print()
    print(f"workers={options.workers} clients={options.clients} rounds={options.rounds}x{options.seconds:g}s")
    print("| variant | ops/s (median of rounds) | p50 ms | p99 ms | operations | errors |")
    print("|---|---|---|---|---|---|")
    for variant, label in (("orm", "Django + ninja endpoints"), ("raw", "bare view, raw SQL")):
        row = summary[variant]
        print(
            f"| {label} | {row['ops_per_s']:.1f} | {row['p50_ms']:.1f} | {row['p99_ms']:.1f} "
            f"| {row['ops']} | {row['errors']} |"
        )
    print(f"ratio (endpoints / bare), median of per-round ratios = {ratio:.2f}")
    print(f"per-round ratios: {', '.join(f'{value:.2f}' for value in round_ratios)}")
    print(f"ledger_check: {'all ok' if check['ledger_ok'] else 'FAILED ' + str(check['failed'])}")
    print(f"jobs by status: {check['jobs_by_status']}")
    sys.exit(0 if check["ledger_ok"] else 1)


if __name__ == "__main__":
    main()
