"""The settings of the extractive answerer (:mod:`kb.answer.extract`; what each one does is in its
module docstring and docs/answer_ablation.md)."""
from __future__ import annotations

from dataclasses import dataclass


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
