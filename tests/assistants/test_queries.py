"""Query counts of every assistants list endpoint and admin changelist: constant in the number of rows."""

import pytest

from assistants import services
from assistants.models import Dialog, HandoffAudit, Message
from assistants.services import ChunkInput

pytestmark = pytest.mark.django_db

# auth (API key) + the parent (user, assistant or dialog) + the page itself
LIST_QUERIES = 3


@pytest.fixture
def populate(make_user, make_assistant):
    """Adds `rows` assistants, each with a document (2 chunks), a dialog with 2 messages, a bot and a handoff."""
    made = []

    def add(rows: int, *, owner=None):
        for _ in range(rows):
            index = len(made)
            assistant = make_assistant(f"a{index}", user=owner)
            services.document_upload(
                assistant=assistant,
                title=f"d{index}",
                chunks=[ChunkInput(content="one"), ChunkInput(content="two")],
            )
            dialog, _ = services.dialog_open(assistant=assistant, user=make_user(), chat_id=str(index))
            for role in ("user", "assistant"):
                services.message_create(dialog_id=dialog.pk, role=role, content="hello")
            services.bot_instance_create(
                assistant=assistant, username=f"bot{index}_bot", token=f"{index}:secret"
            )
            services.dialog_handoff(dialog_id=dialog.pk, action="take", operator="ann")
            made.append(assistant)
        return made

    return add


def test_assistants_list_queries_constant(api, owner, populate, django_assert_num_queries):
    for rows in (1, 50):
        populate(rows if rows == 1 else rows - 1, owner=owner)
        with django_assert_num_queries(LIST_QUERIES):
            response = api.get(f"/api/v1/users/{owner.telegram_id}/assistants?limit=200")
        assert response.status_code == 200
        assert len(response.json()["items"]) == rows
        assert {item["messages_count"] for item in response.json()["items"]} == {2}


def test_documents_list_queries_constant(api, assistant, django_assert_num_queries):
    for rows in (1, 50):
        existing = assistant.documents.count()
        for index in range(existing, rows):
            services.document_upload(
                assistant=assistant, title=f"doc{index}", chunks=[ChunkInput(content=f"c{index}")]
            )
        with django_assert_num_queries(LIST_QUERIES):
            response = api.get(f"/api/v1/assistants/{assistant.pk}/documents?limit=200")
        assert len(response.json()["items"]) == rows


def test_messages_list_queries_constant(api, assistant, owner, django_assert_num_queries):
    dialog, _ = services.dialog_open(assistant=assistant, user=owner, chat_id="1")
    for rows in (1, 50):
        for _ in range(rows - Message.objects.filter(dialog=dialog).count()):
            services.message_create(dialog_id=dialog.pk, role="user", content="hi")
        with django_assert_num_queries(LIST_QUERIES):
            response = api.get(f"/api/v1/dialogs/{dialog.pk}/messages?limit=200")
        assert len(response.json()["items"]) == rows


def test_search_queries_constant(api, assistant, django_assert_num_queries):
    services.document_upload(
        assistant=assistant, title="t", chunks=[ChunkInput(content=f"fact {i}") for i in range(60)]
    )
    for limit in (1, 50):
        # auth + assistant + the search's own transaction (a savepoint and its release inside the
        # test's transaction) holding one set_config and the search itself
        with django_assert_num_queries(6):
            response = api.post(
                f"/api/v1/assistants/{assistant.pk}/search", {"query": "fact", "limit": limit}
            )
        assert len(response.json()["items"]) == limit


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # session + operator + page (counts are subqueries of it) + the paginator's "more?" probe is folded
        ("/admin/assistants/assistant/", 4),
        ("/admin/assistants/document/", 4),
        ("/admin/assistants/knowledgechunk/", 4),
        ("/admin/assistants/dialog/", 4),
        ("/admin/assistants/message/", 4),
        ("/admin/assistants/botinstance/", 5),
        ("/admin/assistants/handoffaudit/", 4),
    ],
)
def test_admin_changelists_queries_constant(admin_client, populate, django_assert_num_queries, url, expected):
    for rows in (1, 50):
        populate(rows if rows == 1 else rows - 1)
        with django_assert_num_queries(expected):
            response = admin_client.get(url)
        assert response.status_code == 200
        assert len(response.context["cl"].result_list) == rows * (
            2 if "knowledgechunk" in url or "message/" in url else 1
        )


def test_dialog_change_page_shows_a_bounded_page_of_messages(
    admin_client, assistant, owner, django_assert_num_queries
):
    dialog, _ = services.dialog_open(assistant=assistant, user=owner, chat_id="1")
    url = f"/admin/assistants/dialog/{dialog.pk}/change/"
    admin_client.get(url)  # warms the content-type cache the first admin page fills
    for rows in (1, 120):
        for _ in range(rows - Message.objects.filter(dialog=dialog).count()):
            services.message_create(dialog_id=dialog.pk, role="user", content="hi")
        # session, operator, dialog (with assistant and user), newest messages page, handoffs
        with django_assert_num_queries(5):
            response = admin_client.get(url)
        assert response.status_code == 200
    inline = next(
        formset for formset in response.context["inline_admin_formsets"] if formset.opts.model is Message
    )
    assert len(inline.formset.forms) == 50
    assert Dialog.objects.get(pk=dialog.pk).messages_count == 120
    assert not HandoffAudit.objects.exists()


def test_admin_reindex_action_calls_the_service(admin_client, assistant, django_capture_on_commit_callbacks):
    document, _ = services.document_upload(assistant=assistant, title="t", text="Some text to index.")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/assistants/document/", {"action": "reindex", "_selected_action": [document.pk]}
        )
    assert response.status_code == 302
    document.refresh_from_db()
    assert document.version == 2 and document.status == "indexed"


def test_chunk_admin_never_renders_the_vector(admin_client, assistant):
    services.document_upload(assistant=assistant, title="t", chunks=[ChunkInput(content="visible text")])
    chunk = assistant.chunks.get()
    page = admin_client.get(f"/admin/assistants/knowledgechunk/{chunk.pk}/change/")
    assert page.status_code == 200
    assert b"visible text" in page.content
    assert b"embedding" not in page.content.lower()
    listing = admin_client.get("/admin/assistants/knowledgechunk/?q=visible")
    assert list(listing.context["cl"].result_list) == [chunk]


def test_admin_handoff_actions_take_and_give_back_through_the_service(admin_client, make_assistant, owner):
    dialog, _ = services.dialog_open(assistant=make_assistant(), user=owner, chat_id="handoff-1")
    selected = {"_selected_action": [dialog.pk], "index": 0}

    admin_client.post("/admin/assistants/dialog/", {**selected, "action": "take_over"})
    assert Dialog.objects.get(pk=dialog.pk).mode == Dialog.Mode.OPERATOR
    admin_client.post("/admin/assistants/dialog/", {**selected, "action": "give_back"})
    assert Dialog.objects.get(pk=dialog.pk).mode == Dialog.Mode.BOT
    assert list(
        HandoffAudit.objects.filter(dialog=dialog).order_by("pk").values_list("action", flat=True)
    ) == [
        "take",
        "release",
    ]
