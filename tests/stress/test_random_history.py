"""A seeded randomized history through the real API, replayed against a simple model of the balances.

Several clients run at once on real threads (each with its own database connection). Each client
owns its users, as a bot owns its chats, so each user's operations are sequential and the model can
predict every answer: top-ups through payments and YooKassa webhooks (duplicated, reordered, late,
canceled, with a wrong amount), Telegram Stars (replayed late, after a merge too), generations that
succeed, fail or time out, promo codes (one shared code with a cap the clients race for), referrals
and their rewards, refunds (YooKassa full and partial settled by refund.succeeded, Telegram Stars
reported by the bot, generation charges), merges of anonymous device users interleaved with all of
it (money, holds, subscriptions, promo redemptions and referrals move; a referral that would become
self-referral or a cycle is dropped) and subscriptions. Every answer is checked against the model as
it arrives and recorded; at the end the model's balances and subscriptions must equal the database's,
and ledger_check must be clean.

    RANDOM_HISTORY_SEED      the seed (default: from the clock; printed at the start)
    RANDOM_HISTORY_SECONDS   how long the clients run (default 20; `make stress` runs longer)
    RANDOM_HISTORY_CLIENTS   how many clients (default 6)
    RANDOM_HISTORY_OPS       stop each client after this many operations (replays a seed exactly)
"""

import os
import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any

import pytest
from django.conf import settings
from django.db import connections

from billing.checks import ledger_invariants_check
from billing.models import Account, Plan, PromoCode, Subscription
from generations.models import AIModel
from generations.services import generations_time_out
from tests.support.api import ApiClient

SEED = int(os.environ.get("RANDOM_HISTORY_SEED") or time.time_ns() % 1_000_000_007)
SECONDS = float(os.environ.get("RANDOM_HISTORY_SECONDS", "20"))
CLIENTS = int(os.environ.get("RANDOM_HISTORY_CLIENTS", "6"))
MAX_OPS = int(os.environ.get("RANDOM_HISTORY_OPS", "0")) or None

ZERO = Decimal("0.00")
OPEN_CODE, OPEN_CODE_AMOUNT = "HISTORY-OPEN", Decimal("15.00")
CAPPED_CODE, CAPPED_CODE_AMOUNT = "HISTORY-CAPPED", Decimal("25.00")
PAID_MODELS = {"history-img": Decimal("7.00"), "history-video": Decimal("35.50")}
FREE_MODEL = "history-free"
SUBSCRIPTION_PLAN = "pro"

# Operation kinds and their weights in the mix.
WEIGHTS = {
    "user_create": 4,
    "payment_create": 10,
    "webhook_deliver": 14,
    "stars_credit": 3,
    "generation_create": 22,
    "generation_finish": 18,
    "promo_redeem": 5,
    "merge": 3,
    "subscription_buy": 2,
    "subscription_read": 2,
    "balance_read": 6,
    "refund_create": 5,
    "refund_settle": 4,
    "generation_refund": 3,
    "stars_replay_late": 2,
}
CENT = Decimal("0.01")


@dataclass
class ModelAccount:
    balance: Decimal
    held: Decimal = ZERO
    has_device: bool = False
    anonymous: bool = False
    merged: bool = False
    merged_into: int | None = None
    referrer: int | None = None  # pk of the referrer as recorded (it may have been merged away since)
    subscription_expires: datetime | None = None
    promo_redeemed: set[str] = field(default_factory=set)

    @property
    def available(self) -> Decimal:
        return self.balance - self.held


@dataclass
class Outcome:
    client: int
    seq: int
    kind: str
    status: int
    expected: Any
    detail: str = ""


class Client:
    """One bot: its own users, payments, webhook backlog and jobs; predicts each answer before reading it."""

    def __init__(self, index: int, raw_key: str, deadline: float, capped_lock: threading.Lock) -> None:
        self.index = index
        self.rng = random.Random(SEED * 1_000 + index)
        self.api = ApiClient(raw_key)
        self.deadline = deadline
        self.accounts: dict[int, ModelAccount] = {}
        self.refs: dict[str, int] = {}  # ref -> user pk it names now
        self.registered: list[str] = []
        self.anonymous: list[str] = []
        self.payments: dict[str, dict[str, Any]] = {}  # provider payment id -> payment and model status
        self.backlog: list[tuple[str, str, Decimal]] = []  # (provider payment id, event, notified amount)
        self.in_flight: list[dict[str, Any]] = []
        self.finished: list[dict[str, Any]] = []
        self.paid: list[dict[str, Any]] = []  # succeeded payments: id, provider, user, amount, refunded
        self.refunds_pending: list[dict[str, Any]] = []  # Stars refunds the bot must report
        self.refunds_done: list[dict[str, Any]] = []
        self.stars_bodies: list[dict[str, Any]] = []
        self.yookassa_refunds: dict[str, dict[str, Any]] = {}
        self.history: list[Outcome] = []
        self.mismatches: list[str] = []
        self.next_id = 0
        self.capped_lock = capped_lock

    # --- bookkeeping --------------------------------------------------------------------------

    def record(self, kind: str, response, expected: Any, detail: str = "") -> None:
        outcome = Outcome(self.index, len(self.history), kind, response.status_code, expected, detail)
        self.history.append(outcome)
        ok = expected(response.status_code) if callable(expected) else response.status_code == expected
        if os.environ.get("RANDOM_HISTORY_TRACE"):
            print(f"client {self.index} op {outcome.seq} {kind} {detail} -> {response.status_code}")
        if not ok:
            self.mismatches.append(
                f"client {self.index} op {outcome.seq} {kind} {detail}: expected {expected}, got "
                f"{response.status_code} {response.content[:300]!r}"
            )

    def key(self) -> str:
        self.next_id += 1
        return f"h{SEED}-{self.index}-{self.next_id}-{uuid.uuid4().hex[:6]}"

    def beneficiary(self, pk: int) -> int:
        while self.accounts[pk].merged_into is not None:
            pk = self.accounts[pk].merged_into
        return pk

    def credit_top_up(self, payer: int, amount: Decimal) -> None:
        """A succeeded top-up: the payer (as it is now) and its referrer's reward, never to itself."""
        beneficiary = self.beneficiary(payer)
        self.accounts[beneficiary].balance += amount
        referrer = self.accounts[beneficiary].referrer
        if referrer is None:
            return
        referrer = self.beneficiary(referrer)
        reward = (amount * settings.REFERRAL_REWARD_PERCENT / 100).quantize(CENT, rounding=ROUND_DOWN)
        if referrer != beneficiary and reward > 0:
            self.accounts[referrer].balance += reward

    def referrer_chain(self, pk: int) -> set[int]:
        chain = set()
        while pk is not None and pk not in chain:
            chain.add(pk)
            pk = self.accounts[pk].referrer
        return chain

    def pick_ref(self) -> str | None:
        refs = self.registered + [ref for ref in self.anonymous if ref in self.refs]
        return self.rng.choice(refs) if refs else None

    # --- operations ---------------------------------------------------------------------------

    def user_create(self) -> None:
        anonymous = self.rng.random() < 0.4
        number = self.index * 1_000_000 + len(self.refs) + 1
        ref = f"device:h-{SEED % 100_000}-{number}" if anonymous else str(8_000_000_000 + number)
        body = {"first_name": "Ünïcode ✓", "username": f"u{number}"}
        referrer_ref = self.pick_ref() if self.rng.random() < 0.5 else None
        if referrer_ref is not None:
            body["referrer"] = referrer_ref
        response = self.api.put(f"/api/v1/users/{ref}", body)
        self.record("user_create", response, 201, ref)
        if response.status_code != 201:
            return
        bonus = settings.WELCOME_BONUS_ANONYMOUS if anonymous else settings.WELCOME_BONUS
        self.accounts[response.json()["id"]] = ModelAccount(
            balance=bonus,
            anonymous=anonymous,
            has_device=anonymous,
            referrer=self.refs[referrer_ref] if referrer_ref else None,
        )
        self.refs[ref] = response.json()["id"]
        (self.anonymous if anonymous else self.registered).append(ref)

    def payment_create(self) -> None:
        ref = self.pick_ref()
        if ref is None:
            return
        amount = Decimal(self.rng.randint(5_000, 60_000)) / 100
        key = self.key()
        path = f"/api/v1/users/{ref}/payments"
        response = self.api.post(path, {"amount": f"{amount:.2f}"}, idempotency_key=key)
        self.record("payment_create", response, 201, ref)
        if response.status_code != 201:
            return
        body = response.json()
        if self.rng.random() < 0.2:
            replay = self.api.post(path, {"amount": f"{amount:.2f}"}, idempotency_key=key)
            self.record("payment_replay", replay, lambda status: status == 201 and replay.json() == body)
        self.payments[body["provider_payment_id"]] = {
            "id": body["id"],
            "user": self.refs[ref],
            "amount": amount,
            "status": "pending",
        }
        events = ["payment.succeeded"] if self.rng.random() < 0.8 else ["payment.canceled"]
        if self.rng.random() < 0.3:
            events.append(
                self.rng.choice(["payment.succeeded", "payment.canceled"])
            )  # duplicates, contradictions
        if self.rng.random() < 0.1:
            self.backlog.append(
                (body["provider_payment_id"], "payment.succeeded", amount + 1)
            )  # wrong amount
        self.backlog.extend((body["provider_payment_id"], event, amount) for event in events)

    def webhook_deliver(self, *, index: int | None = None) -> None:
        if not self.backlog:
            return
        index = self.rng.randrange(len(self.backlog)) if index is None else index  # reordered
        provider_id, event, notified = self.backlog[index]
        if self.rng.random() < 0.75:
            self.backlog.pop(index)  # else it stays and is delivered again later: a duplicate
        if event == "refund.succeeded":
            self.refund_webhook(provider_id)
            return
        payment = self.payments[provider_id]
        wanted = "succeeded" if event == "payment.succeeded" else "canceled"
        body = {
            "type": "notification",
            "event": event,
            "object": {
                "id": provider_id,
                "status": wanted,
                "amount": {"value": f"{notified:.2f}", "currency": "RUB"},
                "metadata": {},
            },
        }
        response = self.api.client.post(
            f"/webhooks/yookassa/{settings.YOOKASSA_WEBHOOK_SECRET}",
            data=body,
            content_type="application/json",
        )
        if notified != payment["amount"]:
            self.record("webhook_wrong_amount", response, 409, provider_id)
            return
        current = payment["status"]
        if current == "pending":
            expected_outcome = "credited" if wanted == "succeeded" else "canceled"
            payment["status"] = wanted
            if wanted == "succeeded":
                # A payment of a user merged meanwhile credits the user it was merged into.
                self.credit_top_up(payment["user"], payment["amount"])
                self.paid.append(
                    {"id": payment["id"], "provider": "yookassa", "user": payment["user"], "amount": payment["amount"],
                     "refunded": ZERO}
                )  # fmt: skip
        elif current == wanted:
            expected_outcome = "duplicate"
        else:
            expected_outcome = "ignored"
        self.record(
            f"webhook_{expected_outcome}",
            response,
            lambda status: status == 200 and response.json().get("status") == expected_outcome,
            provider_id,
        )

    def stars_credit(self) -> None:
        ref = self.pick_ref()
        if ref is None:
            return
        stars = self.rng.randint(1, 300)
        body = {
            "user": ref,
            "telegram_payment_charge_id": f"stars-{self.key()}",
            "currency": "XTR",
            "total_amount": stars,
            "invoice_payload": "history",
        }
        first = self.api.post("/api/v1/payments/telegram-stars", body)
        self.record("stars_credit", first, 201, ref)
        if first.status_code == 201:
            amount = Decimal(stars) * settings.TELEGRAM_STARS_RATE
            self.credit_top_up(self.refs[ref], amount)
            self.stars_bodies.append(body)
            self.paid.append(
                {"id": first.json()["id"], "provider": "telegram_stars", "user": self.refs[ref], "amount": amount,
                 "refunded": ZERO}
            )  # fmt: skip
        if self.rng.random() < 0.3:
            again = self.api.post("/api/v1/payments/telegram-stars", body)
            self.record("stars_replay", again, 200, ref)

    def generation_create(self) -> None:
        ref = self.pick_ref()
        if ref is None:
            return
        free = self.rng.random() < 0.1
        code = FREE_MODEL if free else self.rng.choice(sorted(PAID_MODELS))
        cost = ZERO if free else PAID_MODELS[code]
        account = self.accounts[self.refs[ref]]
        body = {"user": ref, "model": code, "prompt": "a fox\x07 in ✨ snow", "parameters": {"n": 1}}
        response = self.api.post("/api/v1/generations", body, idempotency_key=self.key())
        if account.available < cost:
            self.record("generation_refused", response, 402, ref)
            return
        self.record("generation_create", response, 201, ref)
        if response.status_code == 201:
            account.held += cost
            self.in_flight.append({"id": response.json()["id"], "user": self.refs[ref], "cost": cost})

    def generation_finish(self) -> None:
        if not self.in_flight:
            if self.finished and self.rng.random() < 0.5:
                self.generation_repeat()
            return
        job = self.in_flight.pop(self.rng.randrange(len(self.in_flight)))
        if self.rng.random() < 0.15:
            self.in_flight.append(job)  # left hanging: it times out at the end
            job["timeout"] = True
            return
        path = f"/api/v1/generations/{job['id']}/status"
        if self.rng.random() < 0.3:
            processing = self.api.post(path, {"status": "processing", "task_id": f"t-{job['id']}"})
            self.record("generation_processing", processing, 200)
        account = self.accounts[job["user"]]
        if self.rng.random() < 0.7:
            job["final"] = {"status": "succeeded", "result_url": f"https://cdn.example/{job['id']}.png"}
            account.balance -= job["cost"]
        else:
            job["final"] = {"status": "failed", "error_code": "nsfw", "error_message": "Ошибка \u202e"}
        account.held -= job["cost"]
        response = self.api.post(path, job["final"])
        self.record(f"generation_{job['final']['status']}", response, 200, str(job["id"]))
        self.finished.append(job)

    def generation_repeat(self) -> None:
        job = self.rng.choice(self.finished)
        path = f"/api/v1/generations/{job['id']}/status"
        if self.rng.random() < 0.5:
            response = self.api.post(path, job["final"])
            self.record("generation_same_final", response, 200, str(job["id"]))
        else:
            other = {"status": "failed"} if job["final"]["status"] == "succeeded" else {"status": "succeeded"}
            response = self.api.post(path, other)
            self.record("generation_other_final", response, 409, str(job["id"]))

    def promo_redeem(self) -> None:
        ref = self.pick_ref()
        if ref is None:
            return
        account = self.accounts[self.refs[ref]]
        code = CAPPED_CODE if self.rng.random() < 0.4 else OPEN_CODE
        response = self.api.post(f"/api/v1/users/{ref}/promo-codes/redeem", {"code": code.lower()})
        if code in account.promo_redeemed:
            self.record("promo_again", response, 409, ref)
            return
        if code == OPEN_CODE:
            self.record("promo_redeemed", response, 200, ref)
            if response.status_code == 200:
                account.promo_redeemed.add(code)
                account.balance += OPEN_CODE_AMOUNT
            return
        # The capped code is raced for by every client: whoever gets it is credited, the rest are 409.
        self.record("promo_capped", response, lambda status: status in {200, 409}, ref)
        if response.status_code == 200:
            account.promo_redeemed.add(code)
            account.balance += CAPPED_CODE_AMOUNT
            with self.capped_lock:
                CAPPED_WINNERS.append(self.refs[ref])
        elif response.status_code == 409:
            account.promo_redeemed.add(code)  # used up stays used up; a user's second try is 409 either way

    def merge(self) -> None:
        sources = [
            ref for ref in self.anonymous if ref in self.refs and not self.accounts[self.refs[ref]].merged
        ]
        targets = [ref for ref in self.registered if not self.accounts[self.refs[ref]].has_device]
        if not sources or not targets:
            return
        source_ref, target_ref = self.rng.choice(sources), self.rng.choice(targets)
        source, target = self.accounts[self.refs[source_ref]], self.accounts[self.refs[target_ref]]
        device_id = source_ref.split(":", 1)[1]
        response = self.api.post(f"/api/v1/users/{target_ref}/identities", {"device_id": device_id})
        self.record("merge", response, 200, f"{source_ref}->{target_ref}")
        if response.status_code != 200:
            return
        source_pk, target_pk = self.refs[source_ref], self.refs[target_ref]
        # The merge moves all of the source's money and its open holds: its jobs settle on the target.
        target.balance += source.balance
        target.held += source.held
        source.balance = source.held = ZERO
        source.merged = True
        source.merged_into = target_pk
        for job in self.in_flight:
            if job["user"] == source_pk:
                job["user"] = target_pk
        target.has_device = True
        # A referral the merge would turn into self-referral or a cycle is dropped; the others move.
        if target.referrer == source_pk:
            target.referrer = None
        chain = self.referrer_chain(target_pk)
        for pk, account in self.accounts.items():
            if account.referrer == source_pk:
                account.referrer = None if pk in chain else target_pk
        # A paid subscription moves, the later expiry wins; a promo either redeemed counts for the person.
        if source.subscription_expires and (
            target.subscription_expires is None or source.subscription_expires > target.subscription_expires
        ):
            target.subscription_expires = source.subscription_expires
        source.subscription_expires = None
        target.promo_redeemed |= source.promo_redeemed
        self.refs[source_ref] = target_pk
        self.anonymous.remove(source_ref)

    def subscription_buy(self) -> None:
        ref = self.pick_ref()
        if ref is None:
            return
        account = self.accounts[self.refs[ref]]
        price = PLAN_PRICE[SUBSCRIPTION_PLAN]
        response = self.api.post(
            f"/api/v1/users/{ref}/subscription", {"plan": SUBSCRIPTION_PLAN, "auto_renew": False}
        )
        if account.available < price:
            self.record("subscription_refused", response, 402, ref)
            return
        self.record("subscription_bought", response, 201, ref)
        if response.status_code == 201:
            account.balance -= price
            account.subscription_expires = datetime.fromisoformat(response.json()["expires_at"])

    def subscription_read(self) -> None:
        ref = self.pick_ref()
        if ref is None:
            return
        expires = self.accounts[self.refs[ref]].subscription_expires
        response = self.api.get(f"/api/v1/users/{ref}/subscription")

        def matches(status: int) -> bool:
            body = response.json()
            stored = datetime.fromisoformat(body["expires_at"]) if body["expires_at"] else None
            return status == 200 and (body["plan"], stored) == (
                SUBSCRIPTION_PLAN if expires else "free",
                expires,
            )

        self.record("subscription_read", response, matches, f"{ref} model expires {expires}")

    # --- refunds ------------------------------------------------------------------------------

    def refund_create(self) -> None:
        candidates = [payment for payment in self.paid if payment["amount"] > payment["refunded"]]
        if not candidates:
            return
        payment = self.rng.choice(candidates)
        left = payment["amount"] - payment["refunded"]
        roll = self.rng.random()
        if roll < 0.1:
            amount, body = left + 1, {"amount": f"{left + 1:.2f}"}
        elif roll < 0.5:
            amount, body = left, {"reason": "whole"}
        else:
            amount = max(CENT, (left * self.rng.randint(1, 99) / 100).quantize(CENT))
            body = {"amount": f"{amount:.2f}", "reason": "part"}
        key = self.key()
        path = f"/api/v1/payments/{payment['id']}/refunds"
        response = self.api.post(path, body, idempotency_key=key)
        account = self.accounts[self.beneficiary(payment["user"])]
        if amount > left:
            self.record("refund_too_much", response, 409, str(payment["id"]))
            return
        if payment["provider"] == "telegram_stars" and amount != payment["amount"]:
            self.record("refund_stars_partial", response, 422, str(payment["id"]))  # refunded whole only
            return
        if account.available < amount:
            self.record("refund_refused", response, 402, str(payment["id"]))
            return
        self.record(
            "refund_created",
            response,
            lambda status: status == 201 and response.json()["status"] == "pending",
            f"{payment['id']} {amount}",
        )
        if response.status_code != 201:
            return
        if self.rng.random() < 0.2:
            replay = self.api.post(path, body, idempotency_key=key)
            self.record("refund_replay", replay, lambda status: replay.content == response.content)
        account.held += amount
        payment["refunded"] += amount
        refund = {"id": response.json()["id"], "payment": payment, "amount": amount, "status": "pending"}
        if payment["provider"] == "yookassa":
            # Fake mode answers pending; YooKassa's refund.succeeded arrives later, perhaps twice.
            self.yookassa_refunds[response.json()["provider_refund_id"]] = refund
            self.backlog.append((response.json()["provider_refund_id"], "refund.succeeded", amount))
        else:
            self.refunds_pending.append(refund)

    def refund_settled(self, refund: dict[str, Any], status: str) -> None:
        account = self.accounts[self.beneficiary(refund["payment"]["user"])]
        account.held -= refund["amount"]
        if status == "succeeded":
            account.balance -= refund["amount"]
        else:
            refund["payment"]["refunded"] -= refund["amount"]
        refund["status"] = status

    def refund_webhook(self, provider_refund_id: str) -> None:
        refund = self.yookassa_refunds[provider_refund_id]
        body = {
            "type": "notification",
            "event": "refund.succeeded",
            "object": {
                "id": provider_refund_id,
                "status": "succeeded",
                "amount": {"value": f"{refund['amount']:.2f}", "currency": "RUB"},
            },
        }
        response = self.api.client.post(
            f"/webhooks/yookassa/{settings.YOOKASSA_WEBHOOK_SECRET}",
            data=body,
            content_type="application/json",
        )
        expected = "refunded" if refund["status"] == "pending" else "duplicate"
        if refund["status"] == "pending":
            self.refund_settled(refund, "succeeded")
        self.record(
            f"refund_webhook_{expected}",
            response,
            lambda status: status == 200 and response.json().get("status") == expected,
            provider_refund_id,
        )

    def refund_settle(self) -> None:
        """The bot reports refundStarPayment's outcome; sometimes it reports a settled one again."""
        if not self.refunds_pending:
            if self.refunds_done and self.rng.random() < 0.5:
                refund = self.rng.choice(self.refunds_done)
                other = "failed" if refund["status"] == "succeeded" else "succeeded"
                status = refund["status"] if self.rng.random() < 0.5 else other
                response = self.api.post(f"/api/v1/refunds/{refund['id']}/status", {"status": status})
                self.record("refund_status_again", response, 200 if status == refund["status"] else 409)
            return
        refund = self.refunds_pending.pop(self.rng.randrange(len(self.refunds_pending)))
        status = "succeeded" if self.rng.random() < 0.7 else "failed"
        response = self.api.post(f"/api/v1/refunds/{refund['id']}/status", {"status": status})
        self.record(
            f"refund_{status}", response, lambda code: code == 200 and response.json()["status"] == status
        )
        if response.status_code == 200:
            self.refund_settled(refund, status)
            self.refunds_done.append(refund)

    def generation_refund(self) -> None:
        if not self.finished:
            return
        job = self.rng.choice(self.finished)
        response = self.api.post(f"/api/v1/generations/{job['id']}/refund", {"reason": "bad result"})
        if job["final"]["status"] != "succeeded" or job["cost"] == 0:
            self.record("generation_refund_never_charged", response, 409, str(job["id"]))
        elif job.get("refunded"):
            self.record("generation_refund_again", response, 200, str(job["id"]))
        else:
            self.record("generation_refunded", response, 201, str(job["id"]))
            if response.status_code == 201:
                job["refunded"] = True
                self.accounts[self.beneficiary(job["user"])].balance += job["cost"]

    def stars_replay_late(self) -> None:
        """A Stars update delivered again later (after a merge of its payer, perhaps): the 200 replay."""
        if not self.stars_bodies:
            return
        body = self.rng.choice(self.stars_bodies)
        response = self.api.post("/api/v1/payments/telegram-stars", body)
        self.record("stars_replay_late", response, 200, body["user"])

    def balance_read(self) -> None:
        ref = self.pick_ref()
        if ref is None:
            return
        account = self.accounts[self.refs[ref]]
        response = self.api.get(f"/api/v1/users/{ref}/balance")
        self.record(
            "balance_read",
            response,
            lambda status: (
                status == 200
                and (response.json()["balance"], response.json()["held"])
                == (f"{account.balance:.2f}", f"{account.held:.2f}")
            ),
            f"{ref} model balance {account.balance} held {account.held}",
        )

    # --- the run ------------------------------------------------------------------------------

    def run(self) -> None:
        for _ in range(2):
            self.user_create()
        kinds, weights = zip(*WEIGHTS.items(), strict=True)
        operations = 0
        while time.monotonic() < self.deadline and (MAX_OPS is None or operations < MAX_OPS):
            kind = self.rng.choices(kinds, weights)[0]
            if kind == "user_create" and len(self.refs) >= 25:
                kind = "balance_read"
            getattr(self, kind)()
            operations += 1
        # Late webhooks: whatever YooKassa still had to send arrives after the clients stopped.
        while self.backlog:
            self.webhook_deliver(index=0)


CAPPED_WINNERS: list[int] = []
PLAN_PRICE: dict[str, Decimal] = {}


def catalog_create() -> None:
    for code, price in PAID_MODELS.items():
        AIModel.objects.create(
            code=code,
            name=code,
            category=AIModel.Category.IMAGE,
            provider="test",
            price=price,
            currency="RUB",
        )
    AIModel.objects.create(
        code=FREE_MODEL,
        name="free",
        category=AIModel.Category.TEXT,
        provider="test",
        price=ZERO,
        is_free=True,
    )
    PromoCode.objects.create(code=OPEN_CODE, amount=OPEN_CODE_AMOUNT)
    PromoCode.objects.create(code=CAPPED_CODE, amount=CAPPED_CODE_AMOUNT, max_uses=max(1, CLIENTS // 2))
    PLAN_PRICE.update(Plan.objects.values_list("code", "price"))


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_random_history_matches_the_model(raw_api_key, settings, capsys):
    # given the catalog, two promo codes and the plans; plan limits off so that every refusal is money's
    settings.RATE_LIMITS_ENABLED = False
    catalog_create()
    CAPPED_WINNERS.clear()
    with capsys.disabled():
        print(
            f"\nrandom history: RANDOM_HISTORY_SEED={SEED} clients={CLIENTS} seconds={SECONDS} "
            f"ops_per_client={MAX_OPS or 'until time'}"
        )
    deadline = time.monotonic() + SECONDS
    lock = threading.Lock()
    clients = [Client(index, raw_api_key, deadline, lock) for index in range(CLIENTS)]
    errors: list[BaseException] = []

    def run(client: Client) -> None:
        try:
            client.run()
        except BaseException as exc:  # reported with the seed below
            errors.append(exc)
        finally:
            connections.close_all()

    # when the clients run at once
    threads = [threading.Thread(target=run, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(SECONDS + 240)
    assert not any(thread.is_alive() for thread in threads), f"a client hung (seed {SEED})"
    assert not errors, f"seed {SEED}: {errors[0]!r}"

    # and the jobs left hanging pass their deadline and the scheduler's sweep times them out
    settings.GENERATION_TIMEOUT_SECONDS = 0
    generations_time_out()
    for client in clients:
        for job in client.in_flight:
            client.accounts[job["user"]].held -= job["cost"]

    # then every answer was the one the model predicted
    history = [outcome for client in clients for outcome in client.history]
    mismatches = [line for client in clients for line in client.mismatches]
    kinds = Counter(outcome.kind for outcome in history)
    statuses = Counter(outcome.status for outcome in history)
    with capsys.disabled():
        print(
            f"random history: seed={SEED} operations={len(history)} "
            f"timeouts={sum(len(client.in_flight) for client in clients)} capped promo winners={len(CAPPED_WINNERS)}\n"
            f"  by kind: {dict(sorted(kinds.items()))}\n  by status: {dict(sorted(statuses.items()))}"
        )
    assert mismatches == [], f"seed {SEED}: {len(mismatches)} answers differ from the model:\n" + "\n".join(
        mismatches[:20]
    )
    assert len(CAPPED_WINNERS) <= max(1, CLIENTS // 2)
    # and the stored balances are the model's, user by user
    model = {pk: account for client in clients for pk, account in client.accounts.items()}
    stored = {
        owner: (balance, held)
        for owner, balance, held in Account.objects.filter(
            kind=Account.Kind.USER, currency="RUB", owner_id__in=model
        ).values_list("owner_id", "balance", "held")
    }
    differing = {
        pk: {"model": (account.balance, account.held), "stored": stored.get(pk)}
        for pk, account in model.items()
        if stored.get(pk) != (account.balance, account.held)
    }
    assert differing == {}, f"seed {SEED}: balances differ from the model"
    # and so are the subscriptions (a merge moved the paid one, the later expiry won)
    now = datetime.now(UTC)
    stored_subscriptions = {
        # The API shows times to the millisecond, and the model knows them from the API.
        user_id: expires.replace(microsecond=expires.microsecond // 1000 * 1000)
        for user_id, plan, expires in Subscription.objects.filter(user_id__in=model).values_list(
            "user_id", "plan__code", "expires_at"
        )
        if plan != "free" and expires > now
    }
    modelled = {
        pk: account.subscription_expires for pk, account in model.items() if account.subscription_expires
    }
    assert stored_subscriptions == modelled, f"seed {SEED}: subscriptions differ from the model"
    assert [(r.invariant, r.detail) for r in ledger_invariants_check() if not r.ok] == [], f"seed {SEED}"
    assert len(history) >= CLIENTS * 10
