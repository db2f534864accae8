"""The embedded index: one generation of an index folder (see :mod:`kb.store`) loaded into memory
(passages and documents lazily when large, see :mod:`kb.rowstore`; BM25 postings memory-mapped;
FAISS vectors). Implements :class:`kb.backend.PassageIndex`; holds loaded state only and is safe
to share between threads (nothing is mutated by a search).
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from . import bm25, rowstore, store, vectors
from .analyze import Analyzer, AnalyzerConfig
from .errors import IndexCorruptError, IndexIncompatibleError, KBError
from .manifest import Manifest
from .records import Chunk, DocHead, Document, Filters, Sentence, chunk_order, may_read


class LocalIndex:
    """A loaded index generation (construct with :func:`load_generation`)."""

    def __init__(self, root: Path, gen: Path, manifest: Manifest) -> None:
        self.location = str(root)
        self.root = root
        self.generation = gen.name
        self.manifest = manifest
        n_rows = manifest.passages
        self.docs, self.passages, heads, lazy = rowstore.open_rows(gen, manifest, n_rows)
        lexicon = json.loads((gen / "lexicon.json").read_text(encoding="utf-8"))
        self.analyzer = Analyzer(AnalyzerConfig.from_json(manifest.analyzer_config), lexicon)
        self.bm25 = bm25.load(gen / "bm25", mmap=True)
        self.vindex, self.ids = vectors.load(gen)
        if len(self.ids) != len(self.passages) or self.bm25.n_passages != len(self.passages):
            raise IndexCorruptError(f"index at {root} is inconsistent (row counts differ); run `kb ingest`")
        self._heads = heads
        self._doc_pos = {d.doc_id: i for i, d in enumerate(heads)}
        if lazy:
            self._chunk_doc = rowstore.chunk_doc_rows(gen, self.ids, self._doc_pos)
        else:
            self._chunk_doc = np.array([self._doc_pos[c.doc_id] for c in self.passages], dtype=np.int32)
        # first row of each document: passage <doc_id>:<ordinal> is at first_row + ordinal
        self._first_row = np.searchsorted(self._chunk_doc, np.arange(len(heads)), side="left")
        self._sentences = store.load_sentences(gen)
        if self._sentences is not None and len(self._sentences[1]) != len(self.passages) + 1:
            raise IndexCorruptError(f"index at {root} is inconsistent (sentence rows); run `kb ingest`")

    # -- PassageIndex -------------------------------------------------------------------------
    def heads(self) -> Sequence[DocHead]:
        return self._heads

    def lexical(self, query: Sequence[tuple[str, float]], depth: int, filters: Filters) -> list[tuple[str, float]]:
        s = bm25.scores(self.bm25, query)
        rows, values = bm25.top_k(s, depth, self._mask(filters))
        return [(self.ids[r], float(v)) for r, v in zip(rows.tolist(), values.tolist())]

    def coverage(self, query: Sequence[tuple[str, float]], chunk_id: str) -> float:
        return bm25.coverage(self.bm25, query, self.row_of(chunk_id))

    def dense(self, vector: np.ndarray, depth: int, filters: Filters) -> list[tuple[str, float]]:
        mask = self._mask(filters)
        allowed = None if mask is None else np.flatnonzero(mask)
        rows, values = vectors.search(self.vindex, vector, depth, allowed)
        # equal scores in row order (FAISS leaves their order open), as kb.bm25.top_k and every back-end do
        pairs = sorted(zip(rows.tolist(), values.tolist()), key=lambda rv: (-rv[1], rv[0]))
        return [(self.ids[r], float(v)) for r, v in pairs]

    def chunks(self, chunk_ids: Sequence[str]) -> list[Chunk]:
        return [self.passages[self.row_of(c)] for c in chunk_ids]

    def neighbours(self, chunk_id: str, before: int = 1, after: int = 1) -> list[Chunk]:
        row = self.row_of(chunk_id)
        doc_id = self.passages[row].doc_id
        out = []
        for r in range(row - before, row + after + 1):
            if 0 <= r < len(self.passages) and self.passages[r].doc_id == doc_id:
                out.append(self.passages[r])
        return out

    def sentences(self, chunk_ids: Sequence[str]) -> tuple[list[Sentence], np.ndarray]:
        if self._sentences is None:
            raise IndexIncompatibleError(f"the index at {self.location} has no evidence sentences (built by an "
                                         "older kb); run `kb ingest` to rebuild it")
        spans, ptr, vecs = self._sentences
        out: list[Sentence] = []
        parts = []
        for cid in chunk_ids:
            row = self.row_of(cid)
            a, b = int(ptr[row]), int(ptr[row + 1])
            out.extend(store.sentence_records(cid, spans[a:b]))
            parts.append(np.asarray(vecs[a:b], dtype=np.float32))
        dim = vecs.shape[1] if vecs.ndim == 2 else 0
        return out, (np.concatenate(parts) if parts else np.zeros((0, dim), np.float32))

    def idf(self, terms: Sequence[str]) -> list[float]:
        return [bm25.term_idf(self.bm25, t) for t in terms]

    def document(self, doc_id: str) -> Document:
        try:
            return self.docs[doc_id]
        except KeyError:
            raise KBError(f"no document {doc_id!r} in this index") from None

    # -- rows ---------------------------------------------------------------------------------
    def row_of(self, chunk_id: str) -> int:
        """The row of a passage id (its document's first row plus its ordinal)."""
        doc_id, ordinal = chunk_order(chunk_id)
        pos = self._doc_pos.get(doc_id)
        if pos is not None and ordinal >= 0:
            row = int(self._first_row[pos]) + ordinal
            if row < len(self.ids) and self.ids[row] == chunk_id:
                return row
        raise KBError(f"no passage {chunk_id!r} in this index")

    def _mask(self, filters: Filters) -> np.ndarray | None:
        """Passages that pass the hard filters (None: no filter)."""
        if filters.is_empty():
            return None
        ok = np.array([passes(filters, d) for d in self._heads], dtype=bool)
        return ok[self._chunk_doc]


def passes(filters: Filters, head: DocHead) -> bool:
    """True when a document passes every hard filter."""
    m = head.meta
    return not (
        (filters.years and m.year not in filters.years)
        or (filters.organisations and m.organisation not in filters.organisations)
        or (filters.doc_types and m.doc_type not in filters.doc_types)
        or (filters.doc_ids and head.doc_id not in filters.doc_ids)
        or not may_read(m.access, filters.access)
    )
