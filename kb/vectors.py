"""Dense vector index on FAISS, saved Pyserini-style as two files: ``vectors.faiss`` (native
FAISS format) and ``vector_ids.txt`` (one passage id per line, row i = line i).

Index type by size: exact inner-product search (``IndexFlatIP``) below ``HNSW_THRESHOLD``
vectors, HNSW (``IndexHNSWFlat``, inner product) at or above it. Filters are applied inside
FAISS with an id selector, so a filtered search still returns up to k matching rows.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

HNSW_THRESHOLD = 200_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128


@dataclass(frozen=True)
class VectorParams:
    kind: str  # "flat" | "hnsw"
    dim: int
    hnsw_m: int = HNSW_M
    ef_construction: int = HNSW_EF_CONSTRUCTION
    ef_search: int = HNSW_EF_SEARCH


def choose_params(n: int, dim: int) -> VectorParams:
    return VectorParams(kind="hnsw" if n >= HNSW_THRESHOLD else "flat", dim=dim)


def build(vectors: np.ndarray, params: VectorParams):
    import faiss

    x = np.ascontiguousarray(vectors, dtype=np.float32)
    if params.kind == "flat":
        index = faiss.IndexFlatIP(params.dim)
    elif params.kind == "hnsw":
        index = faiss.IndexHNSWFlat(params.dim, params.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = params.ef_construction
        index.hnsw.efSearch = params.ef_search
    else:
        raise ValueError(f"unknown vector index kind {params.kind!r}")
    if len(x):
        index.add(x)
    return index


def search(index, query: np.ndarray, k: int, allowed_rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Rows and inner-product scores of the k nearest vectors (optionally among allowed rows)."""
    import faiss

    if index.ntotal == 0 or k <= 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
    k = min(k, index.ntotal)
    if allowed_rows is not None:
        if len(allowed_rows) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        sel = faiss.IDSelectorBatch(np.ascontiguousarray(allowed_rows, dtype=np.int64))
        if isinstance(index, faiss.IndexHNSW):
            params = faiss.SearchParametersHNSW(sel=sel, efSearch=max(HNSW_EF_SEARCH, k))
        else:
            params = faiss.SearchParameters(sel=sel)
        scores, rows = index.search(q, k, params=params)
    else:
        scores, rows = index.search(q, k)
    keep = rows[0] >= 0
    return rows[0][keep], scores[0][keep]


def save(index, ids: list[str], folder: Path) -> None:
    import faiss

    from .store import atomic_write_bytes

    atomic_write_bytes(folder / "vectors.faiss", faiss.serialize_index(index).tobytes())
    atomic_write_bytes(folder / "vector_ids.txt", ("\n".join(ids) + "\n").encode("utf-8"))


def load(folder: Path, ef_search: int = HNSW_EF_SEARCH):
    import faiss

    index = faiss.read_index(str(folder / "vectors.faiss"))
    if isinstance(index, faiss.IndexHNSW):
        index.hnsw.efSearch = ef_search
    ids = (folder / "vector_ids.txt").read_text(encoding="utf-8").split("\n")[: index.ntotal]
    return index, ids
