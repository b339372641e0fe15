"""Users endpoints (bot-api.md, Users). Shape validation only; the rules live in services."""

from django.http import HttpRequest
from ninja import Router, Status

from accounts import presenters, selectors, services
from accounts.schemas import IdentityIn, UserOut, UserUpsertIn
from config.schemas import ERROR_CODES_4XX, ErrorOut

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
