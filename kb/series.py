"""Series answers: a figure over the years, one entry per (year, kind, source), each with the text it
comes from ("Hur har sjukfrånvaron utvecklats 2021–2023?").

:func:`series` answers a question with a list of :class:`SeriesEntry` (empty when the question is
not about a figure over years, :func:`is_series_question`):

1. **Figures** of a document (:func:`document_figures`, memoised per document): every mapped cell
   of a table (:func:`kb.tables.find_tables`) that has a year and is no Avvikelse, with the table's
   header and the row as its quote, and the figures stated in sentences (:mod:`kb.figures`).
2. **Where**: the documents of the question's ``depth`` best passages, searched once more with
   the question (so the organisation and topic words of the question pick the reports).
3. **Which metric**: a row label (or sentence) matches when at least half of its own analysed
   terms (stems and compound parts, :class:`kb.analyze.Analyzer`) are terms of the question; the
   best-matching label terms set the metric, and every figure whose label holds them is kept. A
   report holding the metric in several tables is read from the tables that stand in its best
   passages, when some do.
4. **Years**: when the question names years, figures outside the first to the last named year are
   left out. Two reports giving different values for one year are both shown.

Nothing here reads a gold file; everything but :func:`series` is a pure function.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .cite import location
from .figures import Figure
from .text import query_years, tokenize

if TYPE_CHECKING:  # pragma: no cover
    from .analyze import Analyzer
    from .search import KnowledgeBase

# words that ask for a development over time (a question naming two or more years asks too)
SERIES_CUES = ("utvecklats", "utvecklades", "utvecklingen", "över åren", "år för år", "per år", "jämfört med",
               "förändrats", "förändrades", "sett ut", "genom åren", "över tid", "årsvis")
# words of a series question that say how it is asked, not what it is about
CUE_WORDS = frozenset(
    ["hur", "har", "utvecklats", "utvecklades", "utveckling", "utvecklingen", "över", "åren", "år", "året", "för", "per", "jämfört", "med", "förändrats", "förändrades", "sett", "ut", "genom", "tid", "årsvis", "vilket", "vilken", "vilka", "hade", "var", "varit", "från", "till", "och", "mellan", "många", "mycket", "stort", "stor", "antal"])
MIN_LABEL_SHARE = 0.5
DEPTH = 20


@dataclass(frozen=True)
class SeriesEntry:
    metric: str
    year: int
    value: str
    number: float
    unit: str | None
    kind: str
    quote: str
    doc_id: str
    start: int
    end: int
    citation: str

    def to_json(self) -> dict:
        return {"metric": self.metric, "year": self.year, "value": self.value, "number": self.number,
                "unit": self.unit, "kind": self.kind, "quote": self.quote, "doc_id": self.doc_id,
                "start": self.start, "end": self.end, "citation": self.citation}


def is_series_question(question: str) -> bool:
    """A question about a figure over several years: two or more years, or a cue such as "utvecklats"."""
    low = " ".join(tokenize(question))
    return len(query_years(question)) >= 2 or any(f" {c} " in f" {low} " for c in SERIES_CUES)


def terms_of(analyzer: Analyzer, text: str, drop: frozenset[str] = frozenset()) -> set[str]:
    """Analysed terms of a text (stems and compound parts), without stop words, numbers and ``drop``."""
    out: set[str] = set()
    for w in _words(analyzer, text, drop):
        out.add(analyzer.term(w))
        out.update(analyzer.term(p) for p in analyzer.split_compound(w))
    return out


def _words(analyzer: Analyzer, text: str, drop: frozenset[str]) -> list[str]:
    return [w for w in tokenize(text)
            if w not in drop and not w[0].isdigit() and not analyzer.is_stopword(w) and len(w) >= 2]


STATUS_WORDS = frozenset({"ja", "nej", "delvis", "uppnått", "uppnås", "varav", "kr", "tkr", "mnkr"})


def label_match(analyzer: Analyzer, question_terms: set[str], label: str) -> tuple[frozenset[str], float] | None:
    """The label's words the question holds (as terms) and their share of the label's words, when
    at least :data:`MIN_LABEL_SHARE`. A label word matches by its term, or by all its compound
    parts ("tillsvidareanställda" and "tillsvidare anställda"); status words of indicator tables
    ("Ja", "Delvis") do not count."""
    words = _words(analyzer, label, STATUS_WORDS)
    if not words:
        return None
    matched = set()
    for w in words:
        t = analyzer.term(w)
        parts = [analyzer.term(p) for p in analyzer.split_compound(w)]
        if t in question_terms or (parts and all(p in question_terms for p in parts)):
            matched.add(t)
    share = sum(1 for w in words if analyzer.term(w) in matched) / len(words)
    return (frozenset(matched), share) if matched and share >= MIN_LABEL_SHARE else None


def select(figures: Sequence[Figure], question_terms: set[str], analyzer: Analyzer) -> list[Figure]:
    """The figures of the metric the question asks about (rule 3 of the module docstring): the
    labels matching the most question words, then those with the highest share."""
    scored = []
    for f in figures:
        m = label_match(analyzer, question_terms, f.label)
        if m is not None:
            scored.append((f, m))
    if not scored:
        return []
    most = max(len(m) for _, (m, _) in scored)
    best = [x for x in scored if len(x[1][0]) == most]
    sets = {m for _, (m, _) in best}
    key = max(sets, key=lambda m: (max(sh for _, (mm, sh) in best if mm == m), sorted(m)))
    return [f for f, (m, _) in scored if key <= m]


def in_years(figures: Sequence[Figure], years: Sequence[int]) -> list[Figure]:
    """Figures from the first to the last year named (all of them when none is named)."""
    if len(years) < 1:
        return list(figures)
    lo, hi = min(years), max(years)
    if len(years) == 1:
        return list(figures)
    return [f for f in figures if lo <= f.year <= hi]


def prefer_hit_tables(figures: Sequence[Figure], spans: Sequence[tuple[str, int, int]]) -> list[Figure]:
    """Per document: when some of its figures stand in the best passages, those (rule 3)."""
    def in_hits(f: Figure) -> bool:
        return any(d == f.doc_id and a <= f.start < b for d, a, b in spans)

    by_doc: dict[str, list[Figure]] = {}
    for f in figures:
        by_doc.setdefault(f.doc_id, []).append(f)
    out = []
    for fs in by_doc.values():
        inside = [f for f in fs if in_hits(f)]
        out.extend(inside or fs)
    return out


def distinct(figures: Sequence[Figure]) -> list[Figure]:
    """One figure per (document, year, kind, number, place): repeats of a cell are dropped."""
    seen, out = set(), []
    for f in figures:
        key = (f.doc_id, f.year, f.kind, f.number, f.start)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return sorted(out, key=lambda f: (f.year, f.doc_id, f.start))


def series(kb: KnowledgeBase, question: str, depth: int = DEPTH, **search_args) -> list[SeriesEntry]:
    """The figure a question asks about, year by year, from the reports of its best passages."""
    if not is_series_question(question):
        return []
    result = kb.search(question, k=depth, **search_args)
    qterms = terms_of(kb.analyzer, question, CUE_WORDS)
    if not qterms:
        return []
    docs = list(dict.fromkeys(h.doc_id for h in result.hits))
    figures = [f for d in docs for f in kb.figures(d)]
    chosen = select(figures, qterms, kb.analyzer)
    chosen = prefer_hit_tables(chosen, [(h.doc_id, h.start, h.end) for h in result.hits])
    chosen = distinct(in_years(chosen, query_years(question)))
    return [entry(kb, f) for f in chosen]


def entry(kb: KnowledgeBase, f: Figure) -> SeriesEntry:
    """A figure as a series entry with its citation (document, year, page or lines)."""
    doc = kb.document(f.doc_id)
    page = doc.page_at(f.start)
    if page is not None:
        where = location(page, doc.page_at(max(f.start, f.end - 1)), None, None)
    else:
        where = location(None, None, doc.line_at(f.start), doc.line_at(max(f.start, f.end - 1)))
    parts = [doc.meta.title] + ([str(doc.meta.year)] if doc.meta.year and str(doc.meta.year) not in doc.meta.title else [])
    citation = ", ".join(parts + ([where] if where else []))
    return SeriesEntry(f.label, f.year, f.value, f.number, f.unit, f.kind, f.quote, f.doc_id, f.start, f.end, citation)
