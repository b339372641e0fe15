"""Reads of the assistants app."""

from collections.abc import Sequence
from typing import Any

from django.db.models import Max, QuerySet

from accounts.models import EndUser
from assistants.errors import AssistantsError
from assistants.models import Assistant, Dialog, Document, Message


def assistants_of_user(*, user: EndUser) -> QuerySet[Assistant]:
    # documents/dialogs/messages counts are maintained counters on the row (see Assistant).
    return Assistant.objects.filter(owner=user)


def assistant_get(*, assistant_id: int) -> Assistant:
    assistant = Assistant.objects.filter(pk=assistant_id).first()
    if assistant is None:
        raise AssistantsError(
            f"No assistant {assistant_id}.", code="not_found", details={"assistant": assistant_id}
        )
    return assistant


def documents_of_assistant(*, assistant: Assistant) -> QuerySet[Document]:
    # The stored text can be a megabyte; lists never need it.
    return Document.objects.filter(assistant=assistant).defer("text")


def dialog_get(*, dialog_id: int) -> Dialog:
    dialog = Dialog.objects.select_related("user").filter(pk=dialog_id).first()
    if dialog is None:
        raise AssistantsError(f"No dialog {dialog_id}.", code="not_found", details={"dialog": dialog_id})
    return dialog


def dialog_exists(*, dialog_id: int) -> None:
    if not Dialog.objects.filter(pk=dialog_id).exists():
        raise AssistantsError(f"No dialog {dialog_id}.", code="not_found", details={"dialog": dialog_id})


def messages_of_dialog(*, dialog_id: int) -> QuerySet[Message]:
    return Message.objects.filter(dialog_id=dialog_id)


def dialogs_newest_for_user(*, user: EndUser, limit: int) -> list[Dialog]:
    """The user card's newest dialogs, by the dialog's user index."""
    return list(Dialog.objects.filter(user=user).select_related("assistant").order_by("-pk")[:limit])


def last_message_at_for_users(users: Sequence[EndUser]) -> dict[int, dict[str, Any]]:
    """When each user of a page last wrote or was written to (the dialogs' stored last_message_at)."""
    rows = (
        Dialog.objects.filter(user_id__in=[user.pk for user in users], last_message_at__isnull=False)
        .values("user_id")
        .annotate(last=Max("last_message_at"))
        .order_by()
        .values_list("user_id", "last")
    )
    return {user_id: {"last_activity": last} for user_id, last in rows}
