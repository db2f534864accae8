"""What the web UI shows for one question, gathered before anything is drawn.

:func:`page_data` runs the search and the quoted answer, the year-wide search of the "Över åren"
tab, and looks up each hit's neighbouring passages and PDF file; ``app.py`` then only renders the
:class:`PageData` record it gets (no look-ups while drawing).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .answer.extract import Answer, QuestionError, ask
from .records import Chunk, Filters, Hit, QueryInfo
from .search import KnowledgeBase
from .series import SeriesEntry, series
from .ui_helpers import matching_terms

YEARS_K = 30  # passages of the cross-year view


@dataclass(frozen=True)
class HitView:
    """One hit as shown: the hit, its quoted sentences (document offsets and where they are), the
    passages around it as (label, passage) and the report's PDF to download (None: not a PDF)."""

    hit: Hit
    quotes: tuple[tuple[int, int, str], ...]
    context: tuple[tuple[str, Chunk], ...]
    pdf: Path | None


@dataclass(frozen=True)
class PageData:
    """Everything the page shows for a question. ``problem`` names a question kb cannot take
    (:class:`kb.answer.extract.QuestionError` reasons); then there are no hits."""

    query: str
    filters: Filters
    k: int
    info: QueryInfo
    use_query_years: bool
    missing_years: tuple[int, ...]  # years named in the question with no report in the index
    problem: str | None = None
    answer: Answer | None = None
    hits: tuple[HitView, ...] = ()
    years: tuple[Hit, ...] = ()  # the cross-year view's passages (no year preferred)
    series: tuple[SeriesEntry, ...] = ()  # a figure over the years, when the question asks for one (kb.series)
    terms: frozenset[str] = frozenset()
    seconds: float = 0.0  # search and answer
    analyzer: Any = field(default=None, repr=False, compare=False)  # the index's analyzer, to mark query words
    index_version: str = ""
    index_created: str | None = None


def hit_view(kbase: KnowledgeBase, hit: Hit, answer: Answer) -> HitView:
    """A hit with its quotes, neighbours (before, itself, after) and PDF file."""
    quotes = tuple((s.start, s.end, s.where) for s in answer.sentences if s.hit_rank == hit.rank)
    context = []
    for c in kbase.neighbours(hit.chunk_id, before=1, after=1):
        label = "Denna träff" if c.chunk_id == hit.chunk_id else ("Före" if c.start < hit.start else "Efter")
        context.append((label, c))
    path = Path(kbase.document(hit.doc_id).path)
    pdf = path if path.suffix.lower() == ".pdf" and path.is_file() else None
    return HitView(hit, quotes, tuple(context), pdf)


def page_data(kbase: KnowledgeBase, query: str, filters: Filters, k: int, use_query_years: bool = True) -> PageData:
    """Search, answer and look up everything the page for ``query`` shows."""
    info = kbase.interpret(query)
    known = set(kbase.facets().years)
    missing = tuple(y for y in info.years if y not in known)
    stats = kbase.stats()
    base = PageData(query, filters, k, info, use_query_years, missing, analyzer=kbase.analyzer,
                    index_version=str(stats["generation"]), index_created=stats.get("created"))
    t0 = time.perf_counter()
    try:
        result, ans = ask(kbase, query, k=k, filters=filters, use_query_years=use_query_years)
    except QuestionError as e:
        return replace(base, problem=e.reason)
    seconds = time.perf_counter() - t0
    hits = tuple(hit_view(kbase, h, ans) for h in result.hits)
    wide = kbase.search(query, k=YEARS_K, filters=filters, use_query_years=False).hits if hits else ()
    figures = tuple(series(kbase, query, filters=filters)) if hits else ()
    return replace(base, answer=ans, hits=hits, years=tuple(wide), terms=matching_terms(kbase.analyzer, query),
                   seconds=seconds, series=figures)
