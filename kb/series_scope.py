"""Which organisation a figure belongs to: the part of a (compiled) report its table stands in.

A municipal report compiled from several boards' reports repeats its cover line ("Verksamhetsberättelse
2023", the report type and year on a line of their own) at the start of each part, and the parts hold
the same tables ("Personal 2019 … 2023") for different organisations. :func:`parts` splits a document
at those lines; a report without them is one part.

:func:`in_scope` keeps, of a series question's figures, those whose part names the question's other
words (the words its matched row labels do not hold: its organisation, "Leanlink",
"Kommunledningsförvaltningen", "Verksamhetsstöd och service") the most densely: a part's score is the
sum over those words of their weight (IDF) times their occurrences per 10 000 characters of the part,
plus the weight of each word of the document's own organisation (``DocMeta.organisation``); parts
scoring at least ``share`` of the best part's score are kept. When no part names any of the words,
the first part of each document (the report's own, whole-organisation part) is kept.

Pure functions but :func:`in_scope`, which reads the documents through the knowledge base.
"""
from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from .figures import Figure

if TYPE_CHECKING:  # pragma: no cover
    from .analyze import Analyzer
    from .search import KnowledgeBase

PER_CHARS = 10_000  # density unit: occurrences per this many characters


def cover_line(doc_type: str | None, year: int | None) -> re.Pattern[str] | None:
    """A line holding only the report's type and year ("Verksamhetsberättelse 2023"), any case."""
    if not doc_type or not year:
        return None
    return re.compile(rf"^[ \t]*{re.escape(doc_type)}[ \t]+{year}[ \t]*$", re.IGNORECASE | re.MULTILINE)


def parts(text: str, cover: re.Pattern[str] | None) -> list[tuple[int, int]]:
    """The parts of a document text: [0, first cover line), [cover line, next cover line), …, to the end.
    A text without a repeated cover line is one part."""
    starts = [m.start() for m in cover.finditer(text)] if cover else []
    starts = [s for s in starts if s > 0]
    bounds = [0] + starts + [len(text)]
    return [(a, b) for a, b in zip(bounds, bounds[1:]) if b > a]


def part_score(offsets: Mapping[str, list[int]], terms: Mapping[str, float], span: tuple[int, int]) -> float:
    """The weight of ``terms`` (term -> weight) in a part: occurrences per :data:`PER_CHARS` characters."""
    a, b = span
    length = max(b - a, 1)
    total = 0.0
    for t, w in terms.items():
        pos = offsets.get(t, [])
        total += w * (bisect.bisect_left(pos, b) - bisect.bisect_left(pos, a)) * PER_CHARS / length
    return total


def keep_in_scope(figures: Sequence[Figure], part_of: Callable[[Figure], tuple[str, int]],
                  score_of: Mapping[tuple[str, int], float], own: set[str], compiled: set[str],
                  share: float, floor: float = 0.0) -> list[Figure]:
    """The figures of the question's organisation (rules of the module docstring): ``own`` holds the
    documents whose organisation the question names, ``compiled`` those of several parts."""
    if own:
        figures = [f for f in figures if f.doc_id in own or f.doc_id in compiled]
    keys = {part_of(f) for f in figures}
    if any(score_of.get(k, 0.0) > 0 for k in keys):
        top = max(score_of.get(k, 0.0) for k in keys)
        keys = {k for k in keys if score_of.get(k, 0.0) > 0 and (k[0] in own or score_of[k] >= floor * top)}
        best: dict[str, float] = {}
        for d, i in keys:
            best[d] = max(best.get(d, 0.0), score_of[(d, i)])
        keys = {(d, i) for d, i in keys if score_of[(d, i)] >= share * best[d] - 1e-9}
    else:
        first: dict[str, int] = {}
        for d, i in keys:
            first[d] = min(first.get(d, i), i)
        keys = set(first.items())
    return [f for f in figures if part_of(f) in keys]


def in_scope(kb: KnowledgeBase, figures: Sequence[Figure], rest: Mapping[str, float], share: float,
             offsets_of: Callable[[str], Mapping[str, list[int]]], floor: float = 0.0) -> list[Figure]:
    """The step ``SeriesParams.scope_share`` of :func:`kb.series.series` (see the module docstring);
    ``rest``: the question's words its matched labels do not hold, with their weights."""
    spans: dict[str, list[tuple[int, int]]] = {}
    score_of: dict[tuple[str, int], float] = {}
    own: set[str] = set()
    for doc_id in dict.fromkeys(f.doc_id for f in figures):
        doc = kb.document(doc_id)
        spans[doc_id] = parts(doc.text, cover_line(doc.meta.doc_type, doc.meta.year))
        if org_terms(kb.analyzer, doc.meta.organisation or "") & set(rest):
            own.add(doc_id)
        offs = offsets_of(doc_id)
        for i, span in enumerate(spans[doc_id]):
            score_of[(doc_id, i)] = part_score(offs, rest, span)

    def part_of(f: Figure) -> tuple[str, int]:
        starts = [a for a, _ in spans[f.doc_id]]
        return f.doc_id, max(bisect.bisect_right(starts, f.start) - 1, 0)

    compiled = {d for d, s in spans.items() if len(s) > 1}
    return keep_in_scope(figures, part_of, score_of, own, compiled, share, floor)


def org_terms(analyzer: Analyzer, name: str) -> set[str]:
    """The analysed terms of an organisation's name (its words and their compound parts)."""
    out: set[str] = set()
    for w in re.findall(r"[^\W\d_]+", name.lower()):
        if len(w) > 2 and not analyzer.is_stopword(w):
            out.add(analyzer.term(w))
            out.update(analyzer.term(p) for p in analyzer.split_compound(w))
    return out
