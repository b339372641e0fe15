"""The synchronous client. Generated from _async_client.py by tools/unasync.py: do not edit."""

import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from functools import partial
from typing import Any, TypeVar

import httpx
from pydantic import TypeAdapter

from botdesk_client._base import Call, ClientBase, body, query, segment
from botdesk_client.errors import BotdeskConnectionError
from botdesk_client.models import (
    AIModel,
    Assistant,
    Balance,
    Chunk,
    DebugLogAccepted,
    Dialog,
    Document,
    EventType,
    Generation,
    GenerationRefund,
    GenerationStatus,
    Handoff,
    HandoffAction,
    Health,
    Message,
    MessageRole,
    Page,
    Payment,
    Plan,
    Project,
    ProjectDetail,
    ProjectItem,
    PromoRedemption,
    ProviderLogAccepted,
    Referral,
    Referrals,
    Refund,
    RefundStatus,
    SearchMode,
    SearchResult,
    Subscription,
    Transaction,
    TransactionType,
    User,
    Webhook,
    WebhookWithSecret,
)

T = TypeVar("T")
Money = Decimal | str | int
UserRef = int | str


_USER: TypeAdapter[User] = TypeAdapter(User)
_BALANCE: TypeAdapter[Balance] = TypeAdapter(Balance)
_TRANSACTIONS: TypeAdapter[Page[Transaction]] = TypeAdapter(Page[Transaction])
_PAYMENT: TypeAdapter[Payment] = TypeAdapter(Payment)
_REFUND: TypeAdapter[Refund] = TypeAdapter(Refund)
_GENERATION_REFUND: TypeAdapter[GenerationRefund] = TypeAdapter(GenerationRefund)
_PROMO: TypeAdapter[PromoRedemption] = TypeAdapter(PromoRedemption)
_PLANS: TypeAdapter[list[Plan]] = TypeAdapter(list[Plan])
_SUBSCRIPTION: TypeAdapter[Subscription] = TypeAdapter(Subscription)
_MODELS: TypeAdapter[list[AIModel]] = TypeAdapter(list[AIModel])
_GENERATION: TypeAdapter[Generation] = TypeAdapter(Generation)
_GENERATIONS: TypeAdapter[Page[Generation]] = TypeAdapter(Page[Generation])
_PROJECT: TypeAdapter[Project] = TypeAdapter(Project)
_PROJECTS: TypeAdapter[Page[Project]] = TypeAdapter(Page[Project])
_PROJECT_DETAIL: TypeAdapter[ProjectDetail] = TypeAdapter(ProjectDetail)
_PROJECT_ITEM: TypeAdapter[ProjectItem] = TypeAdapter(ProjectItem)
_REFERRALS: TypeAdapter[Referrals] = TypeAdapter(Referrals)
_ASSISTANT: TypeAdapter[Assistant] = TypeAdapter(Assistant)
_ASSISTANTS: TypeAdapter[Page[Assistant]] = TypeAdapter(Page[Assistant])
_DOCUMENT: TypeAdapter[Document] = TypeAdapter(Document)
_DOCUMENTS: TypeAdapter[Page[Document]] = TypeAdapter(Page[Document])
_SEARCH: TypeAdapter[SearchResult] = TypeAdapter(SearchResult)
_DIALOG: TypeAdapter[Dialog] = TypeAdapter(Dialog)
_MESSAGE: TypeAdapter[Message] = TypeAdapter(Message)
_MESSAGES: TypeAdapter[Page[Message]] = TypeAdapter(Page[Message])
_HANDOFF: TypeAdapter[Handoff] = TypeAdapter(Handoff)
_WEBHOOK: TypeAdapter[Webhook] = TypeAdapter(Webhook)
_WEBHOOK_WITH_SECRET: TypeAdapter[WebhookWithSecret] = TypeAdapter(WebhookWithSecret)
_PROVIDER_LOG: TypeAdapter[ProviderLogAccepted] = TypeAdapter(ProviderLogAccepted)
_DEBUG_LOG: TypeAdapter[DebugLogAccepted] = TypeAdapter(DebugLogAccepted)
_HEALTH: TypeAdapter[Health] = TypeAdapter(Health)


class BotdeskClient(ClientBase):
    """Botdesk Bot API v1.1. Use as `with BotdeskClient(url, key) as botdesk: ...`.

    Every method raises a subclass of `BotdeskError` for an error answer (`InsufficientFundsError`,
    `NotFoundError`, ...) and `BotdeskConnectionError` when no answer came. Calls that take an
    `Idempotency-Key` get one made for them (reused by every retry of that call); pass `idempotency_key=`
    to make a retry after a crash of the bot itself replay the first answer.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 15.0,
        max_retries: int = 2,
        max_retry_wait: float = 30.0,
        backoff: float = 0.5,
        http_client: httpx.Client | None = None,
    ) -> None:
        super().__init__(
            base_url,
            api_key,
            timeout=timeout,
            max_retries=max_retries,
            max_retry_wait=max_retry_wait,
            backoff=backoff,
        )
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(timeout=timeout)

    def __enter__(self) -> "BotdeskClient":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def _send(self, call: Call[T]) -> T:
        headers = {**self._default_headers, **self._headers_for(call)}
        url = self.base_url + call.path
        attempt = 0
        while True:
            try:
                response = self._http.request(
                    call.method,
                    url,
                    params=call.params,
                    json=call.json,
                    headers=headers,
                    timeout=self.timeout,
                )
            except httpx.TransportError as exc:
                delay = self._retry_delay(call, attempt, None)
                if delay is None:
                    raise BotdeskConnectionError(f"{call.method} {call.path}: {exc!r}") from exc
            else:
                delay = self._retry_delay(call, attempt, response)
                if delay is None:
                    return self._result(call, response)
            attempt += 1
            time.sleep(delay)

    def _walk(self, fetch: Callable[..., Page[Any]], page_size: int) -> Iterator[Any]:
        """Every item of a list, newest first, fetching the pages one by one as they are consumed."""
        cursor: str | None = None
        while True:
            page = fetch(limit=page_size, cursor=cursor)
            for item in page.items:
                yield item
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    # --- health ----------------------------------------------------------------------------------------

    def health(self) -> Health:
        """200, or 503 when the database is down: both answer a `Health` (`status` "ok" or "down")."""
        return self._send(Call("GET", "/health", _HEALTH, answers_on_error=frozenset({503})))

    # --- users -----------------------------------------------------------------------------------------

    def user_upsert(
        self,
        user: UserRef,
        *,
        username: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        language_code: str | None = None,
        referrer: UserRef | None = None,
    ) -> User:
        """Creates the user (welcome bonus, referrer recorded only now) or updates the profile."""
        payload = body(
            username=username,
            first_name=first_name,
            last_name=last_name,
            language_code=language_code,
            referrer=referrer,
        )
        return self._send(Call("PUT", f"/users/{segment(user)}", _USER, json=payload, retry_safe=True))

    def user_detail(self, user: UserRef) -> User:
        return self._send(Call("GET", f"/users/{segment(user)}", _USER, retry_safe=True))

    def user_identity_attach(
        self,
        user: UserRef,
        *,
        telegram_id: int | None = None,
        device_id: str | None = None,
        external_id: str | None = None,
    ) -> User:
        """Attaches one identity; one held by an anonymous user merges that user in."""
        payload = body(telegram_id=telegram_id, device_id=device_id, external_id=external_id)
        return self._send(
            Call("POST", f"/users/{segment(user)}/identities", _USER, json=payload, retry_safe=True)
        )

    # --- balance and ledger ----------------------------------------------------------------------------

    def balance_detail(self, user: UserRef, *, currency: str | None = None) -> Balance:
        path = f"/users/{segment(user)}/balance"
        return self._send(Call("GET", path, _BALANCE, params=query(currency=currency), retry_safe=True))

    def transactions_list(
        self,
        user: UserRef,
        *,
        type: TransactionType | str | None = None,
        currency: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Transaction]:
        params = query(type=type, currency=currency, limit=limit, cursor=cursor)
        path = f"/users/{segment(user)}/transactions"
        return self._send(Call("GET", path, _TRANSACTIONS, params=params, retry_safe=True))

    def iter_transactions(
        self, user: UserRef, *, type: TransactionType | str | None = None, page_size: int = 200
    ) -> Iterator[Transaction]:
        """Every transaction, newest first, fetching pages as needed."""
        return self._walk(partial(self.transactions_list, user, type=type), page_size)

    # --- payments and refunds --------------------------------------------------------------------------

    def payment_create(
        self,
        user: UserRef,
        *,
        amount: Money,
        currency: str | None = None,
        provider: str = "yookassa",
        description: str | None = None,
        customer_email: str | None = None,
        customer_phone: str | None = None,
        idempotency_key: str | None = None,
    ) -> Payment:
        """A YooKassa payment: send the user to `confirmation_url`; the `payment.succeeded` event follows."""
        payload = body(
            amount=Decimal(str(amount)),
            currency=currency,
            provider=provider,
            description=description,
            customer_email=customer_email,
            customer_phone=customer_phone,
        )
        return self._send(
            Call(
                "POST",
                f"/users/{segment(user)}/payments",
                _PAYMENT,
                json=payload,
                idempotency="required",
                retry_safe=True,
                idempotency_key=idempotency_key,
            )
        )

    def payment_detail(self, payment_id: int | str) -> Payment:
        return self._send(Call("GET", f"/payments/{segment(payment_id)}", _PAYMENT, retry_safe=True))

    def telegram_stars_credit(
        self,
        *,
        user: UserRef,
        telegram_payment_charge_id: str,
        total_amount: int,
        invoice_payload: str = "",
        currency: str = "XTR",
        idempotency_key: str | None = None,
        **successful_payment: Any,
    ) -> Payment:
        """After Telegram's `successful_payment`: credited once per charge id (a replay answers the same
        payment). Extra fields of Telegram's SuccessfulPayment may be passed; Botdesk ignores them."""
        payload = body(
            user=user,
            telegram_payment_charge_id=telegram_payment_charge_id,
            total_amount=total_amount,
            invoice_payload=invoice_payload,
            currency=currency,
            **successful_payment,
        )
        return self._send(
            Call(
                "POST",
                "/payments/telegram-stars",
                _PAYMENT,
                json=payload,
                idempotency="accepted",
                retry_safe=True,
                idempotency_key=idempotency_key,
            )
        )

    def payment_refund_create(
        self,
        payment_id: int | str,
        *,
        amount: Money | None = None,
        reason: str | None = None,
        idempotency_key: str | None = None,
    ) -> Refund:
        """YooKassa: Botdesk asks YooKassa. Telegram Stars: the refund is pending (its amount held); call
        Telegram's refundStarPayment, then `refund_status_set`."""
        payload = body(amount=None if amount is None else Decimal(str(amount)), reason=reason)
        return self._send(
            Call(
                "POST",
                f"/payments/{segment(payment_id)}/refunds",
                _REFUND,
                json=payload,
                idempotency="required",
                retry_safe=True,
                idempotency_key=idempotency_key,
            )
        )

    def refund_status_set(
        self,
        refund_id: int | str,
        *,
        status: RefundStatus | str,
        error_message: str | None = None,
        idempotency_key: str | None = None,
    ) -> Refund:
        payload = body(status=str(status), error_message=error_message)
        return self._send(
            Call(
                "POST",
                f"/refunds/{segment(refund_id)}/status",
                _REFUND,
                json=payload,
                idempotency="accepted",
                retry_safe=True,
                idempotency_key=idempotency_key,
            )
        )

    def refund_detail(self, refund_id: int | str) -> Refund:
        return self._send(Call("GET", f"/refunds/{segment(refund_id)}", _REFUND, retry_safe=True))

    def generation_refund_create(
        self, generation_id: int, *, reason: str | None = None, idempotency_key: str | None = None
    ) -> GenerationRefund:
        """Gives back what the generation was charged (once; later calls answer the same refund)."""
        return self._send(
            Call(
                "POST",
                f"/generations/{segment(generation_id)}/refund",
                _GENERATION_REFUND,
                json=body(reason=reason),
                idempotency="accepted",
                retry_safe=True,
                idempotency_key=idempotency_key,
            )
        )

    # --- promo codes, plans and subscriptions ----------------------------------------------------------

    def promo_code_redeem(
        self, user: UserRef, *, code: str, idempotency_key: str | None = None
    ) -> PromoRedemption:
        return self._send(
            Call(
                "POST",
                f"/users/{segment(user)}/promo-codes/redeem",
                _PROMO,
                json=body(code=code),
                idempotency="accepted",
                retry_safe=True,
                idempotency_key=idempotency_key,
            )
        )

    def plans_list(self) -> list[Plan]:
        return self._send(Call("GET", "/plans", _PLANS, retry_safe=True))

    def subscription_detail(self, user: UserRef) -> Subscription:
        path = f"/users/{segment(user)}/subscription"
        return self._send(Call("GET", path, _SUBSCRIPTION, retry_safe=True))

    def subscription_purchase(
        self, user: UserRef, *, plan: str, auto_renew: bool = False, idempotency_key: str | None = None
    ) -> Subscription:
        return self._send(
            Call(
                "POST",
                f"/users/{segment(user)}/subscription",
                _SUBSCRIPTION,
                json=body(plan=plan, auto_renew=auto_renew),
                idempotency="accepted",
                retry_safe=True,
                idempotency_key=idempotency_key,
            )
        )

    def referrals_list(
        self,
        user: UserRef,
        *,
        currency: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Referrals:
        params = query(currency=currency, limit=limit, cursor=cursor)
        path = f"/users/{segment(user)}/referrals"
        return self._send(Call("GET", path, _REFERRALS, params=params, retry_safe=True))

    def iter_referrals(self, user: UserRef, *, page_size: int = 200) -> Iterator[Referral]:
        return self._walk(partial(self.referrals_list, user), page_size)

    # --- generations -----------------------------------------------------------------------------------

    def models_list(self) -> list[AIModel]:
        return self._send(Call("GET", "/models", _MODELS, retry_safe=True))

    def generation_create(
        self,
        *,
        user: UserRef,
        model: str,
        prompt: str = "",
        parameters: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Generation:
        """Holds the cost on the balance (InsufficientFundsError when short, RateLimitedError over the
        plan's limits). Report the provider's outcome with `generation_status_set`."""
        payload = body(user=user, model=model, prompt=prompt, parameters=parameters or {})
        return self._send(
            Call(
                "POST",
                "/generations",
                _GENERATION,
                json=payload,
                idempotency="required",
                retry_safe=True,
                idempotency_key=idempotency_key,
            )
        )

    def generation_status_set(
        self,
        generation_id: int,
        *,
        status: GenerationStatus | str,
        task_id: str | None = None,
        result_url: str | None = None,
        error_code: str | None = None,
        error_message: str | None = None,
        duration_ms: int | None = None,
        idempotency_key: str | None = None,
    ) -> Generation:
        """`succeeded` charges the hold, `failed` releases it; the same final status again is a no-op."""
        payload = body(
            status=str(status),
            task_id=task_id,
            result_url=result_url,
            error_code=error_code,
            error_message=error_message,
            duration_ms=duration_ms,
        )
        return self._send(
            Call(
                "POST",
                f"/generations/{segment(generation_id)}/status",
                _GENERATION,
                json=payload,
                idempotency="accepted",
                retry_safe=True,
                idempotency_key=idempotency_key,
            )
        )

    def generation_detail(self, generation_id: int) -> Generation:
        path = f"/generations/{segment(generation_id)}"
        return self._send(Call("GET", path, _GENERATION, retry_safe=True))

    def generations_list(
        self,
        user: UserRef,
        *,
        status: GenerationStatus | str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Generation]:
        params = query(status=status, limit=limit, cursor=cursor)
        path = f"/users/{segment(user)}/generations"
        return self._send(Call("GET", path, _GENERATIONS, params=params, retry_safe=True))

    def iter_generations(
        self, user: UserRef, *, status: GenerationStatus | str | None = None, page_size: int = 200
    ) -> Iterator[Generation]:
        return self._walk(partial(self.generations_list, user, status=status), page_size)

    # --- projects --------------------------------------------------------------------------------------

    def projects_list(
        self, user: UserRef, *, limit: int | None = None, cursor: str | None = None
    ) -> Page[Project]:
        params = query(limit=limit, cursor=cursor)
        path = f"/users/{segment(user)}/projects"
        return self._send(Call("GET", path, _PROJECTS, params=params, retry_safe=True))

    def iter_projects(self, user: UserRef, *, page_size: int = 200) -> Iterator[Project]:
        return self._walk(partial(self.projects_list, user), page_size)

    def project_create(self, user: UserRef, *, name: str, description: str = "") -> Project:
        payload = body(name=name, description=description)
        return self._send(Call("POST", f"/users/{segment(user)}/projects", _PROJECT, json=payload))

    def project_detail(self, project_id: int) -> ProjectDetail:
        path = f"/projects/{segment(project_id)}"
        return self._send(Call("GET", path, _PROJECT_DETAIL, retry_safe=True))

    def project_item_add(
        self,
        project_id: int,
        *,
        generation: int | None = None,
        model: str | None = None,
        inputs: dict[str, Any] | None = None,
        outputs: dict[str, Any] | None = None,
        status: str | None = None,
    ) -> ProjectItem:
        """Either a generation id, or an outside result (model, inputs, outputs, status)."""
        payload = body(generation=generation, model=model, inputs=inputs, outputs=outputs, status=status)
        path = f"/projects/{segment(project_id)}/items"
        return self._send(Call("POST", path, _PROJECT_ITEM, json=payload))

    # --- assistants and knowledge ----------------------------------------------------------------------

    def assistant_list(
        self, user: UserRef, *, limit: int | None = None, cursor: str | None = None
    ) -> Page[Assistant]:
        params = query(limit=limit, cursor=cursor)
        path = f"/users/{segment(user)}/assistants"
        return self._send(Call("GET", path, _ASSISTANTS, params=params, retry_safe=True))

    def iter_assistants(self, user: UserRef, *, page_size: int = 200) -> Iterator[Assistant]:
        return self._walk(partial(self.assistant_list, user), page_size)

    def assistant_create(self, user: UserRef, *, name: str, instructions: str = "") -> Assistant:
        payload = body(name=name, instructions=instructions)
        path = f"/users/{segment(user)}/assistants"
        return self._send(Call("POST", path, _ASSISTANT, json=payload))

    def assistant_detail(self, assistant_id: int) -> Assistant:
        path = f"/assistants/{segment(assistant_id)}"
        return self._send(Call("GET", path, _ASSISTANT, retry_safe=True))

    def document_upload(
        self,
        assistant_id: int,
        *,
        title: str,
        text: str | None = None,
        chunks: list[Chunk] | None = None,
    ) -> Document:
        """Text (chunked and embedded by Botdesk) or your own chunks; the same title replaces the document."""
        payload = body(title=title, text=text, chunks=chunks)
        path = f"/assistants/{segment(assistant_id)}/documents"
        return self._send(Call("POST", path, _DOCUMENT, json=payload))

    def document_list(
        self, assistant_id: int, *, limit: int | None = None, cursor: str | None = None
    ) -> Page[Document]:
        params = query(limit=limit, cursor=cursor)
        path = f"/assistants/{segment(assistant_id)}/documents"
        return self._send(Call("GET", path, _DOCUMENTS, params=params, retry_safe=True))

    def iter_documents(self, assistant_id: int, *, page_size: int = 200) -> Iterator[Document]:
        return self._walk(partial(self.document_list, assistant_id), page_size)

    def document_delete(self, assistant_id: int, document_id: int) -> None:
        path = f"/assistants/{segment(assistant_id)}/documents/{segment(document_id)}"
        self._send(Call("DELETE", path, None, retry_safe=True))

    def assistant_search(
        self,
        assistant_id: int,
        *,
        query: str | None = None,
        embedding: list[float] | None = None,
        limit: int | None = None,
        min_importance: float | None = None,
        mode: SearchMode | str | None = None,
    ) -> SearchResult:
        payload = body(
            query=query,
            embedding=embedding,
            limit=limit,
            min_importance=min_importance,
            mode=None if mode is None else str(mode),
        )
        path = f"/assistants/{segment(assistant_id)}/search"
        return self._send(Call("POST", path, _SEARCH, json=payload, retry_safe=True))

    def dialog_open(self, assistant_id: int, *, user: UserRef, chat_id: int | str) -> Dialog:
        """The dialog of this chat (201 the first time, the same dialog afterwards)."""
        payload = body(user=user, chat_id=chat_id)
        path = f"/assistants/{segment(assistant_id)}/dialogs"
        return self._send(Call("POST", path, _DIALOG, json=payload, retry_safe=True))

    def dialog_detail(self, dialog_id: int) -> Dialog:
        return self._send(Call("GET", f"/dialogs/{segment(dialog_id)}", _DIALOG, retry_safe=True))

    def message_create(self, dialog_id: int, *, role: MessageRole | str, content: str) -> Message:
        payload = body(role=str(role), content=content)
        return self._send(Call("POST", f"/dialogs/{segment(dialog_id)}/messages", _MESSAGE, json=payload))

    def message_list(
        self, dialog_id: int, *, limit: int | None = None, cursor: str | None = None
    ) -> Page[Message]:
        params = query(limit=limit, cursor=cursor)
        path = f"/dialogs/{segment(dialog_id)}/messages"
        return self._send(Call("GET", path, _MESSAGES, params=params, retry_safe=True))

    def iter_messages(self, dialog_id: int, *, page_size: int = 200) -> Iterator[Message]:
        return self._walk(partial(self.message_list, dialog_id), page_size)

    def dialog_handoff(
        self, dialog_id: int, *, action: HandoffAction | str, operator: str, reason: str = ""
    ) -> Handoff:
        payload = body(action=str(action), operator=operator, reason=reason)
        return self._send(Call("POST", f"/dialogs/{segment(dialog_id)}/handoff", _HANDOFF, json=payload))

    # --- events sent to the bot ------------------------------------------------------------------------

    def webhook_set(self, *, url: str, events: list[EventType | str] | None = None) -> WebhookWithSecret:
        """Where this API key's events go. Keep the returned `secret`: it signs them and is shown only now."""
        payload = body(url=url, events=None if events is None else [str(event) for event in events])
        return self._send(Call("PUT", "/webhook", _WEBHOOK_WITH_SECRET, json=payload, retry_safe=True))

    def webhook_detail(self) -> Webhook:
        """NotFoundError when none is set."""
        return self._send(Call("GET", "/webhook", _WEBHOOK, retry_safe=True))

    def webhook_delete(self) -> None:
        self._send(Call("DELETE", "/webhook", None, retry_safe=True))

    # --- logs ------------------------------------------------------------------------------------------

    def provider_log_create(
        self,
        *,
        user: UserRef | None = None,
        model: str = "",
        prompt: str = "",
        result_url: str | None = None,
        error_message: str | None = None,
        duration_ms: int | None = None,
    ) -> ProviderLogAccepted:
        payload = body(
            user=user,
            model=model,
            prompt=prompt,
            result_url=result_url,
            error_message=error_message,
            duration_ms=duration_ms,
        )
        return self._send(Call("POST", "/logs/provider", _PROVIDER_LOG, json=payload))

    def debug_log_post(
        self, *, level: str, message: str, context: dict[str, Any] | None = None
    ) -> DebugLogAccepted:
        payload = body(level=level, message=message, context=context or {})
        return self._send(Call("POST", "/logs/debug", _DEBUG_LOG, json=payload))
