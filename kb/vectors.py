"""Dense vector index on FAISS, saved Pyserini-style as two files: ``vectors.faiss`` (native
FAISS format) and ``vector_ids.txt`` (one passage id per line, row i = line i).

Index type by size (:func:`choose_params`, recorded in the manifest under ``vectors``):

* ``flat`` below ``ANN_THRESHOLD`` (200 000) vectors: exact inner-product search
  (``IndexFlatIP``). At 200 000 x 384 a query scans 300 MB in ~10-20 ms on two cores.
* ``ivf`` at or above it: an inverted file of ``nlist`` k-means cells whose vectors are stored
  8-bit scalar-quantised (``IVF{nlist},SQ8``, 384 bytes per vector), searched in ``nprobe``
  cells, and the ``k * k_factor`` best candidates re-scored exactly against half-precision
  copies of the vectors (``IndexRefine`` over an fp16 ``IndexScalarQuantizer``). At 1M x 384
  this holds ~1.15 GB (vs 1.5 GB for float32 vectors alone, ~1.8 GB for HNSW) and builds in a
  minute or two on two cores, where HNSW (M=32, efConstruction=80) takes far longer. Recall@10
  against exact search is checked by ``tests/test_scale.py`` and ``bench/run.py``.

Filters: a filter that leaves at most ``EXACT_FILTER_MAX`` rows is searched exactly over those
rows (their vectors are reconstructed from the index), so a selective filter never loses hits
to the approximate index; a broader filter is applied inside FAISS with an id selector.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import files

ANN_THRESHOLD = 200_000
IVF_TRAIN_MAX = 100_000  # k-means training sample
IVF_NPROBE = 48
IVF_K_FACTOR = 4
EXACT_FILTER_MAX = 50_000


@dataclass(frozen=True)
class VectorParams:
    kind: str  # "flat" | "ivf"
    dim: int
    nlist: int = 0  # ivf: number of cells
    nprobe: int = IVF_NPROBE  # ivf: cells searched per query
    k_factor: int = IVF_K_FACTOR  # ivf: candidates re-scored per result (exact fp16 refine)
    train_size: int = IVF_TRAIN_MAX  # ivf: vectors sampled to train the quantisers
    threshold: int = ANN_THRESHOLD  # size from which an approximate index is used


def ivf_nlist(n: int) -> int:
    """Cells for n vectors: ~2*sqrt(n) rounded to a power of two (1M -> 2048)."""
    return max(64, 2 ** round(math.log2(2 * math.sqrt(max(n, 1)))))


def choose_params(n: int, dim: int) -> VectorParams:
    if n >= ANN_THRESHOLD:
        return VectorParams(kind="ivf", dim=dim, nlist=ivf_nlist(n))
    return VectorParams(kind="flat", dim=dim)


def build(vectors: np.ndarray, params: VectorParams, seed: int = 0):
    import faiss

    x = np.ascontiguousarray(vectors, dtype=np.float32)
    if params.kind == "flat":
        index = faiss.IndexFlatIP(params.dim)
    elif params.kind == "ivf":
        nlist = params.nlist or ivf_nlist(len(x))
        quantizer = faiss.IndexFlatIP(params.dim)
        base = faiss.IndexIVFScalarQuantizer(
            quantizer, params.dim, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
        )
        base.own_fields = True  # the IVF index frees its quantizer
        quantizer.this.disown()
        base.cp.niter = 10
        base.cp.max_points_per_centroid = 10**9  # the sample size is chosen here, not by faiss
        rng = np.random.default_rng(seed)
        sample = x if len(x) <= params.train_size else x[np.sort(rng.choice(len(x), params.train_size, replace=False))]
        base.train(sample)
        base.nprobe = params.nprobe
        refine = faiss.IndexScalarQuantizer(params.dim, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT)
        index = faiss.IndexRefine(base, refine)
        index.k_factor = params.k_factor
        index.own_fields = True
        index.own_refine_index = True
        base.this.disown()
        refine.this.disown()
        # add in slices to bound temporary memory
        for a in range(0, len(x), 200_000):
            index.add(x[a : a + 200_000])
        return index
    else:
        raise ValueError(f"unknown vector index kind {params.kind!r}")
    if len(x):
        index.add(x)
    return index


def _exact_among(index, q: np.ndarray, k: int, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact inner-product top k among the given rows (vectors reconstructed from the index)."""
    rows = np.ascontiguousarray(rows, dtype=np.int64)
    out_r, out_s = [], []
    for a in range(0, len(rows), 16_384):
        part = rows[a : a + 16_384]
        vecs = index.reconstruct_batch(part)
        out_r.append(part)
        out_s.append(vecs @ q[0])
    r = np.concatenate(out_r)
    s = np.concatenate(out_s).astype(np.float32)
    if len(r) > k:
        top = np.argpartition(-s, k - 1)[:k]
        r, s = r[top], s[top]
    order = np.lexsort((r, -s))
    return r[order], s[order]


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
        if len(allowed_rows) <= EXACT_FILTER_MAX:
            return _exact_among(index, q, k, allowed_rows)
        sel = faiss.IDSelectorBatch(np.ascontiguousarray(allowed_rows, dtype=np.int64))
        if isinstance(index, faiss.IndexRefine):
            base = faiss.downcast_index(index.base_index)
            params = faiss.IndexRefineSearchParameters(
                k_factor=index.k_factor,
                base_index_params=faiss.SearchParametersIVF(sel=sel, nprobe=base.nprobe),
            )
            params.sel = sel
        else:
            params = faiss.SearchParameters(sel=sel)
        scores, rows = index.search(q, k, params=params)
    else:
        scores, rows = index.search(q, k)
    keep = rows[0] >= 0
    return rows[0][keep], scores[0][keep]


def save(index, ids: list[str], folder: Path) -> None:
    """``vectors.faiss`` (FAISS writes it to a temporary file, no in-memory copy of a large
    index) and ``vector_ids.txt``, both replaced atomically."""
    import faiss

    files.atomic_write_with(folder / "vectors.faiss", lambda tmp: faiss.write_index(index, str(tmp)))
    files.atomic_write_bytes(folder / "vector_ids.txt", ("\n".join(ids) + "\n").encode("utf-8"))


def load(folder: Path):
    """The FAISS index and the passage id of each of its rows."""
    import faiss

    index = faiss.read_index(str(folder / "vectors.faiss"))
    ids = (folder / "vector_ids.txt").read_text(encoding="utf-8").split("\n")[: index.ntotal]
    return index, ids
