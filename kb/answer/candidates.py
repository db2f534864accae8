"""The candidates of an extractive answer (:mod:`kb.answer.extract`, steps 1-5): every quotable
evidence sentence of the top hits, scored by meaning (its precomputed vector), by the question's
IDF-weighted words (with the sentence's context) and by the question's form; a lead-in that ends
with a colon is scored as one unit with the list it introduces (:func:`list_after`)."""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..records import Chunk, Hit, SearchResult, Sentence
from ..sentences import sentence_text
from ..text import fold, is_year
from .forms import answers_form, question_form
from .params import AnswerParams
from .question import QuestionTerms, coverage, question_terms

if TYPE_CHECKING:  # pragma: no cover
    from ..search import KnowledgeBase

_WORD = re.compile(r"[^\W\d_]{2,}")
_NUMBER = re.compile(r"\d+")


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
