"""Fixtures of the assistants tests: users, assistants and documents made through the services."""

import pytest

from accounts.models import EndUser
from assistants import services
from assistants.models import Assistant
from tests.support.users import user_create


@pytest.fixture
def make_user(db):
    """Makes registered users through the API's service (tests.support.users.user_create): bonus included."""
    return user_create


@pytest.fixture
def owner(make_user) -> EndUser:
    return make_user(username="owner")


@pytest.fixture
def make_assistant(owner):
    def make(name: str = "Helper", *, user: EndUser | None = None) -> Assistant:
        return services.assistant_create(owner=user or owner, name=name, instructions="Be kind.")

    return make


@pytest.fixture
def assistant(make_assistant) -> Assistant:
    return make_assistant()


@pytest.fixture
def add_document():
    def add(assistant: Assistant, title: str, text: str | None = None, chunks=None):
        document, _created = services.document_upload(
            assistant=assistant, title=title, text=text, chunks=chunks
        )
        return document

    return add
