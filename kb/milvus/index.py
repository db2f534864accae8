"""The index in a Milvus server or cluster: :class:`MilvusIndex`, the ``PassageIndex`` of a
``milvus://HOST:PORT/COLLECTION`` address (layout in :mod:`kb.milvus.store`, ingest in
:mod:`kb.milvus.ingest`).

Both retrievers run in the server and return only candidates; kb's fusion, year rule,
coverage weighting and duplicate folding then run on them exactly as for the folder index:

* **lexical**: kb's own BM25 as a sparse inner-product search. The query side (IDF × query
  weight, :func:`kb.sparse.query_vector`) is computed from the current collection-wide
  statistics kept in ``NAME__terms`` and ``NAME__meta``; the document side is stored per passage.
* **dense**: inner product on the ``dense`` field (FLAT, HNSW or IVF_SQ8 by size).
* **filters** become a Milvus expression on scalar-indexed fields (year, organisation,
  doc_type, doc_id), applied by the server before ranking.

Search results carry the passage records, which are kept in a bounded memo, so a passage that a
concurrent ingest replaces between the search and the citation is still cited as it was found.
"""
from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from .. import sparse, store
from ..analyze import Analyzer, AnalyzerConfig
from ..errors import IndexCorruptError, IndexIncompatibleError, IndexMissingError, KBError
from ..manifest import Counts, Manifest
from ..records import Chunk, DocHead, DocMeta, Document, Filters, Sentence, chunk_order
from .store import (
    LAYOUT,
    SENTENCES,
    Connection,
    MilvusLocation,
    chunk_from_record,
    exists,
    filter_expr,
    load,
    meta_get,
    parse_location,
    passage_versions,
    query_all,
    quote,
    read_lexicon,
    read_sentences,
)

MEMO = 20_000  # passage records kept from search results
HIT_FIELDS = ["record", "doc_id"]  # what a search returns per passage


def check_format(data: dict[str, Any] | None, location: str) -> Manifest:
    """The collection's manifest if this kb reads its format (the folder index's message otherwise)."""
    if data is None:  # the collections exist (the callers checked): a first ingest stopped before its end
        raise IndexCorruptError(f"the index at {location} is incomplete (its first `kb ingest` stopped before it "
                                f"finished); run `kb ingest corpus/ --index {location}` again to complete it")
    manifest = Manifest.from_json(data)
    store.check_format_version(manifest, location)
    return manifest


def require_sentences(has: bool, location: str) -> None:
    """The folder index's refusal for an index without evidence sentences (Milvus layout 1)."""
    if not has:
        raise IndexIncompatibleError(f"the index at {location} has no evidence sentences (built by an "
                                     "older kb); run `kb ingest` to rebuild it")


_CONNECTIONS: dict[str, Connection] = {}
_CONNECTIONS_LOCK = threading.Lock()


def current_build(location: str) -> str:
    """The build id of the collection's last completed ingest (a cheap check for the UI, over one
    connection per address kept for the process)."""
    loc = parse_location(location)
    with _CONNECTIONS_LOCK:
        conn = _CONNECTIONS.get(str(loc))
        if conn is None:
            conn = _CONNECTIONS[str(loc)] = Connection(loc)
    if not conn.has_collection(loc.side("meta")):
        raise IndexMissingError(f"no index at {loc}; build one with `kb ingest corpus/ --index {loc}`")
    manifest = check_format(meta_get(conn, "manifest"), str(loc))
    return manifest.build or ""


class MilvusIndex:
    """A kb index stored in Milvus; holds the connection and what a query needs in memory
    (analyzer with the lexicon, document heads). Safe to share between threads."""

    def __init__(self, location: MilvusLocation | str, timeout: float = 10.0) -> None:
        self.loc = location if isinstance(location, MilvusLocation) else parse_location(location)
        self.location = where = str(self.loc)
        self.conn = Connection(self.loc, timeout=timeout)
        if not exists(self.conn):
            raise IndexMissingError(f"no index at {where}; build one with `kb ingest corpus/ --index {where}`")
        load(self.conn)
        base = check_format(meta_get(self.conn, "manifest"), self.location)
        self.analyzer = Analyzer(AnalyzerConfig.from_json(base.analyzer_config), read_lexicon(self.conn))
        rows = sorted(query_all(self.conn, self.loc.side("docs"), "", ["key", "value"]), key=lambda r: r["key"])
        docs = [json.loads(r["value"]) for r in rows]
        self._heads = [DocHead(r["key"], DocMeta(**d["meta"])) for r, d in zip(rows, docs)]
        self._known = frozenset(h.doc_id for h in self._heads)
        listing = [{"doc_id": r["key"], "path": d["path"], "aliases": d["aliases"], "sha256": d["sha256"], **d["meta"]}
                   for r, d in zip(rows, docs)]
        stats = meta_get(self.conn, "stats") or {"n": 0}
        dense = base.dense_index or {}
        self.has_sentences = (base.layout or 1) >= LAYOUT and self.conn.has_collection(self.loc.side(SENTENCES))
        counts = Counts(len(listing), int(stats["n"]), int(stats.get("sentences", 0)) if self.has_sentences else None)
        self.manifest = replace(base, documents=tuple(listing), counts=counts,
                                vectors={"kind": f"milvus {dense.get('index_type')}"})
        self.generation = base.build or ""
        self.dense_search = dict(dense.get("search", {}))
        self._memo: OrderedDict[str, Chunk] = OrderedDict()
        self._lock = threading.Lock()

    # -- documents ------------------------------------------------------------------------
    def heads(self) -> list[DocHead]:
        return list(self._heads)

    def document(self, doc_id: str) -> Document:
        rows = self.conn.get(self.loc.side("docs"), ids=[doc_id], output_fields=["value", "version"])
        if not rows:
            raise KBError(f"no document {doc_id!r} in {self.location}")
        v = json.loads(rows[0]["value"])
        expr = f"doc_id == {quote(doc_id)} and version == {quote(rows[0]['version'])}"
        parts = sorted(query_all(self.conn, self.loc.side("text"), expr, ["key", "value"]), key=lambda r: r["key"])
        if len(parts) != v["pieces"]:
            raise KBError(f"the text of {doc_id!r} in {self.location} is being replaced; retry in a moment")
        return Document(doc_id=doc_id, path=v["path"], sha256=v["sha256"], meta=DocMeta(**v["meta"]),
                        text="".join(p["value"] for p in parts), page_starts=tuple(v["page_starts"]),
                        aliases=tuple(v["aliases"]))

    # -- passages ---------------------------------------------------------------------------
    def _remember(self, hits: list[dict[str, Any]]) -> None:
        with self._lock:
            for h in hits:
                cid = h["chunk_id"]
                self._memo[cid] = chunk_from_record(h["entity"]["record"] if "entity" in h else h["record"])
                self._memo.move_to_end(cid)
            while len(self._memo) > MEMO:
                self._memo.popitem(last=False)

    def chunks(self, chunk_ids: Sequence[str]) -> list[Chunk]:
        with self._lock:
            found = {c: self._memo[c] for c in chunk_ids if c in self._memo}
        missing = [c for c in dict.fromkeys(chunk_ids) if c not in found]
        if missing:
            rows = self.conn.get(self.loc.collection, ids=missing, output_fields=["record"])
            self._remember(rows)
            found.update((r["chunk_id"], chunk_from_record(r["record"])) for r in rows)
        unknown = [c for c in chunk_ids if c not in found]
        if unknown:
            raise KBError(f"no passage {unknown[0]!r} in {self.location}")
        return [found[c] for c in chunk_ids]

    def sentences(self, chunk_ids: Sequence[str]) -> tuple[list[Sentence], np.ndarray]:
        require_sentences(self.has_sentences, self.location)
        versions = passage_versions(self.conn, chunk_ids)  # a passage removed since a search found it: none
        with self._lock:
            unknown = [c for c in chunk_ids if c not in versions and c not in self._memo]
        if unknown:
            raise KBError(f"no passage {unknown[0]!r} in {self.location}")
        return read_sentences(self.conn, versions, self.manifest.embedder.dim, chunk_ids)

    def idf(self, terms: Sequence[str]) -> list[float]:
        _, df, n = self.term_stats([(t, 1.0) for t in terms])
        return [sparse.lucene_idf(df.get(t, 0), n) for t in terms]

    def neighbours(self, chunk_id: str, before: int = 1, after: int = 1) -> list[Chunk]:
        c = self.chunks([chunk_id])[0]
        expr = (f"doc_id == {quote(c.doc_id)} and ordinal >= {c.ordinal - before} "
                f"and ordinal <= {c.ordinal + after}")
        rows = self.conn.query(self.loc.collection, filter=expr, output_fields=["record"])
        return sorted((chunk_from_record(r["record"]) for r in rows), key=lambda x: x.ordinal)

    # -- retrieval --------------------------------------------------------------------------
    def term_stats(self, query: Sequence[tuple[str, float]]) -> tuple[dict[str, int], dict[str, int], int]:
        """Sparse ids and df of the query's terms and N, as stored now (N ≥ every df: df is committed first)."""
        terms = list(dict.fromkeys(t for t, _ in query))
        stats = meta_get(self.conn, "stats") or {"n": 0}
        rows = self.conn.get(self.loc.side("terms"), ids=terms, output_fields=["term_id", "df"]) if terms else []
        vocab = {r["key"]: int(r["term_id"]) for r in rows}
        df = {r["key"]: int(r["df"]) for r in rows}
        return vocab, df, max(int(stats["n"]), *df.values(), 0)

    def lexical(self, query: Sequence[tuple[str, float]], depth: int, filters: Filters) -> list[tuple[str, float]]:
        vocab, df, n = self.term_stats(query)
        qv = sparse.query_vector(query, vocab, df, n)
        if not qv:
            return []
        res = self.conn.search(self.loc.collection, data=[qv], anns_field="sparse", limit=depth,
                               filter=filter_expr(filters, self._heads), output_fields=HIT_FIELDS,
                               search_params={"metric_type": "IP", "params": {}})
        return self._ranked(res[0], positive=True)

    def dense(self, vector: np.ndarray, depth: int, filters: Filters) -> list[tuple[str, float]]:
        res = self.conn.search(self.loc.collection, data=[np.asarray(vector, np.float32).tolist()], limit=depth,
                               anns_field="dense", filter=filter_expr(filters, self._heads), output_fields=HIT_FIELDS,
                               search_params={"metric_type": "IP", "params": self.dense_search})
        return self._ranked(res[0], positive=False)

    def _ranked(self, hits: list[dict[str, Any]], positive: bool) -> list[tuple[str, float]]:
        """(chunk_id, score) best first, ties by (doc_id, ordinal) as the folder index's rows.

        Only passages of the documents known when this index was opened: a document that a
        concurrent ingest adds appears after re-opening (as a new folder generation does)."""
        hits = [h for h in hits if (not positive or h["distance"] > 0) and h["entity"]["doc_id"] in self._known]
        self._remember(hits)
        out = [(h["chunk_id"], float(h["distance"])) for h in hits]
        out.sort(key=lambda x: (-x[1], *chunk_order(x[0])))
        return out

    def coverage(self, query: Sequence[tuple[str, float]], chunk_id: str) -> float:
        vocab, df, n = self.term_stats(query)
        rows = self.conn.get(self.loc.collection, ids=[chunk_id], output_fields=["sparse"])
        if not rows:
            return 0.0  # replaced by a concurrent ingest since it was found: it matches nothing now
        keys = set(rows[0]["sparse"])
        have = [t for t, i in vocab.items() if i in keys]
        return sparse.coverage(query, df, n, have)

    def stats(self) -> dict[str, Any]:
        return {
            "index": self.location,
            "generation": self.generation,
            "documents": len(self.manifest.document_entries),
            "passages": self.manifest.passages,
            "embedder": self.manifest.embedder.id,
            "created": self.manifest.created,
            "format_version": self.manifest.format_version,
            "vector_index": (self.manifest.dense_index or {}).get("index_type"),
        }

    def close(self) -> None:
        self.conn.close()
