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
4. **Organisation**: of a report compiled from several boards' reports, the part naming the
   question's organisation the most densely (:mod:`kb.series_scope`).
5. **Years**: when the question names years, figures outside the first to the last named year are
   left out. Two reports giving different values for one year are both shown.

Nothing here reads a gold file; everything but :func:`series` is a pure function.
"""
from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .answer.forms import question_form
from .cite import location
from .figures import Figure
from .records import Chunk
from .series_scope import in_scope
from .tables import Table, find_tables
from .text import query_years, tokenize

if TYPE_CHECKING:  # pragma: no cover
    from .analyze import Analyzer
    from .search import KnowledgeBase

# words that ask for a development over time (a question naming two or more years asks too)
SERIES_CUES = ("utvecklats", "utvecklades", "utvecklingen", "över åren", "år för år", "per år",
               "förändrats", "förändrades", "sett ut", "genom åren", "över tid", "årsvis")
# "jämfört med" counts when a year follows ("2022 jämfört med 2023", "jämfört med året innan"), not a budget
_COMPARED = re.compile(r"jämfört med (?:\d{4}|året|år|föregående|tidigare|fjolåret)")
# words of a series question that say how it is asked, not what it is about
CUE_WORDS = frozenset(
    ["hur", "har", "utvecklats", "utvecklades", "utveckling", "utvecklingen", "över", "åren", "år", "året", "för",
     "per", "jämfört", "med", "förändrats", "förändrades", "sett", "ut", "genom", "tid", "årsvis", "vilket", "vilken",
     "vilka", "hade", "var", "varit", "från", "till", "och", "mellan", "många", "mycket", "stort", "stor", "antal"])
MIN_LABEL_SHARE = 0.5


@dataclass(frozen=True)
class SeriesParams:
    """Steps of :func:`series` (each can be turned off for the ablation in bench/series.py)."""

    depth: int = 20  # the reports of this many best passages are read
    hit_tables: bool = False  # per report, prefer the tables that stand in the best passages
    org_share: float = 0.0  # per report, keep tables whose surroundings name the question's other words
    org_window: int = 12000  # (at least this share of the best such table's weight; 0 = off)
    sentences: bool = False  # figures stated in sentences too (measured: no gain on eval/series)
    family_share: float = 0.75  # labels holding this share of the best label's question weight are kept
    scope_share: float = 1.0  # keep the report parts naming the question's organisation (kb.series_scope; 0 = off)
    scope_floor: float = 0.25  # … and in other organisations' reports only parts naming it this densely
_WORD = re.compile(r"[^\W\d_]+")


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


def render_rows(entries: Sequence[SeriesEntry]) -> list[dict[str, object]]:
    """A series as rows for the UI (no pandas): one row per value with the Swedish column names
    "År", "Värde", "Tal", "Enhet", "Slag", "Mått", "Källa", "Citat" ("Citat" is the header and the
    row, or the sentence, it comes from). "Tal" (the parsed number) and "År" can be charted by
    "Mått" + "Källa"; every text is the report's own text, to be escaped by the surface."""
    return [{"År": e.year, "Värde": e.value, "Tal": e.number, "Enhet": e.unit or "", "Slag": e.kind,
             "Mått": e.metric, "Källa": e.citation, "Citat": e.quote} for e in entries]


def is_series_question(question: str) -> bool:
    """A question about a figure over several years: two or more years, or a cue such as
    "utvecklats", "år för år" or "jämfört med" a year; not a question for a cause ("Varför …"),
    which asks why a figure changed, not for the figures."""
    if question_form(question) == "cause":
        return False
    low = " ".join(tokenize(question))
    return len(query_years(question)) >= 2 or any(f" {c} " in f" {low} " for c in SERIES_CUES) or bool(
        _COMPARED.search(low))


def terms_of(analyzer: Analyzer, text: str, drop: frozenset[str] = frozenset()) -> set[str]:
    """Analysed terms of a text (stems and compound parts), without stop words, numbers and ``drop``."""
    out: set[str] = set()
    for w in _words(analyzer, text, drop):
        out.add(analyzer.term(w))
        out.update(analyzer.term(p) for p in analyzer.split_compound(w))
    return out


def whole_terms(analyzer: Analyzer, text: str, drop: frozenset[str] = frozenset()) -> set[str]:
    """The terms of a text's own words (no compound parts)."""
    return {analyzer.term(w) for w in _words(analyzer, text, drop)}


_OFFSETS: dict[tuple[str, str], dict[str, list[int]]] = {}


def _offsets_of(kb: KnowledgeBase, doc_id: str) -> dict[str, list[int]]:
    doc = kb.document(doc_id)
    key = (doc_id, doc.sha256)
    if key not in _OFFSETS:
        if len(_OFFSETS) > 256:
            _OFFSETS.clear()
        _OFFSETS[key] = term_offsets(kb.analyzer, doc.text)
    return _OFFSETS[key]


_TABLES: dict[tuple[str, str], list[Table]] = {}


def row_header(kb: KnowledgeBase, doc_id: str, start: int, end: int) -> str | None:
    """The header of the table whose row holds [start, end) of a document, whitespace collapsed
    (a quoted table row is shown with it), or None when the span is no table row."""
    doc = kb.document(doc_id)
    key = (doc_id, doc.sha256)
    if key not in _TABLES:
        if len(_TABLES) > 256:
            _TABLES.clear()
        _TABLES[key] = find_tables(doc.text)
    for t in _TABLES[key]:
        if t.start <= start and end <= t.end and any(r.start <= start and end <= r.end for r in t.rows):
            return " ".join(t.header.text.split())
    return None


def _words(analyzer: Analyzer, text: str, drop: frozenset[str]) -> list[str]:
    return [w for w in tokenize(text)
            if w not in drop and not w[0].isdigit() and not analyzer.is_stopword(w) and len(w) >= 2]


STATUS_WORDS = frozenset({"ja", "nej", "delvis", "uppnått", "uppnås", "varav", "kr", "tkr", "mnkr"})


def label_match(analyzer: Analyzer, question_terms: set[str], label: str) -> tuple[frozenset[str], float] | None:
    """The question's terms a label's words match, and the share of the label's words that match,
    when at least :data:`MIN_LABEL_SHARE`. A label word matches by its term, or by all its compound
    parts ("tillsvidareanställda" and "tillsvidare anställda"); status words of indicator tables
    ("Ja", "Delvis") and the words of :data:`CUE_WORDS` ("antal") do not count."""
    words = _words(analyzer, label, STATUS_WORDS | CUE_WORDS)
    if not words:
        return None
    matched: set[str] = set()
    hits = 0
    for w in words:
        t = analyzer.term(w)
        parts = [analyzer.term(p) for p in analyzer.split_compound(w)]
        if t in question_terms:
            matched.add(t)
        elif parts and all(p in question_terms for p in parts):
            matched.update(parts)
        else:
            continue
        hits += 1
    share = hits / len(words)
    return (frozenset(matched), share) if matched and share >= MIN_LABEL_SHARE else None


def question_words(analyzer: Analyzer, question: str) -> list[tuple[str, tuple[str, ...]]]:
    """The topic words of a series question as (term, terms of its compound parts)."""
    return [(analyzer.term(w), tuple(analyzer.term(p) for p in analyzer.split_compound(w)))
            for w in dict.fromkeys(_words(analyzer, question, CUE_WORDS))]


def covered_mass(qwords: Sequence[tuple[str, tuple[str, ...]]], label_all: set[str],
                 weight: Callable[[str], float]) -> float:
    """The weight of the question's words a label holds: a word by its term, or by all its parts."""
    return sum(weight(t) for t, parts in qwords if t in label_all or (parts and all(p in label_all for p in parts)))


def select(figures: Sequence[Figure], qwords: Sequence[tuple[str, tuple[str, ...]]], analyzer: Analyzer,
           weight: Callable[[str], float], share: float) -> list[Figure]:
    """The figures of the metric the question asks about (rule 3 of the module docstring): labels
    that match (:func:`label_match`) and hold at least ``share`` of the weight of the question's
    words that the best label holds (``weight``: a term's IDF)."""
    qterms = {t for t, parts in qwords} | {p for _, parts in qwords for p in parts}
    scored = []
    for f in figures:
        if label_match(analyzer, qterms, f.label) is not None:
            scored.append((f, covered_mass(qwords, terms_of(analyzer, f.label), weight)))
    if not scored:
        return []
    best = max(m for _, m in scored)
    return [f for f, m in scored if m >= share * best - 1e-9]


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
    out: list[Figure] = []
    for fs in by_doc.values():
        inside = [f for f in fs if in_hits(f)]
        out.extend(inside or fs)
    return out


def term_offsets(analyzer: Analyzer, text: str) -> dict[str, list[int]]:
    """Where each analysed term of a text stands (offsets of its words, ascending)."""
    out: dict[str, list[int]] = {}
    for m in _WORD.finditer(text):
        w = m.group(0).lower()
        if len(w) > 2 and not analyzer.is_stopword(w):
            out.setdefault(analyzer.term(w), []).append(m.start())
    return out


def nearby(offsets: dict[str, list[int]], terms: dict[str, float], start: int, end: int, width: int) -> float:
    """The weight of ``terms`` (term -> weight) mentioned within ``width`` characters of [start, end)."""
    total = 0.0
    for t, w in terms.items():
        pos = offsets.get(t, [])
        total += w * (bisect.bisect_right(pos, end + width) - bisect.bisect_left(pos, start - width))
    return total


def closest_to_topic(figures: Sequence[Figure], weight_of: Callable[[Figure], float], share: float) -> list[Figure]:
    """Per document: the figures whose surroundings name the question's other words (its
    organisation, "Leanlink", "Kommunledningsförvaltningen") the most, when any do."""
    by_doc: dict[str, list[tuple[Figure, float]]] = {}
    for f in figures:
        by_doc.setdefault(f.doc_id, []).append((f, weight_of(f)))
    out: list[Figure] = []
    for fs in by_doc.values():
        top = max(w for _, w in fs)
        out.extend(f for f, w in fs if w >= top * share)
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


def series(kb: KnowledgeBase, question: str, params: SeriesParams = SeriesParams(), **search_args) -> list[SeriesEntry]:
    """The figure a question asks about, year by year, from the reports of its best passages."""
    if not is_series_question(question):
        return []
    result = kb.search(question, k=params.depth, **search_args)
    qterms = terms_of(kb.analyzer, question, CUE_WORDS)
    if not qterms:
        return []
    idf = dict(zip(sorted(qterms), kb.index.idf(sorted(qterms))))
    chosen = matching_figures(kb, question, [h.doc_id for h in result.hits], params)
    if params.hit_tables:
        chosen = prefer_hit_tables(chosen, [(h.doc_id, h.start, h.end) for h in result.hits])
    if params.org_share > 0:
        chosen = about_the_rest(kb, question, chosen, qterms, idf, params)
    if params.scope_share > 0 and chosen:
        chosen = in_scope(kb, chosen, rest_terms(kb, question, chosen, qterms, idf), params.scope_share,
                          lambda d: _offsets_of(kb, d), params.scope_floor)
    chosen = distinct(in_years(chosen, query_years(question)))
    return [entry(kb, f) for f in chosen]


def matching_figures(kb: KnowledgeBase, question: str, doc_ids: Sequence[str],
                     params: SeriesParams = SeriesParams()) -> list[Figure]:
    """The figures of the documents ``doc_ids`` whose label matches the question (:func:`select`)."""
    qterms = terms_of(kb.analyzer, question, CUE_WORDS)
    if not qterms:
        return []
    figures = [f for d in dict.fromkeys(doc_ids) for f in kb.figures(d, params.sentences)]
    idf = dict(zip(sorted(qterms), kb.index.idf(sorted(qterms))))
    qwords = question_words(kb.analyzer, question)
    return select(figures, qwords, kb.analyzer, lambda t: idf.get(t, 0.0), params.family_share)


def figure_passages(kb: KnowledgeBase, question: str, ordered: Sequence[str], chunks: Mapping[str, Chunk],
                    depth: int = 20, max_docs: int = 2) -> list[str]:
    """For a question about a figure over the years: the reports of the first ``depth`` candidate
    passages, and in each (at most ``max_docs``, best first) the best-ranked candidate passage
    that holds a figure matching the question."""
    if not is_series_question(question):
        return []
    docs = list(dict.fromkeys(chunks[c].doc_id for c in ordered[:depth]))
    figures = matching_figures(kb, question, docs)
    out: list[str] = []
    for cid in ordered:
        c = chunks[cid]
        if len(out) < max_docs and all(chunks[o].doc_id != c.doc_id for o in out) and any(
                f.doc_id == c.doc_id and c.start <= f.start < c.end for f in figures):
            out.append(cid)
    return out


def about_the_rest(kb: KnowledgeBase, question: str, chosen: list[Figure], qterms: set[str], idf: dict[str, float],
                   params: SeriesParams) -> list[Figure]:
    """The step ``org_share``: figures whose surroundings name the question's words that their
    label does not hold (:func:`closest_to_topic`)."""
    rest = rest_terms(kb, question, chosen, qterms, idf)
    if not rest:
        return chosen
    offsets = {d: _offsets_of(kb, d) for d in {f.doc_id for f in chosen}}
    return closest_to_topic(chosen, lambda f: nearby(offsets[f.doc_id], rest, f.start, f.end, params.org_window),
                            params.org_share)


def rest_terms(kb: KnowledgeBase, question: str, chosen: Sequence[Figure], qterms: set[str],
               idf: dict[str, float]) -> dict[str, float]:
    """The question's own words (terms, with their IDF) that the labels of most chosen figures do
    not match: the organisation or unit it names, when it names one (a word matched by a few labels
    only, "Verksamhetsstöd och service" as a row of a cost table, still counts)."""
    counts: dict[str, int] = {}
    for f in chosen:
        lm = label_match(kb.analyzer, qterms, f.label)
        for t in lm[0] if lm else ():
            counts[t] = counts.get(t, 0) + 1
    matched = {t for t, n in counts.items() if 2 * n >= len(chosen)}
    terms = whole_terms(kb.analyzer, question, CUE_WORDS) - matched
    weights = dict(zip(sorted(terms), kb.index.idf(sorted(terms))))
    return {t: weights.get(t, idf.get(t, 0.0)) for t in terms}


def entry(kb: KnowledgeBase, f: Figure) -> SeriesEntry:
    """A figure as a series entry with its citation (document, year, page or lines)."""
    doc = kb.document(f.doc_id)
    page = doc.page_at(f.start)
    if page is not None:
        where = location(page, doc.page_at(max(f.start, f.end - 1)), None, None)
    else:
        where = location(None, None, doc.line_at(f.start), doc.line_at(max(f.start, f.end - 1)))
    parts = [doc.meta.title] + ([str(doc.meta.year)] if doc.meta.year
                                and str(doc.meta.year) not in doc.meta.title else [])
    citation = ", ".join(parts + ([where] if where else []))
    return SeriesEntry(f.label, f.year, f.value, f.number, f.unit, f.kind, f.quote, f.doc_id, f.start, f.end, citation)
