"""Ingestion: chunking, re-upload keeping unchanged chunks, the worker path, deletes, failures."""

import pytest

from assistants import embeddings, services
from assistants.chunking import chunk_text
from assistants.errors import AssistantsError
from assistants.models import Document, KnowledgeChunk
from assistants.services import ChunkInput

pytestmark = pytest.mark.django_db


class CountingEmbedder(embeddings.HashingEmbedder):
    def __init__(self) -> None:
        super().__init__(384)
        self.embedded: list[str] = []

    def embed(self, texts):
        self.embedded.extend(texts)
        return super().embed(texts)


@pytest.fixture
def embedder(monkeypatch) -> CountingEmbedder:
    counting = CountingEmbedder()
    monkeypatch.setattr("assistants.services.get_embedder", lambda: counting)
    return counting


def paragraphs(count: int, tag: str = "") -> str:
    return "\n\n".join(
        f"Section {index}{tag}. " + " ".join(f"word{index}x{word}" for word in range(60))
        for index in range(count)
    )


def test_chunks_overlap_and_cover_the_text():
    text = paragraphs(12)
    chunks = chunk_text(text, size=800, overlap=150)
    assert len(chunks) > 3
    assert all(len(chunk) <= 800 for chunk in chunks)
    for previous, current in zip(chunks, chunks[1:], strict=False):
        # each chunk starts with words from the end of the previous one
        assert current.split()[0] in previous.split()[-40:]
    words = set(text.split())
    assert words <= set(" ".join(chunks).split())


def test_chunking_splits_giant_paragraphs_and_words():
    text = "x" * 5000 + " " + "sentence. " * 300
    chunks = chunk_text(text, size=500, overlap=100)
    assert all(len(chunk) <= 500 for chunk in chunks)
    assert sum(chunk.count("x") for chunk in chunks) >= 5000


def test_reupload_keeps_unchanged_chunks_and_their_vectors(assistant, add_document, embedder):
    # given an indexed document
    first = add_document(assistant, "manual", text=paragraphs(10))
    before = {
        chunk.content_hash: (chunk.pk, list(chunk.embedding))
        for chunk in KnowledgeChunk.objects.filter(document=first)
    }
    assert len(before) == first.chunks_count > 3
    embedder.embedded.clear()

    # when it is uploaded again with one paragraph added at the end
    second = add_document(assistant, "manual", text=paragraphs(10) + "\n\nA new closing paragraph.")

    # then it is the same document, every old chunk but the last kept its row and vector, and
    # only the changed tail was embedded
    assert second.pk == first.pk and second.version == 2
    after = {
        chunk.content_hash: (chunk.pk, list(chunk.embedding))
        for chunk in KnowledgeChunk.objects.filter(document=second)
    }
    kept = set(before) & set(after)
    assert len(kept) >= len(before) - 1
    assert all(before[key] == after[key] for key in kept)
    assert len(embedder.embedded) <= 2
    assert list(
        KnowledgeChunk.objects.filter(document=second).order_by("ordinal").values_list("ordinal", flat=True)
    ) == list(range(second.chunks_count))
    assistant.refresh_from_db()
    assert assistant.chunks_count == second.chunks_count


def test_reupload_of_identical_text_embeds_nothing(assistant, add_document, embedder):
    add_document(assistant, "manual", text=paragraphs(6))
    ids = set(KnowledgeChunk.objects.values_list("pk", flat=True))
    embedder.embedded.clear()
    add_document(assistant, "manual", text=paragraphs(6))
    assert embedder.embedded == []
    assert set(KnowledgeChunk.objects.values_list("pk", flat=True)) == ids


def test_reupload_with_fewer_chunks_removes_the_rest(assistant, add_document):
    document = add_document(assistant, "manual", text=paragraphs(10))
    add_document(assistant, "manual", text=paragraphs(1))
    document.refresh_from_db()
    assert KnowledgeChunk.objects.filter(document=document).count() == document.chunks_count == 1
    assistant.refresh_from_db()
    assert assistant.chunks_count == 1


def test_reordered_chunks_keep_rows_and_swap_ordinals(assistant, add_document):
    chunks = [ChunkInput(content=f"fact {index}") for index in range(4)]
    document = add_document(assistant, "facts", chunks=chunks)
    ids = dict(KnowledgeChunk.objects.values_list("content", "pk"))
    add_document(assistant, "facts", chunks=chunks[::-1])
    assert dict(KnowledgeChunk.objects.values_list("content", "pk")) == ids
    assert list(
        KnowledgeChunk.objects.filter(document=document).order_by("ordinal").values_list("content", flat=True)
    ) == [
        "fact 3",
        "fact 2",
        "fact 1",
        "fact 0",
    ]


def test_large_text_is_indexed_by_the_worker(assistant, settings, django_capture_on_commit_callbacks):
    # given a limit below the text's size, so the request only stores it
    settings.ASSISTANTS_SYNC_INDEX_MAX_CHARS = 1_000
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        document, created = services.document_upload(assistant=assistant, title="big", text=paragraphs(20))
    assert created and document.status == Document.Status.PENDING
    assert not KnowledgeChunk.objects.filter(document=document).exists()

    # when the queued task runs (eagerly in tests), twice as a retry would
    for callback in callbacks:
        callback()
    for callback in callbacks:
        callback()

    # then the document is indexed once, with all its chunks
    document.refresh_from_db()
    assert document.status == Document.Status.INDEXED
    assert document.chunks_count == KnowledgeChunk.objects.filter(document=document).count() > 5


def test_worker_for_an_outdated_version_does_nothing(assistant, add_document):
    document = add_document(assistant, "manual", text="Version one.")
    assert services.document_index(document_id=document.pk, version=document.version + 5) is None
    services.document_delete(assistant=assistant, document_id=document.pk)
    assert services.document_index(document_id=document.pk, version=document.version) is None
    assert not KnowledgeChunk.objects.exists()


def test_reindex_keeps_unchanged_chunks(
    assistant, add_document, embedder, django_capture_on_commit_callbacks
):
    document = add_document(assistant, "manual", text=paragraphs(5))
    ids = set(KnowledgeChunk.objects.values_list("pk", flat=True))
    embedder.embedded.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.document_reindex(document_id=document.pk)
    document.refresh_from_db()
    assert document.status == Document.Status.INDEXED and document.version == 2
    assert set(KnowledgeChunk.objects.values_list("pk", flat=True)) == ids
    assert embedder.embedded == []


def test_delete_leaves_no_chunks_and_fixes_the_counter(assistant, add_document):
    keep = add_document(assistant, "keep", text=paragraphs(3))
    gone = add_document(assistant, "gone", text=paragraphs(8))
    services.document_delete(assistant=assistant, document_id=gone.pk)
    assert not KnowledgeChunk.objects.filter(document_id=gone.pk).exists()
    assert not Document.objects.filter(pk=gone.pk).exists()
    assistant.refresh_from_db()
    assert assistant.chunks_count == keep.chunks_count == KnowledgeChunk.objects.count()


def test_deleting_the_assistant_deletes_every_chunk(assistant, add_document):
    add_document(assistant, "a", text=paragraphs(3))
    assistant.delete()
    assert not KnowledgeChunk.objects.exists()


def test_failing_embedder_writes_nothing(assistant, monkeypatch):
    class Down(embeddings.HashingEmbedder):
        def embed(self, texts):
            raise AssistantsError("down", code="service_unavailable")

    monkeypatch.setattr("assistants.services.get_embedder", lambda: Down(384))
    with pytest.raises(AssistantsError):
        services.document_upload(assistant=assistant, title="t", text="Some text.")
    assert not Document.objects.exists()
    assert not KnowledgeChunk.objects.exists()


def test_failing_worker_marks_the_document_failed(
    assistant, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.ASSISTANTS_SYNC_INDEX_MAX_CHARS = 10
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        document, _ = services.document_upload(assistant=assistant, title="t", text="Some longer text here.")

    class Down(embeddings.HashingEmbedder):
        def embed(self, texts):
            raise RuntimeError("model crashed")

    monkeypatch.setattr("assistants.services.get_embedder", lambda: Down(384))
    callbacks[0]()  # the eager task raises; the failure is recorded on the document
    document.refresh_from_db()
    assert document.status == Document.Status.FAILED
    assert "model crashed" in document.error
