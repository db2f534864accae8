"""How a Milvus ingest stores documents: :class:`Writer` writes one document's passages (dense and
BM25 vectors), evidence sentences, text and row, in the crash-safe order :mod:`kb.milvus.ingest`
describes, deletes removed documents, and rewrites BM25 weights that drifted (:func:`reweight`)."""
from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from .. import sparse
from ..analyze import Analyzer
from ..embed import EmbeddingCache, get_embedder
from ..ingest.config import BuildConfig
from ..ingest.embedding import embed_texts, save_cache
from ..ingest.plan import real_path
from ..ingest.prepare import dense_texts, document_passages, retrieval_text
from ..manifest import EmbedderInfo
from ..records import Chunk, DocMeta, Document
from ..sentences import evidence_units
from .store import (
    DUMMY,
    LAYOUT,
    SENTENCES,
    Connection,
    batched,
    chunk_from_record,
    chunk_record,
    query_all,
    quote,
    sentence_rows,
    text_pieces,
)
from .terms import TermTable

Progress = Callable[[str, int, int], None]
BATCH = 256


def doc_value(doc: Document, n: int, total_len: int, pieces: int, written_with: str) -> dict[str, Any]:
    return {"path": doc.path, "real": real_path(doc.path), "aliases": list(doc.aliases), "sha256": doc.sha256,
            "meta": asdict(doc.meta),
            "page_starts": list(doc.page_starts), "n": n, "total_len": total_len, "pieces": pieces,
            "written_with": written_with}


def written_with(config: BuildConfig) -> str:
    """What a document row records of how it was written: the layout and the build configuration."""
    return hashlib.sha256(json.dumps([LAYOUT, config.to_json()], sort_keys=True).encode("utf-8")).hexdigest()[:16]


def header_doc(doc_id: str, value: dict[str, Any]) -> Document:
    """A document without its text: enough for the retriever header (title, year)."""
    return Document(doc_id, value["path"], value["sha256"], DocMeta(**value["meta"]), "")


def passage_rows(
    doc: Document, chunks: Sequence[Chunk], terms: Sequence[list[str]], vectors: np.ndarray,
    table: TermTable, avgdl: float, config: BuildConfig, version: str,
) -> list[dict[str, Any]]:
    m = doc.meta
    rows = []
    for c, ts, v in zip(chunks, terms, vectors):
        rows.append({
            "chunk_id": c.chunk_id, "doc_id": c.doc_id, "version": version, "ordinal": c.ordinal,
            "year": m.year if m.year is not None else -1, "organisation": m.organisation or "",
            "doc_type": m.doc_type or "", "record": chunk_record(c), "dlen": len(ts), "avgdl": avgdl,
            "dense": v.astype(np.float32).tolist(), "sparse": sparse.doc_vector(ts, table.ids, avgdl, config.bm25),
        })
    return rows


class Writer:
    """Writes documents into the collection for one ingest run (``version`` = its build id)."""

    def __init__(self, conn: Connection, config: BuildConfig, analyzer: Analyzer, cache_dir: Path | None,
                 version: str, recount: bool, progress: Progress, embedder=None) -> None:
        self.conn = conn
        self.config = config
        self.analyzer = analyzer
        self.embedder = embedder if embedder is not None else get_embedder(config.embedder)
        self.cache = EmbeddingCache(cache_dir, self.embedder.model_id, self.embedder.dim) if cache_dir else None
        self.version = version
        self.recount = recount  # statistics will be recounted: no df bookkeeping
        self.progress = progress
        self.table = TermTable(conn)
        self.embedded = 0
        self.embedded_sentences = 0
        self.embed_seconds = 0.0
        self.written = 0
        self.total = 0  # passages this run writes (for progress)

    @property
    def model(self) -> EmbedderInfo:
        return EmbedderInfo(self.config.embedder, self.embedder.model_id, self.embedder.dim)

    def analyse(self, doc: Document, chunks: Sequence[Chunk] | None = None) -> tuple[list[Chunk], list[list[str]]]:
        """The document's passages (chunked unless given) and their BM25 terms."""
        return document_passages(doc, self.analyzer, self.config, chunks)

    def embed(self, doc: Document, chunks: Sequence[Chunk]) -> np.ndarray:
        n, vecs = self.embed_texts(dense_texts(doc, chunks, self.config))
        self.embedded += n
        return vecs

    def embed_texts(self, texts: Sequence[str]) -> tuple[int, np.ndarray]:
        """(how many were embedded, the vectors of ``texts``) through the embedding cache."""
        t = time.perf_counter()
        vecs, missing = embed_texts(texts, self.embedder, self.cache)
        self.embed_seconds += time.perf_counter() - t
        return len(missing), vecs

    def write_sentences(self, doc: Document, chunks: Sequence[Chunk], fresh: bool) -> None:
        """The evidence sentences of ``chunks``, split and embedded as the folder build does them."""
        sents, texts = evidence_units({doc.doc_id: doc}, chunks)
        n, vecs = self.embed_texts(texts)
        self.embedded_sentences += n
        rows = sentence_rows(sents, vecs, doc.doc_id, self.version)
        write = self.conn.insert if fresh else self.conn.upsert
        for batch in batched(rows, 1000):
            write(self.conn.loc.side(SENTENCES), list(batch))

    def forget_old(self, doc_id: str) -> None:
        """Count the stored passages of ``doc_id`` out of the df (before they are replaced)."""
        if self.recount:
            return
        for r in query_all(self.conn, self.conn.loc.collection, f"doc_id == {quote(doc_id)}", ["chunk_id", "sparse"]):
            self.table.count((k for k in r["sparse"] if int(k) != sparse.EMPTY), -1)

    def write(self, doc: Document, avgdl: float, chunks: Sequence[Chunk] | None = None,
              vectors: np.ndarray | None = None, fresh: bool = False) -> int:
        """Store one document completely (its passages and their vectors may be given, as for a
        synthetic or copied corpus); returns its passage count. ``fresh``: the collection surely
        holds no passage of it (a new document after a completed ingest), so rows are inserted,
        not upserted, and nothing old is looked for."""
        chunks, terms = self.analyse(doc, chunks)
        if not fresh:
            self.forget_old(doc.doc_id)
        for a in range(0, len(chunks), BATCH):
            cs, ts = chunks[a : a + BATCH], terms[a : a + BATCH]
            vecs = self.embed(doc, cs) if vectors is None else vectors[a : a + BATCH]
            self.table.lookup({t for x in ts for t in x})
            write = self.conn.insert if fresh else self.conn.upsert
            write(self.conn.loc.collection,
                  passage_rows(doc, cs, ts, vecs, self.table, avgdl, self.config, self.version))
            self.write_sentences(doc, cs, fresh)
            if not self.recount:
                for x in ts:
                    self.table.count((self.table.ids[t] for t in set(x)), +1)
            self.written += len(cs)
            self.progress("write", self.written, self.total)
        newer = f"doc_id == {quote(doc.doc_id)} and version != {quote(self.version)}"
        if not fresh:
            self.conn.delete(self.conn.loc.collection, filter=newer)
            self.conn.delete(self.conn.loc.side(SENTENCES), filter=newer)
        pieces = text_pieces(doc.text)
        for batch in batched(list(enumerate(pieces)), 32):
            self.conn.upsert(self.conn.loc.side("text"), [
                {"key": f"{doc.doc_id}#{self.version}#{i:06d}", "doc_id": doc.doc_id, "version": self.version,
                 "value": p, "v": DUMMY} for i, p in batch])
        value = doc_value(doc, len(chunks), sum(len(t) for t in terms), len(pieces), written_with(self.config))
        self.conn.upsert(self.conn.loc.side("docs"), [{"key": doc.doc_id, "doc_id": doc.doc_id, "version": self.version,
                                                      "value": json.dumps(value, ensure_ascii=False), "v": DUMMY}])
        if not fresh:  # after the row names the new version: a reader always finds the text it names
            self.conn.delete(self.conn.loc.side("text"), filter=newer)
        return len(chunks)

    def remove(self, doc_id: str) -> None:
        """Delete a document: passages, sentences, text, then its row."""
        self.forget_old(doc_id)
        expr = f"doc_id == {quote(doc_id)}"
        self.conn.delete(self.conn.loc.collection, filter=expr)
        self.conn.delete(self.conn.loc.side(SENTENCES), filter=expr)
        self.conn.delete(self.conn.loc.side("text"), filter=expr)
        self.conn.delete(self.conn.loc.side("docs"), ids=[doc_id])

    def save_cache(self) -> None:
        save_cache(self.cache)


def reweight(w: Writer, docs: dict[str, dict[str, Any]], stats: sparse.CorpusStats,
             tolerance: float) -> tuple[int, sparse.CorpusStats]:
    """Rewrite the BM25 vectors of passages weighted with an ``avgdl`` more than ``tolerance``
    away from the current one (re-analysed with the current lexicon). Returns (rewritten, stats)."""
    avgdl = stats.avgdl
    lo, hi = avgdl * (1 - tolerance), avgdl * (1 + tolerance)
    fields = ["chunk_id", "doc_id", "version", "ordinal", "year", "organisation", "doc_type", "record", "dlen",
              "avgdl", "dense", "sparse"]
    ids = [r["chunk_id"] for r in query_all(w.conn, w.conn.loc.collection, f"avgdl < {lo!r} or avgdl > {hi!r}",
                                            ["chunk_id"])]
    total = stats.total_len
    for id_batch in batched(ids, BATCH):
        batch = w.conn.get(w.conn.loc.collection, ids=list(id_batch), output_fields=fields)
        terms = []
        for r in batch:
            c = chunk_from_record(r["record"])
            terms.append(w.analyzer.passage_terms(retrieval_text(header_doc(c.doc_id, docs[c.doc_id]), c,
                                                                 w.config.bm25_header)))
        w.table.lookup({t for x in terms for t in x})
        out = []
        for r, ts in zip(batch, terms):
            w.table.count((k for k in r["sparse"] if int(k) != sparse.EMPTY), -1)
            w.table.count({w.table.ids[t] for t in ts}, +1)
            total += len(ts) - int(r["dlen"])
            out.append(dict(r, dlen=len(ts), avgdl=avgdl,
                            sparse=sparse.doc_vector(ts, w.table.ids, avgdl, w.config.bm25)))
        w.conn.upsert(w.conn.loc.collection, out)
    w.table.commit()
    return len(ids), sparse.CorpusStats(stats.n_docs, total)
