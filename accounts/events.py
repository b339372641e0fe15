"""Explicit domain events: how accounts tells the apps above it what happened, without importing them.

accounts depends on no other app, yet creating a user must grant the welcome bonus (billing) in the
same transaction, and merging an anonymous user must move its money (billing) and its history
(generations, assistants). So accounts publishes an event and the apps above subscribe in their
`AppConfig.ready()`. Handlers run synchronously, in the publisher's transaction: if one fails, the
whole user creation or merge rolls back. A handler only calls its own app's service.

The same inversion serves reads: the user object of the API shows a balance and a subscription
that billing owns, through `user_facet` providers.
"""

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from accounts.models import EndUser


@dataclass(frozen=True)
class EndUserCreated:
    user: EndUser


@dataclass(frozen=True)
class EndUsersMerged:
    """`source` (anonymous) was merged into `target`; both rows are locked by the publisher."""

    source: EndUser
    target: EndUser


@dataclass(frozen=True)
class EndUserAnonymized:
    """The person asked to be forgotten; the apps above clear the personal text they hold for `user`."""

    user: EndUser
    operator: Any


_handlers: dict[type, list[Callable[[Any], None]]] = defaultdict(list)
_user_facets: dict[str, Callable[[list[EndUser]], dict[int, Any]]] = {}


def subscribe(event_type: type, handler: Callable[[Any], None]) -> None:
    if handler not in _handlers[event_type]:
        _handlers[event_type].append(handler)


def publish(event: object) -> None:
    for handler in _handlers[type(event)]:
        handler(event)


def register_user_facet(name: str, provider: Callable[[list[EndUser]], dict[int, Any]]) -> None:
    """`provider(users)` returns {user.pk: value} for a batch of users in a constant number of queries."""
    _user_facets[name] = provider


def user_facets(users: list[EndUser]) -> dict[str, dict[int, Any]]:
    return {name: provider(users) for name, provider in _user_facets.items()}
