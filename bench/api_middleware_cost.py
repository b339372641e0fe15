"""What each middleware costs per request, and a profile of the two hot calls (part of bench/api_hot_path.py).

Runs inside Django with the settings it is given (api_hot_path.py passes the production settings and
its database, kept with --keep-database):
  - each middleware of MIDDLEWARE alone, and the whole stack, around a view that answers a fixed JSON
    body without touching the database, called with requests shaped like the bot's two calls (the
    balance GET, the create POST with its JSON body and headers); best of --repeats runs of
    --requests calls, so the figure is the middleware's own CPU cost, not the machine's noise;
  - --profile: cProfile of --profile-requests real calls of each kind through Django's test Client
    (full middleware, the real views and database), the top functions by own time.

    .venv/bin/python bench/api_middleware_cost.py [--profile --key <api key> --user <telegram id>]
"""

import argparse
import cProfile
import io
import json
import pstats
import time
import uuid

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.http import HttpRequest, HttpResponse, JsonResponse  # noqa: E402
from django.test import Client, RequestFactory  # noqa: E402
from django.utils.module_loading import import_string  # noqa: E402

BODY = {"model": "flux-2-pro", "prompt": "a red fox in the snow", "parameters": {}}
HEADERS = {"Authorization": "Bearer bd_" + "x" * 43, "X-Forwarded-Proto": "https"}


def view(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"currency": "RUB", "balance": "10.00", "held": "0.00", "available": "10.00"})


def chain(middleware: list[str]):
    handler = view
    for path in reversed(middleware):
        handler = import_string(path)(handler)
    return handler


def requests_for(call: str):
    factory = RequestFactory()
    if call == "balance":
        return lambda: factory.get("/api/v1/users/9200000000/balance", headers=HEADERS, secure=True)
    body = json.dumps({"user": "9200000000", **BODY})
    return lambda: factory.post(
        "/api/v1/generations",
        body,
        content_type="application/json",
        headers={**HEADERS, "Idempotency-Key": uuid.uuid4().hex},
        secure=True,
    )


def best_us(handler, make_request, requests: int, repeats: int) -> float:
    prepared = [make_request() for _ in range(requests)]
    best = float("inf")
    for _ in range(repeats):
        batch = [make_request() for _ in range(requests)] if best != float("inf") else prepared
        started = time.perf_counter()
        for request in batch:
            handler(request)
        best = min(best, (time.perf_counter() - started) / requests * 1e6)
    return best


def middleware_costs(options) -> None:
    full = list(settings.MIDDLEWARE)
    for call in ("balance", "create"):
        make_request = requests_for(call)
        bare = best_us(chain([]), make_request, options.requests, options.repeats)
        print(f"\n{call}: the view alone {bare:.1f} us (best of {options.repeats} x {options.requests})")
        print("| middleware | us per request |")
        print("|---|---:|")
        total = 0.0
        session = next(path for path in full if path.endswith(".SessionMiddleware"))
        for path in full:
            # Authentication and messages read the session the session middleware attaches.
            needs = [session] if path.endswith((".AuthenticationMiddleware", ".MessageMiddleware")) else []
            base = best_us(chain(needs), make_request, options.requests, options.repeats) if needs else bare
            cost = best_us(chain([*needs, path]), make_request, options.requests, options.repeats) - base
            total += cost
            print(f"| {path.rsplit('.', 1)[1]} | {cost:.1f} |")
        whole = best_us(chain(full), make_request, options.requests, options.repeats) - bare
        print(f"| sum of the above | {total:.1f} |")
        print(f"| the whole stack, measured | {whole:.1f} |")


def profile(options) -> None:
    client = Client(HTTP_AUTHORIZATION=f"Bearer {options.key}", HTTP_X_FORWARDED_PROTO="https")
    body = json.dumps({"user": options.user, **BODY})
    calls = {
        "balance": lambda: client.get(f"/api/v1/users/{options.user}/balance"),
        "create": lambda: client.post(
            "/api/v1/generations",
            body,
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
        ),
    }
    for call, request in calls.items():
        for _ in range(20):
            assert request().status_code in (200, 201)
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(options.profile_requests):
            request()
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(20)
        print(f"\nprofile of {options.profile_requests} {call} calls, by own time:\n{out.getvalue()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--profile-requests", type=int, default=300)
    parser.add_argument("--key", help="an API key of the database (--profile)")
    parser.add_argument("--user", help="a funded user's Telegram id (--profile)")
    options = parser.parse_args()
    middleware_costs(options)
    if options.profile:
        profile(options)


if __name__ == "__main__":
    main()
