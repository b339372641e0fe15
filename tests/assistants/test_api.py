"""The assistants endpoints of bot-api.md: shapes, status codes, error envelopes."""

import pytest

from assistants.models import Assistant, Document, KnowledgeChunk, Message

pytestmark = pytest.mark.django_db


def test_create_and_list_assistants_with_counts(api, owner, make_user):
    # given an assistant with two documents, two dialogs and three messages
    created = api.post(
        f"/api/v1/users/{owner.telegram_id}/assistants", {"name": "Support", "instructions": "Hi"}
    )
    assert created.status_code == 201
    body = created.json()
    assert body["name"] == "Support" and body["is_active"] is True
    assert body["documents_count"] == body["dialogs_count"] == body["messages_count"] == 0
    assistant_id = body["id"]
    for title in ("faq", "prices"):
        assert (
            api.post(
                f"/api/v1/assistants/{assistant_id}/documents", {"title": title, "text": "Hello world."}
            ).status_code
            == 201
        )
    visitor = make_user()
    dialogs = [
        api.post(
            f"/api/v1/assistants/{assistant_id}/dialogs", {"user": str(visitor.telegram_id), "chat_id": chat}
        )
        for chat in ("100", "200")
    ]
    assert [response.status_code for response in dialogs] == [201, 201]
    for index in range(3):
        dialog_id = dialogs[index % 2].json()["id"]
        assert (
            api.post(
                f"/api/v1/dialogs/{dialog_id}/messages", {"role": "user", "content": f"m{index}"}
            ).status_code
            == 201
        )

    # when the owner's assistants are listed
    response = api.get(f"/api/v1/users/{owner.telegram_id}/assistants")

    # then the counts are exact
    assert response.status_code == 200
    (item,) = response.json()["items"]
    assert item == {
        "id": assistant_id,
        "name": "Support",
        "is_active": True,
        "documents_count": 2,
        "dialogs_count": 2,
        "messages_count": 3,
        "created_at": item["created_at"],
    }
    assert response.json()["next_cursor"] is None


def test_assistant_list_is_paginated_newest_first(api, owner, make_assistant):
    ids = [make_assistant(f"a{index}").pk for index in range(5)]
    first = api.get(f"/api/v1/users/{owner.telegram_id}/assistants?limit=2").json()
    assert [item["id"] for item in first["items"]] == ids[::-1][:2]
    second = api.get(
        f"/api/v1/users/{owner.telegram_id}/assistants?limit=2&cursor={first['next_cursor']}"
    ).json()
    assert [item["id"] for item in second["items"]] == ids[::-1][2:4]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/users/999999/assistants", {"name": "x"}),
        ("/api/v1/assistants/999999/documents", {"title": "t", "text": "x"}),
        ("/api/v1/assistants/999999/search", {"query": "x"}),
        ("/api/v1/assistants/999999/dialogs", {"user": "1", "chat_id": "1"}),
        ("/api/v1/dialogs/999999/messages", {"role": "user", "content": "x"}),
        ("/api/v1/dialogs/999999/handoff", {"action": "take", "operator": "ann"}),
    ],
)
def test_unknown_parents_are_404(api, path, body):
    response = api.post(path, body)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "body",
    [
        {"title": "t"},
        {"title": "t", "text": "x", "chunks": [{"content": "y"}]},
        {"title": "", "text": "x"},
        {"title": "t", "chunks": []},
        {"title": "t", "chunks": [{"content": "y", "importance": 2}]},
        {"title": "t", "chunks": [{"content": "y", "embedding": [0.1, 0.2]}]},
        {"title": "t", "chunks": [{"content": "y", "embedding": [0.0] * 384}]},
        {"title": "t", "chunks": [{"content": "ok"}, {"content": "y", "embedding": [1e9] * 384}]},
        {"title": "t", "text": "   "},
    ],
)
def test_bad_documents_are_422_and_write_nothing(api, assistant, body):
    response = api.post(f"/api/v1/assistants/{assistant.pk}/documents", body)
    assert response.status_code == 422, response.content
    assert response.json()["error"]["code"] == "validation_error"
    assert not Document.objects.exists()
    assert not KnowledgeChunk.objects.exists()


def test_document_from_text_is_indexed_in_the_request(api, assistant):
    text = "\n\n".join(f"Paragraph {index} about shipping to city {index}. " * 8 for index in range(10))
    response = api.post(f"/api/v1/assistants/{assistant.pk}/documents", {"title": "Shipping", "text": text})
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "indexed"
    assert body["chunks_count"] == KnowledgeChunk.objects.filter(document_id=body["id"]).count() > 1
    assistant.refresh_from_db()
    assert assistant.chunks_count == body["chunks_count"]


def test_document_from_chunks_keeps_bot_embeddings(api, assistant):
    embedding = [0.0] * 384
    embedding[3] = 1.0
    response = api.post(
        f"/api/v1/assistants/{assistant.pk}/documents",
        {
            "title": "bot",
            "chunks": [
                {"content": "own vector", "embedding": embedding, "importance": 0.9},
                {"content": "plain"},
            ],
        },
    )
    assert response.status_code == 201
    assert response.json()["chunks_count"] == 2
    chunk = KnowledgeChunk.objects.get(content="own vector")
    assert chunk.importance == 0.9
    assert list(chunk.embedding)[3] == 1.0

    search = api.post(f"/api/v1/assistants/{assistant.pk}/search", {"embedding": embedding, "limit": 1})
    assert search.status_code == 200
    (hit,) = search.json()["items"]
    assert hit["chunk_id"] == chunk.pk
    assert set(hit) == {"chunk_id", "document_id", "content", "importance", "distance", "score"}
    assert hit["distance"] == pytest.approx(0.0, abs=1e-3)


def test_documents_list_and_delete(api, assistant, add_document):
    document = add_document(assistant, "faq", text="Returns are accepted within 30 days.")
    listed = api.get(f"/api/v1/assistants/{assistant.pk}/documents").json()
    assert [item["id"] for item in listed["items"]] == [document.pk]
    assert listed["items"][0]["status"] == "indexed"

    assert api.delete(f"/api/v1/assistants/{assistant.pk}/documents/{document.pk}").status_code == 204
    assert not KnowledgeChunk.objects.filter(document_id=document.pk).exists()
    assert api.delete(f"/api/v1/assistants/{assistant.pk}/documents/{document.pk}").status_code == 404


def test_document_of_another_assistant_cannot_be_deleted(api, make_assistant, add_document):
    mine, theirs = make_assistant("mine"), make_assistant("theirs")
    document = add_document(theirs, "secret", text="Their data.")
    response = api.delete(f"/api/v1/assistants/{mine.pk}/documents/{document.pk}")
    assert response.status_code == 404
    assert KnowledgeChunk.objects.filter(document=document).exists()


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"query": "  "},
        {"query": "x", "limit": 0},
        {"query": "x", "limit": 51},
        {"query": "x", "mode": "magic"},
        {"query": "x", "min_importance": 1.5},
        {"embedding": [0.1] * 3},
        {"embedding": [0.1] * 384, "mode": "hybrid"},
    ],
)
def test_bad_searches_are_422(api, assistant, body):
    response = api.post(f"/api/v1/assistants/{assistant.pk}/search", body)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


def test_dialog_is_opened_once_per_chat(api, assistant, make_user):
    user = make_user()
    first = api.post(
        f"/api/v1/assistants/{assistant.pk}/dialogs", {"user": str(user.telegram_id), "chat_id": 555}
    )
    again = api.post(
        f"/api/v1/assistants/{assistant.pk}/dialogs", {"user": str(user.telegram_id), "chat_id": "555"}
    )
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert first.json()["chat_id"] == "555"
    assert first.json()["user"] == str(user.telegram_id)
    other = make_user()
    clash = api.post(
        f"/api/v1/assistants/{assistant.pk}/dialogs", {"user": str(other.telegram_id), "chat_id": "555"}
    )
    assert clash.status_code == 409


def test_messages_newest_first_with_cursor(api, assistant, make_user):
    dialog = api.post(
        f"/api/v1/assistants/{assistant.pk}/dialogs", {"user": str(make_user().telegram_id), "chat_id": "1"}
    ).json()
    ids = [
        api.post(
            f"/api/v1/dialogs/{dialog['id']}/messages", {"role": role, "content": f"text {index}"}
        ).json()["id"]
        for index, role in enumerate(["user", "assistant", "user", "system", "operator"])
    ]
    page = api.get(f"/api/v1/dialogs/{dialog['id']}/messages?limit=2").json()
    assert [item["id"] for item in page["items"]] == ids[::-1][:2]
    rest = api.get(f"/api/v1/dialogs/{dialog['id']}/messages?limit=10&cursor={page['next_cursor']}").json()
    assert [item["id"] for item in rest["items"]] == ids[::-1][2:]
    assert rest["next_cursor"] is None
    assert set(page["items"][0]) >= {"id", "role", "content", "created_at"}


def test_bad_message_is_422(api, assistant, make_user):
    dialog = api.post(
        f"/api/v1/assistants/{assistant.pk}/dialogs", {"user": str(make_user().telegram_id), "chat_id": "1"}
    ).json()
    for body in ({"role": "bot", "content": "x"}, {"role": "user", "content": ""}, {"role": "user"}):
        assert api.post(f"/api/v1/dialogs/{dialog['id']}/messages", body).status_code == 422
    assert api.get(f"/api/v1/dialogs/{dialog['id']}/messages?cursor=%%%").status_code == 422
    assert not Message.objects.exists()


def test_handoff_take_release_and_audit(api, assistant, make_user):
    dialog = api.post(
        f"/api/v1/assistants/{assistant.pk}/dialogs", {"user": str(make_user().telegram_id), "chat_id": "9"}
    ).json()
    path = f"/api/v1/dialogs/{dialog['id']}/handoff"

    taken = api.post(path, {"action": "take", "operator": "ann", "reason": "angry customer"})
    assert taken.status_code == 201
    assert taken.json()["action"] == "take" and taken.json()["operator"] == "ann"
    assert taken.json()["reason"] == "angry customer"
    assert api.post(path, {"action": "take", "operator": "bob"}).status_code == 409

    # while an operator holds the dialog the bot must not answer, but the user and operator may write
    messages = f"/api/v1/dialogs/{dialog['id']}/messages"
    assert api.post(messages, {"role": "assistant", "content": "bot"}).status_code == 409
    assert api.post(messages, {"role": "operator", "content": "hi, Ann here"}).status_code == 201
    assert api.post(messages, {"role": "user", "content": "thanks"}).status_code == 201

    released = api.post(path, {"action": "release", "operator": "ann"})
    assert released.status_code == 201
    assert api.post(path, {"action": "release", "operator": "ann"}).status_code == 409
    assert api.post(messages, {"role": "assistant", "content": "bot again"}).status_code == 201
    assert api.post(path, {"action": "steal", "operator": "x"}).status_code == 422


def test_merge_moves_assistants_and_dialogs(api, make_user, make_assistant):
    # given an anonymous device user with an assistant and a dialog
    assert api.put("/api/v1/users/device:phone-1", {}).status_code == 201
    anonymous = api.get("/api/v1/users/device:phone-1").json()
    created = api.post("/api/v1/users/device:phone-1/assistants", {"name": "Mine"})
    assistant_id = created.json()["id"]
    dialog = api.post(
        f"/api/v1/assistants/{assistant_id}/dialogs", {"user": "device:phone-1", "chat_id": "1"}
    )
    assert dialog.status_code == 201

    # when the device is attached to a registered Telegram user
    assert api.put("/api/v1/users/424242", {}).status_code == 201
    merged = api.post("/api/v1/users/424242/identities", {"device_id": "phone-1"})

    # then the assistant and the dialog belong to that user
    assert merged.status_code == 200
    assert Assistant.objects.get(pk=assistant_id).owner.telegram_id == 424242
    listed = api.get("/api/v1/users/424242/assistants").json()["items"]
    assert [item["id"] for item in listed] == [assistant_id]
    assert api.get(f"/api/v1/dialogs/{dialog.json()['id']}").json()["user"] == "424242"
    assert anonymous["id"] != merged.json()["id"]


def test_counters_match_the_rows_after_adds_and_deletes(api, assistant, make_user, add_document):
    from assistants.models import Dialog

    documents = [add_document(assistant, f"d{index}", text=f"Text {index}.") for index in range(3)]
    api.delete(f"/api/v1/assistants/{assistant.pk}/documents/{documents[0].pk}")
    add_document(assistant, "d1", text="Replaced text.")  # a re-upload is not a new document
    user = make_user()
    for chat in ("1", "2", "1"):
        dialog = api.post(
            f"/api/v1/assistants/{assistant.pk}/dialogs", {"user": str(user.telegram_id), "chat_id": chat}
        )
        api.post(f"/api/v1/dialogs/{dialog.json()['id']}/messages", {"role": "user", "content": "hi"})

    item = api.get(f"/api/v1/assistants/{assistant.pk}").json()
    assert item["documents_count"] == Document.objects.filter(assistant=assistant).count() == 2
    assert item["dialogs_count"] == Dialog.objects.filter(assistant=assistant).count() == 2
    assert item["messages_count"] == Message.objects.filter(dialog__assistant=assistant).count() == 3
    assistant.refresh_from_db()
    assert assistant.chunks_count == KnowledgeChunk.objects.filter(assistant=assistant).count()


@pytest.mark.parametrize(
    ("max_chunks", "max_chars"),
    [(10, 1_000_000), (1_000, 200)],  # over the count threshold, then over the size threshold
)
def test_large_chunk_upload_is_pending_then_indexed_by_the_worker(
    api, assistant, settings, django_capture_on_commit_callbacks, max_chunks, max_chars
):
    # given thresholds below the upload, and chunks of which one carries the bot's own vector
    settings.ASSISTANTS_SYNC_INDEX_MAX_CHUNKS = max_chunks
    settings.ASSISTANTS_SYNC_INDEX_MAX_CHARS = max_chars
    embedding = [0.0] * 384
    embedding[5] = 1.0
    chunks = [{"content": f"Fact number {n} about delivery times.", "importance": 0.3} for n in range(30)]
    chunks[0] = {"content": "The bot's own vector.", "embedding": embedding, "importance": 0.9}

    # when the bot uploads them, the request only stores them
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = api.post(
            f"/api/v1/assistants/{assistant.pk}/documents", {"title": "facts", "chunks": chunks}
        )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["chunks_count"]) == ("pending", 0)
    assert not KnowledgeChunk.objects.exists()

    # then the worker's task (run twice, as a retry would) embeds and stores them once
    for callback in callbacks + callbacks:
        callback()
    document = Document.objects.get(pk=body["id"])
    assert (document.status, document.chunks_count, document.pending_chunks) == ("indexed", 30, None)
    stored = KnowledgeChunk.objects.filter(document=document).order_by("ordinal")
    assert [chunk.content for chunk in stored] == [chunk["content"] for chunk in chunks]
    assert list(stored[0].embedding) == embedding
    assert stored[0].importance == 0.9
    assistant.refresh_from_db()
    assert assistant.chunks_count == 30
    assert api.get(f"/api/v1/assistants/{assistant.pk}/documents").json()["items"][0]["status"] == "indexed"


def test_small_chunk_upload_is_still_indexed_in_the_request(api, assistant, settings):
    settings.ASSISTANTS_SYNC_INDEX_MAX_CHUNKS = 3
    chunks = [{"content": f"Fact {n}."} for n in range(3)]
    response = api.post(f"/api/v1/assistants/{assistant.pk}/documents", {"title": "few", "chunks": chunks})
    assert (response.status_code, response.json()["status"], response.json()["chunks_count"]) == (
        201,
        "indexed",
        3,
    )


def test_large_chunk_upload_with_bad_input_is_422_and_stores_nothing(api, assistant, settings):
    settings.ASSISTANTS_SYNC_INDEX_MAX_CHUNKS = 2
    chunks = [{"content": "ok"}, {"content": "ok too"}, {"content": "   "}]
    response = api.post(f"/api/v1/assistants/{assistant.pk}/documents", {"title": "bad", "chunks": chunks})
    assert response.status_code == 422
    assert not Document.objects.exists()
