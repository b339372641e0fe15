"""Retrieval benchmark of the assistants app at the scale the product promises. Prints figures; not a test.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/assistants_embed_corpus.py      # once, ~10-20 min, cached
    .venv/bin/python bench/assistants_retrieval.py                          # load + index + measure

Data: one table shaped like assistants_knowledge_chunk (assistant_id, importance, halfvec(384)) in its
own database (botdesk_bench_rag, created here through the botdesk role), 1,000,000 rows:
- one assistant holding 100,000 chunks: every cached all-MiniLM-L6-v2 embedding of real text found
  on this machine (~21,500) plus chunks fitted around them;
- 1,000 more assistants: 450 x 100, 530 x 1,000, 20 x 16,250 chunks, each a topic: the real
  embeddings nearest to a random real anchor, and chunks fitted around those seeds.
"Fitted" = interpolation between two seed embeddings plus Gaussian noise drawn with the real
embeddings' own covariance (PCA), so the synthetic vectors live in the same anisotropic subspace as
real sentence embeddings rather than being uniform noise.

Queries: held-out real embeddings (texts never inserted) for the unfiltered and 100k cases; for
the smaller assistants a perturbed chunk of that assistant (a question close to its content).
Ground truth: exact top 10 computed in numpy over the same half-precision values.
The SQL is the app's (assistants/retrieval.py): exact plan = bitmap scan of the assistant's rows,
index plan = HNSW with hnsw.iterative_scan = relaxed_order and `assistant_id + 0`.
"""

# ruff: noqa: S608 -- identifiers here are fixed names of this script, never input
import argparse
import statistics
import threading
import time
from pathlib import Path

import numpy as np
import psycopg

CACHE = Path(__file__).resolve().parent / ".cache"
DIM = 384
ADMIN_URL = "postgres://botdesk:botdesk@127.0.0.1:5432/postgres"
DB_NAME = "botdesk_bench_rag"
DB_URL = f"postgres://botdesk:botdesk@127.0.0.1:5432/{DB_NAME}"
BIG = 100_000
SIZE_CLASSES = [(450, 100), (530, 1_000), (20, 16_250)]
HELD_OUT = 500
K = 10
MAX_SCAN_TUPLES = 40_000
BUILD_WORKERS = 1

EXACT_SQL = """
    SELECT id FROM chunk WHERE assistant_id = %(a)s AND importance >= 0
    ORDER BY embedding <=> %(q)s::halfvec, id LIMIT %(n)s
"""
INDEX_SQL = """
    SELECT id, embedding <=> %(q)s::halfvec FROM chunk WHERE (assistant_id + 0) = %(a)s AND importance >= 0
    ORDER BY embedding <=> %(q)s::halfvec LIMIT %(n)s
"""
GLOBAL_SQL = (
    "SELECT id, embedding <=> %(q)s::halfvec FROM chunk ORDER BY embedding <=> %(q)s::halfvec LIMIT %(n)s"
)


def log(*parts) -> None:
    print(time.strftime("%H:%M:%S"), *parts, flush=True)


def normalize(matrix: np.ndarray) -> np.ndarray:
    return matrix / np.linalg.norm(matrix, axis=-1, keepdims=True)


def literal(vector: np.ndarray) -> str:
    return "[" + ",".join(f"{value:.5g}" for value in vector) + "]"


# --- data --------------------------------------------------------------------------------------


class Generator:
    """Chunks fitted around real embeddings: interpolated seeds plus PCA-shaped noise."""

    def __init__(self, reals: np.ndarray, rng: np.random.Generator, noise: float) -> None:
        self.reals, self.rng, self.noise = reals, rng, noise
        centred = reals - reals.mean(axis=0)
        _, singular, components = np.linalg.svd(centred, full_matrices=False)
        # z @ basis has the covariance of the real embeddings.
        self.basis = (singular[:, None] * components) / np.sqrt(len(reals) - 1)

    def around(self, seeds: np.ndarray, count: int) -> np.ndarray:
        first = self.rng.choice(seeds, count)
        second = self.rng.choice(seeds, count)
        weight = self.rng.uniform(0, 0.5, (count, 1)).astype(np.float32)
        base = (1 - weight) * self.reals[first] + weight * self.reals[second]
        noise = self.rng.standard_normal((count, DIM)).astype(np.float32) @ self.basis.astype(np.float32)
        return normalize(base + self.noise * noise).astype(np.float32)

    def nearest(self, anchor: int, count: int) -> np.ndarray:
        return np.argsort(-(self.reals @ self.reals[anchor]))[:count]


def build_dataset(seed: int, noise: float, path: Path, scale: float, held_out: int):
    vectors = np.load(path).astype(np.float32)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(vectors))
    queries_real, reals = vectors[order[:held_out]], vectors[order[held_out:]]
    log(f"{len(reals):,} real embeddings in the data, {len(queries_real)} held out as queries")
    generator = Generator(reals, rng, noise)
    assistants: list[tuple[int, np.ndarray]] = []
    big_size = max(int(BIG * scale), len(reals))
    big = np.concatenate([reals, generator.around(np.arange(len(reals)), big_size - len(reals))])
    assistants.append((1, big))
    next_id = 2
    for count, size in SIZE_CLASSES:
        for _ in range(max(1, int(count * scale))):
            seeds = generator.nearest(int(rng.integers(len(reals))), min(64, size))
            assistants.append((next_id, generator.around(seeds, size)))
            next_id += 1
    log(f"generated {sum(len(v) for _, v in assistants):,} vectors for {len(assistants)} assistants")
    return assistants, queries_real, generator


def copy_rows(cursor, assistant_id: int, vectors: np.ndarray, importance: np.ndarray) -> None:
    """Binary COPY built with numpy: ~20x faster than formatting 384 floats per row as text."""
    row = np.dtype(
        [
            ("fields", ">i2"),
            ("l1", ">i4"),
            ("assistant", ">i8"),
            ("l2", ">i4"),
            ("importance", ">f8"),
            ("l3", ">i4"),
            ("dim", ">i2"),
            ("unused", ">i2"),
            ("vector", ">f2", (DIM,)),
        ]
    )
    rows = np.zeros(len(vectors), dtype=row)
    rows["fields"], rows["l1"], rows["l2"], rows["l3"] = 3, 8, 8, 4 + 2 * DIM
    rows["assistant"], rows["importance"], rows["dim"] = assistant_id, importance, DIM
    rows["vector"] = vectors.astype(np.float16)
    cursor.write(rows.tobytes())


def load(assistants, rng: np.random.Generator) -> float:
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DB_NAME}")
        admin.execute(f"CREATE DATABASE {DB_NAME}")
    with psycopg.connect(DB_URL, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        conn.execute(
            "CREATE TABLE chunk (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
            " assistant_id bigint NOT NULL, importance double precision NOT NULL,"
            f" embedding halfvec({DIM}) NOT NULL)"
        )
        started = time.perf_counter()
        # Assistants in random order, each one's chunks together (documents arrive in batches).
        with (
            conn.cursor() as cursor,
            cursor.copy(
                "COPY chunk (assistant_id, importance, embedding) FROM STDIN WITH (FORMAT BINARY)"
            ) as copy,
        ):
            copy.write(b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big"))
            for index in rng.permutation(len(assistants)):
                assistant_id, vectors = assistants[index]
                for start in range(0, len(vectors), 20_000):
                    block = vectors[start : start + 20_000]
                    copy_rows(copy, assistant_id, block, rng.uniform(0, 1, len(block)))
            copy.write((-1).to_bytes(2, "big", signed=True))
        elapsed = time.perf_counter() - started
        conn.execute("CREATE INDEX chunk_assistant_idx ON chunk (assistant_id)")
        conn.execute("VACUUM ANALYZE chunk")
    return elapsed


def build_hnsw(
    m: int, ef_construction: int, table: str = "chunk", opclass: str = "halfvec_cosine_ops"
) -> float:
    with psycopg.connect(DB_URL, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '3GB'")
        # Two cores shared with other engineers: one helper process besides the leader.
        conn.execute(f"SET max_parallel_maintenance_workers = {BUILD_WORKERS}")
        conn.execute(f"DROP INDEX IF EXISTS {table}_hnsw")
        started = time.perf_counter()
        conn.execute(
            f"CREATE INDEX {table}_hnsw ON {table} USING hnsw (embedding {opclass})"
            f" WITH (m = {m}, ef_construction = {ef_construction})"
        )
        return time.perf_counter() - started


# --- measuring -----------------------------------------------------------------------------------


def vector_vs_halfvec(queries: np.ndarray, vectors: np.ndarray, m: int, ef_construction: int) -> None:
    """Same 100,000 vectors stored as vector(384) and as halfvec(384): bytes and recall of each."""
    with psycopg.connect(DB_URL, autocommit=True) as conn:
        for table, kind in (("sample_vector", "vector"), ("sample_halfvec", "halfvec")):
            conn.execute(f"DROP TABLE IF EXISTS {table}")
            conn.execute(
                f"CREATE TABLE {table} AS SELECT id, embedding::{kind}({DIM}) AS embedding"
                f" FROM chunk WHERE assistant_id = 1 ORDER BY id LIMIT {len(vectors)}"
            )
    print()
    print(
        f"vector vs halfvec on {len(vectors):,} chunks of the big assistant (unfiltered HNSW, ef_search=40):"
    )
    for table, kind in (("sample_vector", "vector"), ("sample_halfvec", "halfvec")):
        build = build_hnsw(m, ef_construction, table, f"{kind}_cosine_ops")
        with psycopg.connect(DB_URL, autocommit=True) as conn:
            conn.execute(f"VACUUM ANALYZE {table}")
            heap, index, rows, column = conn.execute(
                f"SELECT pg_relation_size('{table}'), pg_relation_size('{table}_hnsw'), count(*),"
                f" avg(pg_column_size(embedding)) FROM {table}"
            ).fetchone()
            id_list = np.array([row[0] for row in conn.execute(f"SELECT id FROM {table} ORDER BY id")])
            exact = vectors if kind == "vector" else vectors.astype(np.float16).astype(np.float32)
            conn.execute("SET hnsw.ef_search = 40")
            recalls, latencies = [], []
            for query in queries:
                started = time.perf_counter()
                got = [
                    row[0]
                    for row in conn.execute(
                        f"SELECT id FROM {table} ORDER BY embedding <=> %s::{kind} LIMIT {K}",
                        [literal(query)],
                    )
                ]
                latencies.append((time.perf_counter() - started) * 1000)
                recalls.append(len(set(got) & truth(exact, id_list, query)) / K)
        print(
            f"  {kind:>8}: column {column:.0f} B, heap {heap / rows:.0f} B/row, HNSW {index / rows:.0f} B/row,"
            f" build {build:.0f}s, recall@10 {statistics.mean(recalls):.3f}, p50 {pct(latencies, 50):.2f} ms"
        )


def truth(vectors: np.ndarray, ids: np.ndarray, query: np.ndarray) -> set[int]:
    distances = 1 - (vectors @ query)
    top = np.argpartition(distances, K)[:K] if len(distances) > K else np.arange(len(distances))
    return set(ids[top].tolist())


def session(conn, plan: str, ef_search: int) -> None:
    conn.execute("SELECT set_config('hnsw.ef_search', %s, false)", [str(ef_search)])
    if plan == "index":
        conn.execute("SET hnsw.iterative_scan = relaxed_order")
        conn.execute(f"SET hnsw.max_scan_tuples = {MAX_SCAN_TUPLES}")
        conn.execute("SET enable_seqscan = off")
        conn.execute("SET enable_indexscan = on")
    elif plan == "exact":
        conn.execute("SET hnsw.iterative_scan = off")
        conn.execute("SET enable_indexscan = off")
        conn.execute("SET enable_seqscan = on")
    else:  # global, unfiltered
        conn.execute("SET hnsw.iterative_scan = off")
        conn.execute("SET enable_indexscan = on")


def search(conn, plan: str, assistant_id: int, query: np.ndarray, candidates: int) -> list[int]:
    """One query as the app runs it: the index plans fetch `candidates` rows (the app over-fetches
    4x its limit) and the top K by exact distance are kept; relaxed_order iterative scans may return
    rows slightly out of order, and a longer walk finds more of the true neighbours."""
    if plan == "exact":
        return [row[0] for row in conn.execute(EXACT_SQL, {"a": assistant_id, "q": literal(query), "n": K})]
    sql = INDEX_SQL if plan == "index" else GLOBAL_SQL
    rows = conn.execute(sql, {"a": assistant_id, "q": literal(query), "n": max(K, candidates)}).fetchall()
    return [row[0] for row in sorted(rows, key=lambda row: (row[1], row[0]))[:K]]


def run_queries(
    conn, plan: str, cases: list[tuple[int, np.ndarray]], candidates: int
) -> tuple[list[list[int]], list[float]]:
    results, latencies = [], []
    for assistant_id, query in cases:
        started = time.perf_counter()
        results.append(search(conn, plan, assistant_id, query, candidates))
        latencies.append((time.perf_counter() - started) * 1000)
    return results, latencies


def qps(plan: str, ef_search: int, cases, seconds: float, candidates: int, clients: int = 8) -> float:
    done = [0] * clients
    stop = time.perf_counter() + seconds

    def worker(index: int) -> None:
        with psycopg.connect(DB_URL, autocommit=True) as conn:
            session(conn, plan, ef_search)
            position = index
            while time.perf_counter() < stop:
                assistant_id, query = cases[position % len(cases)]
                search(conn, plan, assistant_id, query, candidates)
                done[index] += 1
                position += clients

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done) / seconds


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--noise", type=float, default=0.6, help="scale of the PCA-shaped noise")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--held-out", type=int, default=HELD_OUT, help="real embeddings kept out as queries")
    parser.add_argument("--sample", type=int, default=50_000, help="rows of the vector vs halfvec comparison")
    parser.add_argument("--reuse", action="store_true", help="keep the loaded table and index")
    parser.add_argument("--qps-seconds", type=float, default=5)
    parser.add_argument("--ef", type=int, nargs="+", default=[40, 100, 200])
    parser.add_argument("--vectors", type=Path, default=CACHE / "minilm_vectors.npy")
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the assistants (smoke runs)")
    parser.add_argument("--skip-sample", action="store_true", help="skip the vector vs halfvec comparison")
    parser.add_argument("--m", type=int, default=16)
    parser.add_argument("--ef-construction", type=int, default=64)
    parser.add_argument(
        "--candidates",
        type=int,
        nargs="+",
        default=[K],
        help="rows fetched from the HNSW index and re-ranked exactly (the app fetches 4 x limit)",
    )
    parser.add_argument("--rebuild", action="store_true", help="with --reuse: rebuild the HNSW index")
    parser.add_argument("--skip-exact", action="store_true", help="skip the exact-plan table")
    parser.add_argument(
        "--only", nargs="+", default=["100k", "unfiltered", "16,250", "1,000", "100"], help="HNSW cases"
    )
    parser.add_argument("--max-scan-tuples", type=int, default=40_000)
    parser.add_argument(
        "--workers", type=int, default=1, help="max_parallel_maintenance_workers of the build"
    )
    args = parser.parse_args()
    global MAX_SCAN_TUPLES, BUILD_WORKERS
    MAX_SCAN_TUPLES, BUILD_WORKERS = args.max_scan_tuples, args.workers
    log(f"settings: {vars(args)}")
    rng = np.random.default_rng(args.seed)
    assistants, queries_real, generator = build_dataset(
        args.seed, args.noise, args.vectors, args.scale, args.held_out
    )
    by_id = {assistant_id: vectors for assistant_id, vectors in assistants}

    if not args.reuse:
        seconds = load(assistants, rng)
        log(f"COPY of {sum(len(v) for _, v in assistants):,} rows: {seconds:.0f}s")

    with psycopg.connect(DB_URL, autocommit=True) as conn:
        # Ids of every row per assistant, in the order the ground truth uses.
        id_rows = conn.execute(
            "SELECT assistant_id, array_agg(id ORDER BY id) FROM chunk GROUP BY 1"
        ).fetchall()
        ids = {assistant_id: np.array(row_ids) for assistant_id, row_ids in id_rows}
    # COPY wrote each assistant's rows in order, so ids ascend with the generated order.
    half = {
        assistant_id: vectors.astype(np.float16).astype(np.float32) for assistant_id, vectors in assistants
    }

    cases_by_class: dict[str, list[tuple[int, np.ndarray]]] = {}
    for label, size in (("100", 100), ("1,000", 1_000), ("16,250", 16_250)):
        members = [assistant_id for assistant_id, vectors in assistants if len(vectors) == size]
        cases = []
        for index in range(args.queries):
            assistant_id = members[index % len(members)]
            chunk = by_id[assistant_id][rng.integers(size)]
            noise = rng.standard_normal(DIM).astype(np.float32) @ generator.basis.astype(np.float32)
            cases.append((assistant_id, normalize(chunk + 0.5 * noise)))
        cases_by_class[label] = cases
    cases_by_class["100k"] = [(1, query) for query in queries_real[: args.queries]]
    cases_by_class["unfiltered"] = [(0, query) for query in queries_real[: args.queries]]
    all_vectors = np.concatenate([half[a] for a, _ in assistants])
    all_ids = np.concatenate([ids[a] for a, _ in assistants])
    expected = {
        label: [
            truth(all_vectors, all_ids, query) if label == "unfiltered" else truth(half[a], ids[a], query)
            for a, query in cases
        ]
        for label, cases in cases_by_class.items()
    }
    del all_vectors
    header = (
        f"{'assistant':>10} {'plan':>12} {'ef':>4} {'cand':>4} {'recall@10':>9} {'p50 ms':>7} {'p95 ms':>7}"
        f" {'QPS x8':>7}"
    )

    def measure(label: str, plan: str, ef: int, candidates: int = K) -> None:
        cases = cases_by_class[label]
        with psycopg.connect(DB_URL, autocommit=True) as conn:
            session(conn, plan, ef or 40)
            run_queries(conn, plan, cases[:20], candidates)  # warm the cache and the plan
            results, latencies = run_queries(conn, plan, cases, candidates)
        recall = statistics.mean(
            len(set(got) & want) / min(K, len(want))
            for got, want in zip(results, expected[label], strict=True)
        )
        rate = qps(plan, ef or 40, cases, args.qps_seconds, candidates)
        print(
            f"{label:>10} {plan:>12} {ef or '-':>4} {candidates if plan != 'exact' else '-':>4}"
            f" {recall:>9.3f} {pct(latencies, 50):>7.2f}"
            f" {pct(latencies, 95):>7.2f} {rate:>7.0f}",
            flush=True,
        )

    # The exact plan needs no HNSW index: measured first, so its figures exist even if the
    # machine is too busy for the big build to finish.
    if not args.skip_exact:
        print()
        print(header)
        print("-" * len(header))
        for label in ("100", "1,000", "16,250", "100k"):
            measure(label, "exact", 0)

    if not args.reuse or args.rebuild:
        log(f"building HNSW m={args.m} ef_construction={args.ef_construction} over all rows...")
        build = build_hnsw(args.m, args.ef_construction)
        log(f"HNSW build m={args.m} ef_construction={args.ef_construction}: {build:.0f}s")
    with psycopg.connect(DB_URL, autocommit=True) as conn:
        sizes = conn.execute(
            "SELECT pg_relation_size('chunk'), pg_relation_size('chunk_hnsw'), count(*),"
            " avg(pg_column_size(embedding)) FROM chunk"
        ).fetchone()
    print()
    print(
        f"rows {sizes[2]:,}; heap {sizes[0] / sizes[2]:.0f} B/row; embedding column {sizes[3]:.0f} B;"
        f" HNSW {sizes[1] / sizes[2]:.0f} B/row ({sizes[1] / 2**20:.0f} MiB)"
    )
    print(header)
    print("-" * len(header))
    # Small assistants are served by the exact plan; one ef_search suffices to show why.
    for label, efs in (
        ("100k", args.ef),
        ("unfiltered", args.ef),
        ("16,250", args.ef[:2]),
        ("1,000", args.ef[:1]),
        ("100", args.ef[:1]),
    ):
        if label not in args.only:
            continue
        for ef in efs:
            for candidates in args.candidates:
                measure(label, "global" if label == "unfiltered" else "index", ef, candidates)
    if not args.skip_sample:
        vector_vs_halfvec(queries_real[: args.queries], by_id[1][: args.sample], args.m, args.ef_construction)


if __name__ == "__main__":
    main()
