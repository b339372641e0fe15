"""Cutting a document's text into overlapping chunks.

Chunks are packed from whole paragraphs where they fit, so an edit in one paragraph changes only
the chunks around it and a re-upload keeps the embeddings of the rest (content hash). Each chunk
after the first starts with the tail (about `overlap` characters, cut at a word boundary) of the
previous one, so a sentence that straddles a boundary is still found whole.
"""

import re

PARAGRAPH_RE = re.compile(r"\n\s*\n")
SENTENCE_RE = re.compile(r"(?<=[.!?])\s+")


def _split_long(paragraph: str, size: int) -> list[str]:
    """A paragraph longer than a chunk: by sentences, then by words, then hard-cut."""
    pieces: list[str] = []
    current = ""
    for sentence in SENTENCE_RE.split(paragraph):
        for word in sentence.split(" ") if len(sentence) > size else [sentence]:
            while len(word) > size:
                if current:
                    pieces.append(current)
                    current = ""
                pieces.append(word[:size])
                word = word[size:]
            candidate = f"{current} {word}" if current else word
            if len(candidate) <= size:
                current = candidate
            else:
                pieces.append(current)
                current = word
    if current:
        pieces.append(current)
    return [piece for piece in pieces if piece.strip()]


def _tail(text: str, overlap: int) -> str:
    if overlap <= 0 or len(text) <= overlap:
        return text if overlap > 0 else ""
    tail = text[-overlap:]
    space = tail.find(" ")
    return tail[space + 1 :] if 0 <= space < len(tail) - 1 else tail


def chunk_text(text: str, *, size: int, overlap: int) -> list[str]:
    if overlap < 0 or overlap >= size - 1:
        raise ValueError("need 0 <= overlap < size")
    # Room for the overlap and the space that joins it to the chunk.
    budget = size - overlap - 1
    paragraphs: list[str] = []
    for paragraph in PARAGRAPH_RE.split(text):
        paragraph = " ".join(paragraph.split())
        if not paragraph:
            continue
        # Leave room for the overlap carried in front of the paragraph.
        paragraphs.extend(_split_long(paragraph, budget) if len(paragraph) > budget else [paragraph])
    chunks: list[str] = []
    body = ""
    for paragraph in paragraphs:
        if body and len(body) + 2 + len(paragraph) > budget:
            chunks.append(body)
            body = ""
        body = f"{body}\n\n{paragraph}" if body else paragraph
    if body:
        chunks.append(body)
    # The overlap is added after packing so that the packing (and thus every later chunk) does not
    # depend on how long the previous chunk's tail happens to be.
    return (
        [chunks[0], *(f"{_tail(chunks[i - 1], overlap)} {chunks[i]}" for i in range(1, len(chunks)))]
        if chunks
        else []
    )
