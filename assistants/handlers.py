"""Handlers of accounts' domain events (docs/architecture.md, Domain events); each calls one service."""

from accounts import events
from assistants import services


def on_end_users_merged(event: events.EndUsersMerged) -> None:
    """An anonymous user merged into a registered one: its assistants and dialogs follow it."""
    services.assistants_user_merge(source=event.source, target=event.target)


def on_end_user_anonymized(event: events.EndUserAnonymized) -> None:
    """The person asked to be forgotten: the chat id and what was written in their dialogs go."""
    services.dialogs_user_forget(user=event.user)
