"""Users endpoints (bot-api.md, Users) and the bot's webhook (bot-api.md, "Events sent to the bot", one per
API key). Shape validation only; the rules live in services."""

from django.http import HttpRequest
from ninja import Router, Status

from accounts import presenters, selectors, services, webhooks
from accounts.schemas import IdentityIn, UserOut, UserUpsertIn, WebhookCreatedOut, WebhookIn, WebhookOut
from core.schemas import ERROR_CODES_4XX, ErrorOut

router = Router(tags=["users"])


@router.put("/users/{user}", response={200: UserOut, 201: UserOut, ERROR_CODES_4XX: ErrorOut})
def user_upsert(request: HttpRequest, user: str, payload: UserUpsertIn):
    profile = payload.model_dump(exclude_unset=True, exclude={"referrer"})
    profile = {name: value if value is not None else "" for name, value in profile.items()}
    end_user, created = services.end_user_upsert(ref=user, profile=profile, referrer_ref=payload.referrer)
    end_user = selectors.end_user_get_by_id(user_id=end_user.pk)
    return Status(201 if created else 200, presenters.user_out(end_user))


@router.get("/users/{user}", response={200: UserOut, ERROR_CODES_4XX: ErrorOut})
def user_detail(request: HttpRequest, user: str):
    return presenters.user_out(selectors.end_user_get(ref=user))


@router.post("/users/{user}/identities", response={200: UserOut, ERROR_CODES_4XX: ErrorOut})
def user_identity_attach(request: HttpRequest, user: str, payload: IdentityIn):
    identity, value = next((name, value) for name, value in payload.model_dump().items() if value is not None)
    end_user = services.end_user_attach_identity(ref=user, identity=identity, value=value)
    return presenters.user_out(selectors.end_user_get_by_id(user_id=end_user.pk))


@router.put("/webhook", tags=["webhook"], response={200: WebhookCreatedOut, ERROR_CODES_4XX: ErrorOut})
def webhook_set(request: HttpRequest, payload: WebhookIn):
    """Where this API key's events go. Every call makes a new signing secret, shown only here."""
    events = None if payload.events is None else [str(event) for event in payload.events]
    endpoint, secret = webhooks.webhook_set(api_key=request.auth, url=payload.url, events=events)
    return presenters.webhook_out(endpoint, secret)


@router.get("/webhook", tags=["webhook"], response={200: WebhookOut, ERROR_CODES_4XX: ErrorOut})
def webhook_detail(request: HttpRequest):
    return presenters.webhook_out(webhooks.webhook_get(api_key=request.auth))


@router.delete("/webhook", tags=["webhook"], response={204: None, ERROR_CODES_4XX: ErrorOut})
def webhook_delete(request: HttpRequest):
    webhooks.webhook_delete(api_key=request.auth)
    return Status(204, None)
