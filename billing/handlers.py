"""Handlers of accounts' domain events: each calls one billing service, in the publisher's transaction."""

from accounts.events import EndUserCreated, EndUsersMerged
from billing import services


def on_end_user_created(event: EndUserCreated) -> None:
    services.welcome_bonus_grant(user=event.user)


def on_end_users_merged(event: EndUsersMerged) -> None:
    services.billing_user_merge(source=event.source, target=event.target)
