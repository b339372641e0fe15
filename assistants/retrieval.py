"""Knowledge retrieval: an assistant's chunks nearest to a query, reranked, optionally hybrid.

Two plans, chosen by the assistant's size (Assistant.chunks_count, a maintained counter):
- small assistants (<= ASSISTANTS_EXACT_SEARCH_MAX_CHUNKS): an exact scan of that assistant's rows
  (bitmap scan of the assistant_id index, distance to each, top-N sort). Exact, and faster than
  the graph below the crossover measured in bench/assistants_retrieval.py.
- large assistants: the table-wide HNSW index with pgvector 0.8 iterative scans, so the assistant
  (and min_importance) filter is applied while walking the graph and `limit` rows come back even
  when most neighbours belong to other assistants. If the walk still ends short (max_scan_tuples),
  the exact plan answers instead: `limit` results whenever that many exist.

The vector candidates are reranked by (1 - w) * similarity + w * importance. `hybrid` mode also
ranks the assistant's chunks by full-text match and fuses both rankings by reciprocal rank fusion.
"""

from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction

from assistants.embeddings import get_embedder, validate_embedding, vector_literal
from assistants.errors import AssistantsError
from assistants.models import SEARCH_CONFIG, Assistant

MAX_CANDIDATES = 200

_EXACT_SQL = """
    SELECT id, document_id, content, importance, (embedding <=> %(q)s::halfvec) AS distance
    FROM assistants_knowledge_chunk
    WHERE assistant_id = %(assistant)s AND importance >= %(min_importance)s
    ORDER BY distance, id
    LIMIT %(n)s
"""
# `assistant_id + 0` hides the btree index from this plan on purpose: the planner's only index
# path left is the HNSW scan, which is what a large assistant needs (the btree path would fetch
# and sort 100,000 vectors).
_INDEX_SQL = """
    SELECT id, document_id, content, importance, (embedding <=> %(q)s::halfvec) AS distance
    FROM assistants_knowledge_chunk
    WHERE (assistant_id + 0) = %(assistant)s AND importance >= %(min_importance)s
    ORDER BY embedding <=> %(q)s::halfvec
    LIMIT %(n)s
"""
# plainto_tsquery sanitises any user text; turning its ANDs into ORs lets a chunk that matches
# only some of the words rank too, those matching more (and closer together) first.
_FULLTEXT_SQL = """
    SELECT id, document_id, content, importance, (embedding <=> %(q)s::halfvec) AS distance
    FROM assistants_knowledge_chunk,
        CAST(replace(plainto_tsquery(%(config)s::regconfig, %(text)s)::text, ' & ', ' | ') AS tsquery) AS tsq
    WHERE assistant_id = %(assistant)s AND importance >= %(min_importance)s AND search_vector @@ tsq
    ORDER BY ts_rank_cd(search_vector, tsq) DESC, id
    LIMIT %(n)s
"""


@dataclass
class Hit:
    chunk_id: int
    document_id: int
    content: str
    importance: float
    distance: float
    score: float = 0.0

    def as_dict(self) -> dict:
        return {
            "chunk_id": self.chunk_id,
            "document_id": self.document_id,
            "content": self.content,
            "importance": self.importance,
            "distance": self.distance,
            "score": self.score,
        }


def _rows(sql: str, params: dict, settings: dict[str, str] | None = None) -> list[Hit]:
    with transaction.atomic(), connection.cursor() as cursor:
        for name, value in (settings or {}).items():
            # set_config(..., true) is SET LOCAL: it ends with this transaction, never leaks to the
            # next request on a persistent connection.
            cursor.execute("SELECT set_config(%s, %s, true)", [name, value])
        cursor.execute(sql, params)
        return [Hit(row[0], row[1], row[2], row[3], float(row[4])) for row in cursor.fetchall()]


def vector_candidates(
    *, assistant: Assistant, vector: str, n: int, min_importance: float, at_least: int | None = None
) -> list[Hit]:
    """The assistant's `n` nearest chunks; on the HNSW plan at most ASSISTANTS_HNSW_CANDIDATES of
    them (never fewer than `at_least`): each extra row the filtered walk must find costs latency."""
    params = {"q": vector, "assistant": assistant.pk, "min_importance": min_importance, "n": n}
    if assistant.chunks_count > settings.ASSISTANTS_EXACT_SEARCH_MAX_CHUNKS:
        wanted = max(min(n, settings.ASSISTANTS_HNSW_CANDIDATES), at_least or 0)
        hits = _rows(
            _INDEX_SQL,
            {**params, "n": wanted},
            {
                "hnsw.ef_search": str(max(settings.ASSISTANTS_HNSW_EF_SEARCH, wanted)),
                "hnsw.iterative_scan": "relaxed_order",
                "hnsw.max_scan_tuples": str(settings.ASSISTANTS_HNSW_MAX_SCAN_TUPLES),
                "enable_seqscan": "off",
            },
        )
        if len(hits) >= wanted:
            return sorted(hits, key=lambda hit: (hit.distance, hit.chunk_id))
    # The exact plan must never wander into the HNSW index without iterative scans: that scan
    # would stop after ef_search neighbours, most of them other assistants' chunks.
    return _rows(_EXACT_SQL, params, {"enable_indexscan": "off"})


def fulltext_candidates(
    *, assistant: Assistant, vector: str, text: str, n: int, min_importance: float
) -> list[Hit]:
    params = {
        "q": vector,
        "assistant": assistant.pk,
        "min_importance": min_importance,
        "n": n,
        "text": text,
        "config": SEARCH_CONFIG,
    }
    return _rows(_FULLTEXT_SQL, params)


def _rerank(hits: list[Hit]) -> list[Hit]:
    weight = settings.ASSISTANTS_IMPORTANCE_WEIGHT
    for hit in hits:
        hit.score = (1 - weight) * (1 - hit.distance) + weight * hit.importance
    return sorted(hits, key=lambda hit: (-hit.score, hit.distance, hit.chunk_id))


def _fuse(*rankings: list[Hit]) -> list[Hit]:
    k = settings.ASSISTANTS_RRF_K
    fused: dict[int, Hit] = {}
    totals: dict[int, float] = {}
    for ranking in rankings:
        for rank, hit in enumerate(ranking, start=1):
            fused.setdefault(hit.chunk_id, hit)
            totals[hit.chunk_id] = totals.get(hit.chunk_id, 0.0) + 1.0 / (k + rank)
    for chunk_id, hit in fused.items():
        hit.score = totals[chunk_id]
    return sorted(fused.values(), key=lambda hit: (-hit.score, hit.distance, hit.chunk_id))


def assistant_search(
    *,
    assistant: Assistant,
    query: str | None = None,
    embedding: list[float] | None = None,
    limit: int = 5,
    min_importance: float | None = None,
    mode: str = "vector",
) -> list[Hit]:
    if mode not in ("vector", "hybrid"):
        raise AssistantsError(
            "mode is vector or hybrid.", code="validation_error", details={"mode": "unknown"}
        )
    query = (query or "").strip() or None
    if query is None and embedding is None:
        raise AssistantsError(
            "Send a query or an embedding.", code="validation_error", details={"query": "query or embedding"}
        )
    if mode == "hybrid" and query is None:
        raise AssistantsError(
            "Hybrid search needs the query text.",
            code="validation_error",
            details={"query": "required in hybrid mode"},
        )
    if embedding is not None:
        embedding = validate_embedding(embedding, field="embedding")
    else:
        embedding = get_embedder().embed([query])[0]
    vector = vector_literal(embedding)
    # More candidates than asked for, so the importance rerank and the fusion have room to act
    # (capped on the HNSW plan, see vector_candidates).
    n = min(max(limit * 4, 20), MAX_CANDIDATES)
    floor = min_importance if min_importance is not None else 0.0
    by_vector = _rerank(
        vector_candidates(assistant=assistant, vector=vector, n=n, min_importance=floor, at_least=limit)
    )
    if mode == "vector":
        return by_vector[:limit]
    by_text = fulltext_candidates(assistant=assistant, vector=vector, text=query, n=n, min_importance=floor)
    return _fuse(by_vector, by_text)[:limit]
