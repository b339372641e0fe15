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
    # The same for bot-sent chunks: an upload of more chunks than this, or more characters of content
    # than ASSISTANTS_SYNC_INDEX_MAX_CHARS, is stored and embedded by the worker (pending, then indexed).
    "ASSISTANTS_SYNC_INDEX_MAX_CHUNKS": 100,
    "ASSISTANTS_MAX_TEXT_CHARS": 1_000_000,
    "ASSISTANTS_MAX_CHUNKS_PER_DOCUMENT": 2_000,
    # Search: assistants with at most this many chunks are searched exactly (bitmap scan of their
    # rows + sort), larger ones through the HNSW index with iterative scans. Measured on 1M chunks
    # (bench/README.md): exact p95 is 0.8 ms at 100 chunks, 2.2 ms at 1,000 and 13 ms at 16,250,
    # ~0.6 ms per 1,000 chunks; the filtered HNSW walk costs 4-8 ms p95 at those sizes (and is not
    # exact), so exact wins up to ~5,000 chunks.
    "ASSISTANTS_EXACT_SEARCH_MAX_CHUNKS": 5_000,
    # HNSW plan on 1M chunks (bench/README.md, "Assistants retrieval"), 100,000-chunk assistant,
    # 10 rows fetched: recall@10 0.94 at ef_search 200 (p95 13-15 ms), 0.95 at 300 (p95 18 ms),
    # 0.96-0.97 at 400 (p95 20-21 ms, over budget); unfiltered 0.98 at 300. m=24 /
    # ef_construction=128 gave the same recall per ms of latency.
    "ASSISTANTS_HNSW_EF_SEARCH": 300,
    # Rows the filtered HNSW walk fetches (never fewer than `limit`), whatever the 4x over-fetch of
    # the rerank asks for: the walk goes on until it has found that many of the assistant's rows,
    # and 20 or 40 rows (limit 5 or 10, x 4) cost p95 26-47 ms where 10 cost 15-21 ms.
    "ASSISTANTS_HNSW_CANDIDATES": 10,
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
