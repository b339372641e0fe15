"""Concurrent requests on real threads and connections: handoff, message counters, re-uploads."""

import pytest

from assistants import services
from assistants.errors import AssistantsError
from assistants.models import Dialog, Document, HandoffAudit, KnowledgeChunk, Message
from tests.support.concurrency import run_concurrently
from tests.support.users import user_create

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def dialog(db) -> Dialog:
    user = user_create()
    assistant = services.assistant_create(owner=user, name="Helper")
    return services.dialog_open(assistant=assistant, user=user, chat_id="1")[0]


def test_two_operators_taking_one_dialog_exactly_one_wins(dialog):
    def take(index: int):
        return services.dialog_handoff(dialog_id=dialog.pk, action="take", operator=f"op{index}")

    results = run_concurrently(take, 4)

    winners = [result for result in results if isinstance(result, HandoffAudit)]
    losers = [result for result in results if isinstance(result, AssistantsError)]
    assert len(winners) == 1 and len(losers) == 3
    assert all(error.code == "conflict" for error in losers)
    dialog.refresh_from_db()
    assert dialog.mode == "operator" and dialog.operator == winners[0].operator
    assert HandoffAudit.objects.count() == 1


def test_concurrent_messages_are_all_counted(dialog):
    def write(index: int):
        for _ in range(5):
            services.message_create(dialog_id=dialog.pk, role="user", content=f"from {index}")

    results = run_concurrently(write, 6)

    assert not [result for result in results if isinstance(result, Exception)]
    dialog.refresh_from_db()
    assert dialog.messages_count == Message.objects.filter(dialog=dialog).count() == 30
    dialog.assistant.refresh_from_db()
    assert dialog.assistant.messages_count == 30


def test_concurrent_uploads_of_one_title_leave_one_consistent_document(dialog):
    assistant = dialog.assistant
    texts = [f"Version {index}. " + "Shared paragraph. " * 20 for index in range(4)]

    def upload(index: int):
        return services.document_upload(assistant=assistant, title="manual", text=texts[index])

    results = run_concurrently(upload, 4)

    assert not [result for result in results if isinstance(result, Exception)], results
    document = Document.objects.get(assistant=assistant, title="manual")
    assert document.status == "indexed"
    chunks = list(KnowledgeChunk.objects.filter(document=document).order_by("ordinal"))
    assert len(chunks) == document.chunks_count
    assert " ".join(chunk.content for chunk in chunks).startswith(document.text.split(".")[0])
    assistant.refresh_from_db()
    assert assistant.chunks_count == KnowledgeChunk.objects.filter(assistant=assistant).count()


def test_handoff_and_bot_reply_race_never_lets_the_bot_speak_over_an_operator(dialog):
    def act(index: int):
        if index == 0:
            return services.dialog_handoff(dialog_id=dialog.pk, action="take", operator="ann")
        return services.message_create(dialog_id=dialog.pk, role="assistant", content="bot reply")

    run_concurrently(act, 4)

    taken_at = HandoffAudit.objects.get(dialog=dialog).created_at
    assert not Message.objects.filter(dialog=dialog, role="assistant", created_at__gt=taken_at).exists()
