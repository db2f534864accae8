"""Hybrid search over a built index: BM25 + dense retrieval, fused, with filters and a year rule.

:func:`open_index` loads one generation (see :mod:`kb.store`) into a :class:`KnowledgeBase`, which
only holds loaded state and is safe to share between threads (searching mutates nothing).

Query pipeline (:meth:`KnowledgeBase.search`):

1. **Years named in the query** (four-digit 1990–2049) are parsed (:func:`query_years`).
2. **Candidates**: the ``depth`` best passages from BM25 (weighted Swedish query terms, see
   :mod:`kb.analyze`) and from the dense index, both restricted by the hard filters.
3. **Fusion**: weighted reciprocal rank fusion (:func:`kb.fuse.rrf`). When BM25's best passage
   matches less than half of the query's IDF mass (a paraphrase whose key words the reports do
   not use), BM25's weight shrinks in proportion, so the dense ranking decides.
4. **Year rule** (soft, never hides anything): when the query names years and no year filter is
   set, a passage from a report about one of those years has its fused score multiplied by
   ``1 + year_boost``; a passage of another report that itself mentions the year gets half that.
   Cross-year questions ("2019 och 2023") name several years and favour all of them.
5. **Near-duplicates**: a passage whose text is nearly identical to a better-ranked one is folded
   into it (listed in ``also_at``) so repeated statements do not crowd out other evidence.
"""
from __future__ import annotations

import json
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import bm25, fuse, rowstore, store, vectors
from .analyze import Analyzer, AnalyzerConfig, fold
from .embed import Embedder, get_embedder
from .errors import IndexCorruptError, KBError
from .records import Chunk, Document, Filters, Hit, QueryInfo, SearchResult

_QUERY_YEAR = re.compile(r"(?<!\d)(?<!\d[,.])(199\d|20[0-4]\d)(?!\d|[,.]\d)")
MODES = ("hybrid", "bm25", "dense")


@dataclass(frozen=True)
class SearchParams:
    """Query-time parameters (defaults documented in the README's ablation)."""

    depth: int = 100
    rrf_k: float = 30.0
    bm25_weight: float = 1.0
    dense_weight: float = 1.0
    # BM25's fusion weight is scaled by coverage / bm25_min_coverage (at most 1), where coverage
    # is the share of the query's IDF mass its best passage matches: when BM25 only matches the
    # generic words of a paraphrase, the dense ranking decides (0 turns this off)
    bm25_min_coverage: float = 0.5
    year_boost: float = 0.5
    dedupe: bool = True
    dedupe_threshold: float = 0.8
    max_text_chars: int = 1500


def query_years(text: str) -> tuple[int, ...]:
    """Four-digit years (1990–2049) named in a query, in order of appearance, without repeats.

    Years inside ranges ("2024-2025") count; numbers with decimals or longer digit runs do not.
    """
    return tuple(dict.fromkeys(int(y) for y in _QUERY_YEAR.findall(text)))


def format_citation(doc: Document, chunk: Chunk) -> str:
    m = doc.meta
    parts = [m.title]
    if m.organisation and m.organisation.lower() not in m.title.lower():
        parts.append(m.organisation)
    if m.year is not None and str(m.year) not in m.title:
        parts.append(str(m.year))
    if chunk.page is not None:
        parts.append(f"s. {chunk.page}" if chunk.page_end in (None, chunk.page) else f"s. {chunk.page}–{chunk.page_end}")
    elif chunk.line_start is not None:
        parts.append(f"rad {chunk.line_start}–{chunk.line_end}")
    if chunk.section:
        parts.append(f"avsnitt ”{chunk.section}”")
    return ", ".join(parts)


def unknown_filter_values(filters: Filters, facets: dict[str, list]) -> tuple[str, ...]:
    """One note per filter value that no document in the index has, listing the known values
    (a search restricted by it finds nothing, and the note says why)."""
    known = {
        "years": facets["years"], "organisations": facets["organisations"],
        "doc_types": facets["doc_types"], "doc_ids": [d for d, _ in facets["documents"]],
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


def _shingles(text: str, n: int = 5) -> set[str]:
    s = fold(text)
    return {s[i : i + n] for i in range(0, max(1, len(s) - n + 1))}


def near_duplicate(a: set[str], b: set[str], threshold: float) -> bool:
    if not a or not b:
        return False
    inter = len(a & b)
    return inter / min(len(a), len(b)) >= threshold


class KnowledgeBase:
    """A loaded index generation. Construct with :func:`open_index`."""

    def __init__(self, root: Path, gen: Path, manifest: dict[str, Any], embedder: Embedder | None = None) -> None:
        self.root = root
        self.generation = gen.name
        self.manifest = manifest
        cfg = manifest["config"]
        # small indexes load eagerly as before; large ones read passages/documents on demand
        n_rows = int(manifest.get("counts", {}).get("passages", 0))
        self.docs, self.chunks, heads, lazy = rowstore.open_rows(gen, manifest, n_rows)
        lexicon = json.loads((gen / "lexicon.json").read_text(encoding="utf-8"))
        self.analyzer = Analyzer(AnalyzerConfig.from_json(cfg["analyzer"]), lexicon)
        self.bm25 = bm25.load(gen / "bm25", mmap=True)
        self.vindex, ids = vectors.load(gen)
        if len(ids) != len(self.chunks) or self.bm25.n_docs != len(self.chunks):
            raise IndexCorruptError(f"index at {root} is inconsistent (row counts differ); run `kb ingest`")
        self._ids = ids  # passage ids, row i = chunks[i].chunk_id
        self._embedder = embedder
        self._embedder_lock = threading.Lock()
        self.embedder_spec = manifest["embedder"]["spec"]
        # per-passage metadata arrays for filtering and the year rule
        n = len(self.chunks)
        self._doc_list = heads  # doc_id + meta of each document, in index order
        self._doc_pos = {d.doc_id: i for i, d in enumerate(heads)}
        if lazy:
            self._chunk_doc = rowstore.chunk_doc_rows(gen, ids, self._doc_pos)
        else:
            self._chunk_doc = np.array([self._doc_pos[c.doc_id] for c in self.chunks], dtype=np.int32)
        self._doc_year = np.array([d.meta.year if d.meta.year is not None else -1 for d in heads], dtype=np.int32)
        self._chunk_year = self._doc_year[self._chunk_doc] if n else np.zeros(0, np.int32)
        self._shingle_memo: dict[int, set[str]] = {}

    # -- state ------------------------------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        with self._embedder_lock:
            if self._embedder is None:
                emb = get_embedder(self.embedder_spec)
                store.check_embedder(self.manifest, emb.model_id, self.root)
                self._embedder = emb
            return self._embedder

    def documents(self) -> list[Document]:
        return [self.docs[d.doc_id] for d in self._doc_list]

    def facets(self) -> dict[str, list]:
        """Values available for filters: years, organisations, report types, documents."""
        docs = self._doc_list
        return {
            "years": sorted({d.meta.year for d in docs if d.meta.year is not None}),
            "organisations": sorted({d.meta.organisation for d in docs if d.meta.organisation}),
            "doc_types": sorted({d.meta.doc_type for d in docs if d.meta.doc_type}),
            "documents": [(d.doc_id, d.meta.title) for d in docs],
        }

    def neighbours(self, chunk_id: str, before: int = 1, after: int = 1) -> list[Chunk]:
        """The passage and its neighbours in the same document (for "show context")."""
        row = self._row_of(chunk_id)
        c = self.chunks[row]
        out = []
        for r in range(row - before, row + after + 1):
            if 0 <= r < len(self.chunks) and self.chunks[r].doc_id == c.doc_id:
                out.append(self.chunks[r])
        return out

    def _row_of(self, chunk_id: str) -> int:
        if not hasattr(self, "_rows"):
            self._rows = {c: i for i, c in enumerate(self._ids)}
        try:
            return self._rows[chunk_id]
        except KeyError:
            raise KBError(f"no passage {chunk_id!r} in this index") from None

    # -- filtering --------------------------------------------------------------------------
    def _mask(self, filters: Filters) -> np.ndarray | None:
        if filters.is_empty():
            return None
        ok_docs = np.ones(len(self._doc_list), dtype=bool)
        for i, d in enumerate(self._doc_list):
            m = d.meta
            if filters.years and m.year not in filters.years:
                ok_docs[i] = False
            elif filters.organisations and m.organisation not in filters.organisations:
                ok_docs[i] = False
            elif filters.doc_types and m.doc_type not in filters.doc_types:
                ok_docs[i] = False
            elif filters.doc_ids and d.doc_id not in filters.doc_ids:
                ok_docs[i] = False
        return ok_docs[self._chunk_doc]

    # -- search -----------------------------------------------------------------------------
    def interpret(self, query: str) -> QueryInfo:
        terms = self.analyzer.query_terms(query)
        words = self.analyzer.query_words(query)
        stems = [self.analyzer.term(w) for w in words]
        return QueryInfo(
            text=query,
            years=query_years(query),
            terms=tuple(t for t, _ in terms),
            expansions=tuple(self.analyzer.expansions(words, stems)),
            weights=tuple(w for _, w in terms),
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
        mask = self._mask(filters)
        depth = max(params.depth, k * 3)
        rankings: list[list[int]] = []
        weights: list[float] = []
        if mode in ("hybrid", "bm25"):
            s = bm25.scores(self.bm25, zip(info.terms, info.weights))
            rows, _ = bm25.top_k(s, depth, mask)
            rankings.append(rows.tolist())
            w = params.bm25_weight
            if mode == "hybrid" and params.bm25_min_coverage > 0 and len(rows):
                cov = bm25.coverage(self.bm25, zip(info.terms, info.weights), int(rows[0]))
                w *= min(1.0, cov / params.bm25_min_coverage)
            weights.append(w)
        if mode in ("hybrid", "dense") and query.strip():
            qv = self.embedder.embed_query(query)
            allowed = None if mask is None else np.flatnonzero(mask)
            rows, _ = vectors.search(self.vindex, qv, depth, allowed)
            rankings.append(rows.tolist())
            weights.append(params.dense_weight)
        fused = fuse.rrf(rankings, k=params.rrf_k, weights=weights)
        years = info.years if (use_query_years and not filters.years) else ()
        if years and params.year_boost:
            fused = self._apply_year_rule(fused, years, params.year_boost)
        ordered = fuse.ranked(fused)
        return SearchResult(query=query, hits=tuple(self._hits(ordered, k, params)), info=info, notes=notes)

    def _apply_year_rule(self, fused: dict[int, float], years: Sequence[int], boost: float) -> dict[int, float]:
        out = {}
        year_strs = tuple(str(y) for y in years)
        for row, score in fused.items():
            if self._chunk_year[row] in years:
                score *= 1 + boost
            elif any(y in self.chunks[row].text for y in year_strs):
                score *= 1 + boost / 2
            out[row] = score
        return out

    def _shingles(self, row: int) -> set[str]:
        s = self._shingle_memo.get(row)
        if s is None:
            s = _shingles(self.chunks[row].text)
            if len(self._shingle_memo) < 100_000:
                self._shingle_memo[row] = s
        return s

    def _hits(self, ordered: list[tuple[int, float]], k: int, params: SearchParams) -> list[Hit]:
        """The first k passages of the fused order, near-duplicates folded into the better one."""
        kept: list[tuple[int, float, list[str]]] = []
        for row, score in ordered:
            if len(kept) >= k:
                break
            if params.dedupe:
                sh = self._shingles(row)
                dup_of = next(
                    (i for i, (r, _, _) in enumerate(kept) if near_duplicate(sh, self._shingles(r), params.dedupe_threshold)),
                    None,
                )
                if dup_of is not None:
                    c = self.chunks[row]
                    kept[dup_of][2].append(format_citation(self.docs[c.doc_id], c))
                    continue
            kept.append((row, score, []))
        return [self.make_hit(rank, row, score, params, tuple(also)) for rank, (row, score, also) in enumerate(kept, 1)]

    def make_hit(self, rank: int, row: int, score: float, params: SearchParams = SearchParams(), also_at=()) -> Hit:
        c = self.chunks[row]
        d = self.docs[c.doc_id]
        text = c.text if len(c.text) <= params.max_text_chars else c.text[: params.max_text_chars].rsplit(" ", 1)[0] + " …"
        m = d.meta
        return Hit(
            rank=rank, score=round(float(score), 6), doc_id=d.doc_id, title=m.title, year=m.year,
            organisation=m.organisation, doc_type=m.doc_type, page=c.page, line_start=c.line_start,
            line_end=c.line_end, section=c.section, start=c.start, end=c.end, text=text,
            citation=format_citation(d, c), chunk_id=c.chunk_id, also_at=tuple(also_at),
        )

    def stats(self) -> dict[str, Any]:
        return {
            "index": str(self.root),
            "generation": self.generation,
            "documents": len(self.docs),
            "passages": len(self.chunks),
            "embedder": self.manifest["embedder"]["id"],
            "created": self.manifest.get("created"),
            "format_version": self.manifest.get("format_version"),
            "vector_index": self.manifest.get("vectors", {}).get("kind"),
        }


def open_index(root: str | Path | None = None, embedder: Embedder | None = None, verify: bool = True) -> KnowledgeBase:
    """Open the live generation of an index folder (default: ``KB_INDEX`` or ``index/``)."""
    root = Path(root) if root is not None else store.default_index_dir()

    def load(gen: Path, manifest: dict[str, Any]) -> KnowledgeBase:
        if embedder is not None:
            store.check_embedder(manifest, embedder.model_id, root)
        try:
            return KnowledgeBase(root, gen, manifest, embedder)
        except FileNotFoundError:
            raise  # the generation vanished while loading: store.load_live retries with CURRENT
        except (OSError, ValueError, KeyError, RuntimeError, json.JSONDecodeError) as e:  # RuntimeError: faiss
            raise IndexCorruptError(f"cannot load the index at {root} ({type(e).__name__}: {e}); run `kb ingest`") from None

    # one generation, re-resolved if a rebuild removes it while it is being loaded (kb.store.load_live)
    return store.load_live(root, load, verify=verify)
