"""The user card (the end user's admin page) and the user list, filled by the apps above accounts.

accounts imports no other app, yet the support agent's page shows balances (billing), jobs
(generations) and dialogs (assistants). Each app registers, from its admin module:
- card sections: a title, a template, the permission that shows it, and `build(user)` returning the
  template's data in a fixed number of queries whatever the user's history;
- list facts: `provider(users)` returning {user.pk: {fact: value}} for a page of users in a fixed
  number of queries (the user list's balance, plan, spending and last activity columns).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

from accounts.models import EndUser

CARD_ROWS = 20


@dataclass(frozen=True)
class CardSection:
    key: str
    title: str
    template: str
    permission: str
    build: Callable[[EndUser], dict[str, Any]]
    order: int = 100


@dataclass(frozen=True)
class BuiltSection:
    key: str
    title: str
    template: str
    data: dict[str, Any]


_sections: dict[str, CardSection] = {}
_list_facts: dict[str, Callable[[Sequence[EndUser]], dict[int, dict[str, Any]]]] = {}


def register_user_card_section(section: CardSection) -> None:
    _sections[section.key] = section


def register_user_list_facts(
    name: str, provider: Callable[[Sequence[EndUser]], dict[int, dict[str, Any]]]
) -> None:
    _list_facts[name] = provider


def user_card_sections(*, user: EndUser, request: HttpRequest) -> list[BuiltSection]:
    """The sections this operator may see, in order; a section they may not see is not built at all."""
    return [
        BuiltSection(
            key=section.key, title=section.title, template=section.template, data=section.build(user)
        )
        for section in sorted(_sections.values(), key=lambda section: (section.order, section.key))
        if request.user.has_perm(section.permission)
    ]


def user_list_facts(users: Sequence[EndUser]) -> dict[int, dict[str, Any]]:
    """Every registered fact of a page of users: {user.pk: {fact: value}}."""
    facts: dict[int, dict[str, Any]] = {user.pk: {} for user in users}
    if not users:
        return facts
    for provider in _list_facts.values():
        for user_id, values in provider(users).items():
            for name, value in values.items():
                if name == "last_activity" and facts[user_id].get(name) is not None:
                    value = max(value, facts[user_id][name]) if value is not None else facts[user_id][name]
                facts[user_id][name] = value
    return facts
