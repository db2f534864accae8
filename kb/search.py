"""Hybrid search over a loaded index: BM25 + dense retrieval, fused, with filters and a year rule.

:func:`open_folder` loads the live generation of an index folder (:class:`kb.local.LocalIndex`)
into a :class:`KnowledgeBase` (:func:`kb.open_index` opens a folder or a Milvus collection), which
holds that index and the embedder and is safe to share between threads (searching mutates nothing
but memo tables).

Query pipeline (:meth:`KnowledgeBase.search`), each step a pure function elsewhere:

1. **Interpretation** (:meth:`KnowledgeBase.interpret`): years named in the question
   (:func:`kb.text.query_years`) and weighted Swedish query terms (:mod:`kb.analyze`). A question
   longer than :data:`MAX_QUERY_CHARS` is cut there (the rest is ignored, ``info.truncated``).
2. **Candidates**: the ``depth`` best passages from BM25 and from the dense index, both
   restricted by the hard filters (:class:`kb.backend.PassageIndex`).
3. **Fusion**: weighted reciprocal rank fusion (:func:`kb.fuse.rrf`), BM25's weight scaled by its
   coverage of the query (:func:`kb.rules.coverage_weight`).
4. **Year rule** (:func:`kb.rules.year_rule`) when the question names years and no year filter is set.
5. **Near-duplicates** folded into the better-ranked passage (:func:`kb.rules.fold_duplicates`),
   and typed hits with citations made (:func:`kb.cite.make_hit`).
"""
from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import fuse, rules, store
from .backend import PassageIndex
from .cite import format_citation, make_hit
from .embed import Embedder, get_embedder
from .errors import IndexCorruptError, KBError
from .figures import Figure, document_figures
from .local import LocalIndex
from .records import Chunk, Document, Facets, Filters, Hit, QueryInfo, SearchResult, chunk_order
from .series import figure_passages
from .text import query_years

MODES = ("hybrid", "bm25", "dense")
# Questions are cut to this many characters: the embedder reads at most 512 tokens anyway, and an
# unbounded question costs seconds of query encoding.
MAX_QUERY_CHARS = 1000


@dataclass(frozen=True)
class SearchParams:
    """Query-time parameters (defaults measured in docs/ablation.md)."""

    depth: int = 100
    rrf_k: float = 30.0
    bm25_weight: float = 1.0
    dense_weight: float = 1.0
    bm25_min_coverage: float = 0.5  # see kb.rules.coverage_weight (0 turns it off)
    year_boost: float = 0.5
    year_quota: int = 5  # with several years named, each one's best passage within this many (0: off)
    figure_quota: int = 5  # a figure over the years: the passages holding its rows within this many (0: off)
    dedupe: bool = True
    dedupe_threshold: float = 0.8
    max_text_chars: int = 1500


def unknown_filter_values(filters: Filters, facets: Facets) -> tuple[str, ...]:
    """One note per filter value that no document in the index has, listing the known values
    (a search restricted by it finds nothing, and the note says why)."""
    known = {
        "years": facets.years, "organisations": facets.organisations,
        "doc_types": facets.doc_types, "doc_ids": [d for d, _ in facets.documents],
    }
    words = {"years": "year", "organisations": "organisation", "doc_types": "report type", "doc_ids": "document id"}
    notes = []
    for name, values in known.items():
        have = set(values)
        for v in getattr(filters, name):
            if v not in have:
                shown = ", ".join(map(str, values[:20])) + (f" … ({len(values) - 20} more)" if len(values) > 20 else "")
                notes.append(f"no document in this index has {words[name]} {v!r:.80}; known: {shown or 'none'}")
    return tuple(notes)


class RecentMemo:
    """The last ``size`` computed values by key (thread-safe; a value is computed outside the lock)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._d: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, compute: Callable[[], Any]) -> Any:
        with self._lock:
            v = self._d.get(key)
        if v is None:
            v = compute()
            with self._lock:
                self._d[key] = v
                while len(self._d) > self.size:
                    self._d.popitem(last=False)
        return v


class KnowledgeBase:
    """A loaded index and its embedder. Construct with :func:`kb.open_index`."""

    def __init__(self, index: PassageIndex, embedder: Embedder | None = None) -> None:
        self.index = index
        self.manifest = index.manifest
        self.generation = index.generation
        self.analyzer = index.analyzer
        self.embedder_spec = index.manifest.embedder.spec
        self._embedder = embedder
        self._embedder_lock = threading.Lock()
        self._heads = {h.doc_id: h for h in index.heads()}
        self._shingles_of = RecentMemo(100_000)  # passage id -> shingles, for duplicate folding
        self._qvecs = RecentMemo(64)
        self._figures = RecentMemo(10_000)  # doc id -> its figures (kb.figures), read on first use

    # -- state ------------------------------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        """The index's own embedder, loaded on first use."""
        with self._embedder_lock:
            if self._embedder is None:
                emb = get_embedder(self.embedder_spec)
                store.check_embedder(self.manifest, emb.model_id, self.index.location)
                self._embedder = emb
            return self._embedder

    def query_vector(self, text: str) -> np.ndarray:
        """The embedder's vector of a question (the last few are memoised: answering reuses the search's)."""
        return self._qvecs.get(text, lambda: np.asarray(self.embedder.embed_query(text), dtype=np.float32))

    def documents(self) -> list[Document]:
        return [self.index.document(h.doc_id) for h in self.index.heads()]

    def document(self, doc_id: str) -> Document:
        return self.index.document(doc_id)

    def figures(self, doc_id: str, sentences: bool = False) -> list[Figure]:
        """A document's figures for a year (tables; with ``sentences`` also sentences: kb.figures), memoised."""
        return self._figures.get(f"{doc_id}\0{sentences}", lambda: figures_of(self.index.document(doc_id), sentences))

    def facets(self) -> Facets:
        """Values available for filters: years, organisations, report types, documents."""
        heads = self.index.heads()
        return Facets(
            years=tuple(sorted({d.meta.year for d in heads if d.meta.year is not None})),
            organisations=tuple(sorted({d.meta.organisation for d in heads if d.meta.organisation})),
            doc_types=tuple(sorted({d.meta.doc_type for d in heads if d.meta.doc_type})),
            documents=tuple((d.doc_id, d.meta.title) for d in heads),
        )

    def neighbours(self, chunk_id: str, before: int = 1, after: int = 1) -> list[Chunk]:
        """The passage and its neighbours in the same document (for "show context")."""
        return self.index.neighbours(chunk_id, before, after)

    def stats(self) -> dict[str, Any]:
        m = self.manifest
        return {
            "index": self.index.location,
            "generation": self.generation,
            "documents": len(self._heads),
            "passages": m.passages,
            "embedder": m.embedder.id,
            "created": m.created,
            "format_version": m.format_version,
            "vector_index": (m.vectors or {}).get("kind"),
        }

    # -- search -----------------------------------------------------------------------------
    def interpret(self, query: str) -> QueryInfo:
        """How a question is understood: its years and its weighted analysed terms."""
        text = query[:MAX_QUERY_CHARS]
        terms = self.analyzer.query_terms(text)
        words = self.analyzer.query_words(text)
        stems = [self.analyzer.term(w) for w in words]
        return QueryInfo(
            text=text,
            years=query_years(text),
            terms=tuple(terms),
            expansions=tuple(self.analyzer.expansions(words, stems)),
            truncated=len(query) > MAX_QUERY_CHARS,
        )

    def search(
        self,
        query: str,
        k: int = 10,
        filters: Filters | None = None,
        mode: str = "hybrid",
        params: SearchParams = SearchParams(),
        use_query_years: bool = True,
    ) -> SearchResult:
        """The k best passages for a query, as typed hits with citations."""
        if mode not in MODES:
            raise KBError(f"unknown search mode {mode!r}; use one of {', '.join(MODES)}")
        if k < 1:
            raise KBError("k must be at least 1")
        filters = filters or Filters()
        notes = unknown_filter_values(filters, self.facets()) if not filters.is_empty() else ()
        info = self.interpret(query)
        if info.truncated:
            notes = (*notes, f"the question is longer than {MAX_QUERY_CHARS} characters; only the first "
                             f"{MAX_QUERY_CHARS} were used")
        fused = self._fused(info, filters, mode, params, max(params.depth, k * 3))
        years = info.years if (use_query_years and not filters.years) else ()
        chunks = {c.chunk_id: c for c in self.index.chunks(list(fused))}
        if years and params.year_boost:
            year_of = {cid: self._heads[c.doc_id].meta.year for cid, c in chunks.items()}
            fused = rules.year_rule(fused, years, params.year_boost, year_of,
                                    {cid: c.text for cid, c in chunks.items()})
        ordered = fuse.ranked(fused, order=chunk_order)
        ordered = quotas(self, ordered, years, chunks, info.text, params)
        if params.dedupe:
            kept = rules.fold_duplicates(ordered, k, lambda cid: self._shingles(chunks[cid]), params.dedupe_threshold)
        else:
            kept = [(cid, score, []) for cid, score in ordered[:k]]
        hits = [
            self._hit(rank, chunks[cid], score, [chunks[d] for d in dups], params)
            for rank, (cid, score, dups) in enumerate(kept, 1)
        ]
        return SearchResult(query=query, hits=tuple(hits), info=info, notes=notes)

    def _fused(self, info: QueryInfo, filters: Filters, mode: str, params: SearchParams,
               depth: int) -> dict[str, float]:
        """Fused scores of the candidates of the retrievers that ``mode`` uses."""
        rankings: list[list[str]] = []
        weights: list[float] = []
        query = list(info.terms)
        if mode in ("hybrid", "bm25"):
            found = self.index.lexical(query, depth, filters)
            rankings.append([cid for cid, _ in found])
            w = params.bm25_weight
            if mode == "hybrid" and found:
                w = rules.coverage_weight(w, self.index.coverage(query, found[0][0]), params.bm25_min_coverage)
            weights.append(w)
        if mode in ("hybrid", "dense") and info.text.strip():
            found = self.index.dense(self.query_vector(info.text), depth, filters)
            rankings.append([cid for cid, _ in found])
            weights.append(params.dense_weight)
        return fuse.rrf(rankings, k=params.rrf_k, weights=weights)

    def _shingles(self, chunk: Chunk) -> frozenset[str]:
        return self._shingles_of.get(chunk.chunk_id, lambda: rules.shingles(chunk.text))

    def _hit(self, rank: int, chunk: Chunk, score: float, folded: Sequence[Chunk], params: SearchParams) -> Hit:
        head = self._heads[chunk.doc_id]
        also_at = [format_citation(self._heads[c.doc_id].meta, c) for c in folded]
        return make_hit(rank, score, chunk, head.doc_id, head.meta, params.max_text_chars, also_at)


def quotas(kb: KnowledgeBase, ordered: list[tuple[str, float]], years: Sequence[int], chunks: dict[str, Chunk],
           question: str, params: SearchParams) -> list[tuple[str, float]]:
    """The year quota (several years named) and the figure quota (a figure over the years) applied
    to the ordered candidates (:func:`kb.rules.year_quota`, :func:`kb.rules.promote`)."""
    if len(years) >= 2 and params.year_quota:
        heads = {h.doc_id: h for h in kb.index.heads()}
        ordered = rules.year_quota(ordered, years, lambda cid: rules.evidence_years(
            heads[chunks[cid].doc_id].meta.year, chunks[cid].text), params.year_quota)
    if params.figure_quota:
        wanted = figure_passages(kb, question, [cid for cid, _ in ordered], chunks)
        ordered = rules.promote(ordered, wanted, params.figure_quota)
    return ordered


def figures_of(doc: Document, sentences: bool) -> list[Figure]:
    """The figures of one document (:func:`kb.figures.document_figures`)."""
    return document_figures(doc.doc_id, doc.text, doc.meta.year, sentences)


def open_folder(root: str | Path | None = None, embedder: Embedder | None = None, verify: bool = True) -> KnowledgeBase:
    """Open the live generation of an index folder (default: ``KB_INDEX`` or ``index/``); the folder
    implementation behind :func:`kb.open_index`."""
    root = Path(root) if root is not None else store.default_index_dir()

    def load(gen: Path, manifest: store.Manifest) -> KnowledgeBase:
        if embedder is not None:
            store.check_embedder(manifest, embedder.model_id, root)
        try:
            return KnowledgeBase(LocalIndex(root, gen, manifest), embedder)
        except FileNotFoundError:
            raise  # the generation vanished while loading: store.load_live retries with CURRENT
        except (OSError, ValueError, KeyError, RuntimeError, json.JSONDecodeError) as e:  # RuntimeError: faiss
            raise IndexCorruptError(f"cannot load the index at {root} ({type(e).__name__}: {e}); "
                                    "run `kb ingest`") from None

    # one generation, re-resolved if a rebuild removes it while it is being loaded (kb.store.load_live)
    return store.load_live(root, load, verify=verify)

