"""The question as the extractive answerer (:mod:`kb.answer.extract`) reads it: whether it can be
answered at all (:func:`check_question`, :class:`QuestionError`), the weights of its terms and the
topic words the reports never use (:func:`question_terms`), and how much of that weight a sentence
covers (:func:`coverage`)."""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import KBError
from ..records import SearchResult
from ..search import MAX_QUERY_CHARS
from ..text import is_year

if TYPE_CHECKING:  # pragma: no cover
    from ..search import KnowledgeBase

MAX_QUESTION_CHARS = MAX_QUERY_CHARS  # what the search reads; `ask` refuses a longer question instead of cutting it


class QuestionError(KBError):
    """A question kb cannot answer as asked; ``reason`` is "empty", "no_words" or "too_long"."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


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
