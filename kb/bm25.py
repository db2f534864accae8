"""BM25 as pure functions over a term-major sparse matrix of precomputed scores (as bm25s does).

For each term t the index holds its postings (passage rows) and, per posting, the term's full
BM25 contribution ``idf(t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len / avglen))``. A query
is then a weighted sum of a few posting lists: exact BM25, no approximation.

Two IDF variants: ``lucene`` (``log(1 + (N - df + .5) / (df + .5))``, never negative; default)
and ``okapi`` (rank-bm25's ``BM25Okapi``: ``log((N - df + .5) / (df + .5))`` with negative values
floored to ``epsilon * mean idf``), the latter to check scores against rank-bm25.

Saved as plain ``.npy`` files plus a JSON term list; loaded with ``allow_pickle=False`` and
optionally memory-mapped.
"""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from . import files


@dataclass(frozen=True)
class BM25Params:
    k1: float = 1.2
    b: float = 0.75
    method: str = "lucene"
    epsilon: float = 0.25


@dataclass(frozen=True)
class BM25Index:
    """Term-major postings: term i's rows are ``indices[indptr[i]:indptr[i+1]]``."""

    vocab: dict[str, int]
    indptr: np.ndarray  # int64, len(vocab) + 1
    indices: np.ndarray  # int32 passage rows
    data: np.ndarray  # float32 BM25 contributions
    n_passages: int  # rows (passages) the postings refer to


def idf(df: np.ndarray, n: int, params: BM25Params) -> np.ndarray:
    """IDF of terms with document frequencies ``df`` among ``n`` passages."""
    df = df.astype(np.float64)
    if params.method == "lucene":
        return np.log1p((n - df + 0.5) / (df + 0.5))
    if params.method == "okapi":
        raw = np.log(n - df + 0.5) - np.log(df + 0.5)
        floor = params.epsilon * raw.mean() if len(raw) else 0.0
        return np.where(raw < 0, floor, raw)
    raise ValueError(f"unknown BM25 method {params.method!r}")


def build(docs_terms: Sequence[Sequence[str]], params: BM25Params = BM25Params()) -> BM25Index:
    """Index tokenised passages (one term list per passage).

    Postings are collected in compact ``array`` buffers (4 bytes each, not Python ints), so a
    million passages (~50M postings) build in a few hundred MB and well under a minute.
    """
    from array import array

    n = len(docs_terms)
    lengths = np.fromiter((len(t) for t in docs_terms), dtype=np.float64, count=n)
    avg = float(lengths.mean()) if n and lengths.sum() else 1.0
    vocab: dict[str, int] = {}
    rows = array("i")
    cols = array("i")
    tfs = array("i")
    for r, terms in enumerate(docs_terms):
        counts = Counter(terms)
        cols.extend([vocab.setdefault(term, len(vocab)) for term in counts])
        tfs.extend(counts.values())
        rows.extend([r] * len(counts))
    rows_a = np.frombuffer(rows, dtype=np.int32) if len(rows) else np.zeros(0, np.int32)
    cols_a = np.frombuffer(cols, dtype=np.int32) if len(cols) else np.zeros(0, np.int32)
    df = np.bincount(cols_a, minlength=len(vocab))
    term_idf = idf(df, n, params)
    # rows were appended in increasing order: a stable sort by term gives (term, row) order
    order = np.argsort(cols_a, kind="stable")
    rows_s = rows_a[order]
    cols_s = cols_a[order]
    tf_s = np.frombuffer(tfs, dtype=np.int32)[order].astype(np.float64) if len(tfs) else np.zeros(0)
    del order
    contrib = np.empty(len(rows_s), dtype=np.float32)
    step = 1 << 22  # bounded float64 temporaries
    for a in range(0, len(rows_s), step):
        rs, cs, tf = rows_s[a : a + step], cols_s[a : a + step], tf_s[a : a + step]
        norm = params.k1 * (1 - params.b + params.b * lengths[rs] / avg)
        contrib[a : a + step] = term_idf[cs] * tf * (params.k1 + 1) / (tf + norm)
    indptr = np.zeros(len(vocab) + 1, dtype=np.int64)
    np.cumsum(df, out=indptr[1:])
    return BM25Index(vocab, indptr, np.ascontiguousarray(rows_s), contrib, n)


def scores(index: BM25Index, query: Iterable[tuple[str, float]]) -> np.ndarray:
    """BM25 score of every passage for weighted query terms (a term repeated counts again)."""
    out = np.zeros(index.n_passages, dtype=np.float32)
    for term, weight in query:
        c = index.vocab.get(term)
        if c is None:
            continue
        a, b = index.indptr[c], index.indptr[c + 1]
        out[index.indices[a:b]] += np.float32(weight) * index.data[a:b]
    return out


def term_idf(index: BM25Index, term: str) -> float:
    """Lucene IDF of a term over the passages; a term no passage has gets the highest value (df = 0)."""
    c = index.vocab.get(term)
    df = 0 if c is None else int(index.indptr[c + 1] - index.indptr[c])
    n = index.n_passages
    return float(np.log1p((n - df + 0.5) / (df + 0.5)))


def coverage(index: BM25Index, query: Iterable[tuple[str, float]], row: int) -> float:
    """Share of the query's weighted IDF mass that passage ``row`` matches (0–1).

    A query term missing from the index counts with the highest possible IDF (df = 0): it is the
    most specific word of the query and no passage has it. Lucene IDF is used whatever the
    index's variant; only the ratio matters.
    """
    total = got = 0.0
    for term, weight in query:
        c = index.vocab.get(term)
        w = weight * term_idf(index, term)
        total += w
        if c is not None:
            post = index.indices[index.indptr[c] : index.indptr[c + 1]]  # rows, ascending
            i = int(np.searchsorted(post, row))
            if i < len(post) and int(post[i]) == row:
                got += w
    return got / total if total > 0 else 0.0


def top_k(values: np.ndarray, k: int, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the k highest positive values (ties by row), restricted to ``mask`` if given."""
    v = values if mask is None else np.where(mask, values, 0)
    cand = np.flatnonzero(v > 0)
    if len(cand) > k:
        part = np.argpartition(-v[cand], k - 1)[:k]
        cand = cand[part]
    order = np.lexsort((cand, -v[cand]))
    rows = cand[order]
    return rows, v[rows]


def save(index: BM25Index, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    terms: list[str | None] = [None] * len(index.vocab)
    for t, i in index.vocab.items():
        terms[i] = t
    files.atomic_write_bytes(folder / "terms.json", json.dumps(terms, ensure_ascii=False).encode("utf-8"))
    files.atomic_write_bytes(folder / "indptr.npy", files.npy_bytes(index.indptr))
    files.atomic_write_bytes(folder / "indices.npy", files.npy_bytes(index.indices))
    files.atomic_write_bytes(folder / "data.npy", files.npy_bytes(index.data))
    # "n_docs" in the file: BM25's name for the scored units, here passages
    files.atomic_write_bytes(folder / "meta.json", json.dumps({"n_docs": index.n_passages}).encode())


def load(folder: Path, mmap: bool = False) -> BM25Index:
    mode: Literal["r"] | None = "r" if mmap else None
    terms = json.loads((folder / "terms.json").read_text(encoding="utf-8"))
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    return BM25Index(
        vocab={t: i for i, t in enumerate(terms)},
        indptr=np.load(folder / "indptr.npy", allow_pickle=False, mmap_mode=mode),
        indices=np.load(folder / "indices.npy", allow_pickle=False, mmap_mode=mode),
        data=np.load(folder / "data.npy", allow_pickle=False, mmap_mode=mode),
        n_passages=int(meta["n_docs"]),
    )
