"""Handlers of accounts' domain events: each calls one generations service, in the publisher's transaction."""

from accounts.events import EndUserAnonymized, EndUsersMerged
from generations import services


def on_end_users_merged(event: EndUsersMerged) -> None:
    services.generations_user_merge(source=event.source, target=event.target)


def on_end_user_anonymized(event: EndUserAnonymized) -> None:
    services.generations_user_forget(user=event.user)
