"""Settings of the assistants app, with their defaults (override any of them in config/settings)."""

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    # Chunking: characters per chunk and characters carried over from the previous chunk.
    "ASSISTANTS_CHUNK_CHARS": 800,
    "ASSISTANTS_CHUNK_OVERLAP": 150,
    # Texts up to this many characters are chunked and embedded inside the request; longer ones
    # are indexed by a Celery task so a web request never waits on a long embedding run.
    "ASSISTANTS_SYNC_INDEX_MAX_CHARS": 20_000,
    "ASSISTANTS_MAX_TEXT_CHARS": 1_000_000,
    "ASSISTANTS_MAX_CHUNKS_PER_DOCUMENT": 2_000,
    # Search: assistants with at most this many chunks are searched exactly (bitmap scan of their
    # rows + sort), larger ones through the HNSW index with iterative scans. Measured on 1M chunks
    # (bench/README.md): exact p95 is 12 ms at 100 chunks, 18 ms at 1,000 and 93 ms at 16,250, growing
    # about linearly, so the 20 ms budget is crossed at a few thousand chunks.
    "ASSISTANTS_EXACT_SEARCH_MAX_CHUNKS": 5_000,
    # 200: on 1M chunks recall@10 of a 100,000-chunk assistant was 0.86 at 40, 0.88 at 100, 0.90 at
    # 200 for +4 ms p50 (bench/README.md); the goal of 0.95 needs more than this knob.
    "ASSISTANTS_HNSW_EF_SEARCH": 200,
    "ASSISTANTS_HNSW_MAX_SCAN_TUPLES": 40_000,
    # Rerank: score = (1 - w) * cosine similarity + w * importance.
    "ASSISTANTS_IMPORTANCE_WEIGHT": 0.2,
    # Reciprocal rank fusion constant (the usual 60 from Cormack et al.).
    "ASSISTANTS_RRF_K": 60,
    "ASSISTANTS_EMBEDDING_TIMEOUT_SECONDS": 20,
    "ASSISTANTS_EMBEDDING_MODEL_PATH": "",
    # Key material for bot tokens; falls back to one derived from SECRET_KEY.
    "ASSISTANTS_TOKEN_KEY": "",
}


def get(name: str) -> Any:
    return getattr(settings, name, DEFAULTS[name])
