"""Short extractive answers: the one to three sentences of the top hits that best answer a
question, each tied to the hit it came from. Nothing is generated.

Pipeline (:func:`answer`):

1. **Sentences**: the passages of the first ``top_hits`` hits are split into sentences
   (:func:`split_sentences`): at sentence ends (:func:`kb.text.sentence_breaks`), at blank lines, before bullet lines and
   after short heading lines. Table rows and fragments (few words, mostly digits) are dropped.
   A sentence is quoted as it stands; only whitespace is collapsed and line-break hyphens are
   joined ("Orsa-\\nken" → "Orsaken", :func:`kb.text.dehyphenate`).
2. **Lexical score**: the share of the question's weight its analysed terms
   (:meth:`kb.analyze.Analyzer.query_terms`: stems, compound parts, acronym expansions) found
   among the sentence's terms. Years are left out: the year rule of the search already ranks
   reports about the named years first, and a sentence seldom repeats the year. Terms missing
   from a sentence but present in the sentence just before it (a heading, or what "Underskottet
   …" refers back to) count at half weight.
3. **Dense score**: for the best lexical candidates only (embedding is the costly step), the
   cosine between the question and the sentence with the index's own embedder, as the distance
   below the best candidate's cosine on the candidates' spread (at least ``dense_spread``).
   Sentence vectors are memoised per process.
4. **Combined**: ``rank_prior(hit rank) * (lexical_weight * lexical + (1 - lexical_weight) * dense)``
   plus a small bonus when a "why" question meets a causal phrase ("beror på", "på grund av" …).
5. **Confidence**: the best sentence must cover at least ``min_lexical`` of the question and
   score at least ``min_score``; otherwise the answer is empty and ``confident`` is False, and the
   caller says plainly that no certain answer was found. Further sentences (up to three) must
   score within ``keep_ratio`` of the best one and not repeat an already chosen sentence.
"""
from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .text import dehyphenate, fold, is_year, nfc, sentence_breaks
from .records import SearchResult

if TYPE_CHECKING:  # pragma: no cover
    from .search import KnowledgeBase

_PARA = re.compile(r"\n[ \t]*\n\s*")
_BULLET = re.compile(r"^[ \t]*(?:[\u2022\u25cf\u25aa\u2013\u2014\uf0b7\uf0a7*•·-]|\d{1,2}[.)])[ \t]+")
_BULLET_CHARS = "\u2022\u25cf\u25aa\u2013\u2014\uf0b7\uf0a7*•·- \t"
_WORD = re.compile(r"[^\W\d_]{2,}")
_LETTER_OR_DIGIT = re.compile(r"[^\W_]")
_WHY = re.compile(r"\b(varför|orsak\w*|förklar\w*|beror|berodde|anledning\w*)\b", re.IGNORECASE)
_CAUSAL = re.compile(
    r"\b(beror\w* på|berodde på|på grund av|pga\.?|p\.g\.a\.?|till följd av|kopplat till|förklaras|förklaring\w*|"
    r"orsak\w*|anledning\w*|därför|eftersom|med anledning av|främst\w* )",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class AnswerSentence:
    """One quoted sentence of the answer and the rank of the hit it came from."""

    sentence: str
    hit_rank: int
    score: float


@dataclass(frozen=True)
class Answer:
    """The answer sentences (best first); empty and not confident when nothing answers clearly."""

    sentences: tuple[AnswerSentence, ...]
    confident: bool

    def to_json(self) -> list[dict]:
        return [{"sentence": s.sentence, "hit_rank": s.hit_rank} for s in self.sentences]


@dataclass(frozen=True)
class AnswerParams:
    """Settings of the sentence scorer (defaults tuned on the bundled corpus)."""

    top_hits: int = 5
    max_sentences: int = 3
    max_per_hit: int = 2
    embed_candidates: int = 4
    embed_chars: int = 240
    dense_spread: float = 0.1
    lexical_weight: float = 0.6
    rank_decay: float = 0.08
    why_bonus: float = 0.1
    context_share: float = 0.5
    min_lexical: float = 0.6
    min_score: float = 0.45
    keep_ratio: float = 0.8
    min_words: int = 4
    max_chars: int = 500


# -- sentences ------------------------------------------------------------------------------


def _lines_to_blocks(paragraph: str) -> list[str]:
    """Split one paragraph into blocks at bullet lines and after short heading-like lines."""
    lines = paragraph.split("\n")
    blocks: list[list[str]] = [[]]
    longest = max((len(x.strip()) for x in lines), default=0)
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            continue
        if _BULLET.match(line) and blocks[-1]:
            blocks.append([])
        blocks[-1].append(line)
        nxt = lines[i + 1].strip() if i + 1 < len(lines) else ""
        # a short line with no closing punctuation before a capitalised line: a heading or a line of its own
        short = len(stripped) < max(40, 0.6 * longest)
        if (
            nxt
            and short
            and not stripped.endswith((",", "-", "–", ":", ";", "och", "samt", "eller"))
            and nxt[0].isupper()
        ):
            blocks.append([])
    return ["\n".join(b) for b in blocks if b]


def split_sentences(text: str) -> list[str]:
    """Sentences of a passage, each as it stands with whitespace collapsed and line-break hyphens joined."""
    out: list[str] = []
    for para in _PARA.split(nfc(text)):
        for block in _lines_to_blocks(para):
            block = dehyphenate(block)
            pieces: list[str] = []
            pos = 0
            for end, nxt in sentence_breaks(block):
                pieces.append(block[pos:end].strip())
                pos = nxt
            pieces.append(block[pos:].strip())
            for p in pieces:
                s = " ".join(p.split()).lstrip(_BULLET_CHARS).strip()
                if s:
                    out.append(s)
    return out


def is_candidate(sentence: str, params: AnswerParams = AnswerParams()) -> bool:
    """A sentence worth quoting: enough words, mostly letters (not a table row), not overly long."""
    if len(sentence) > params.max_chars or "...." in sentence or ". . ." in sentence:
        return False  # too long, or a table-of-contents line with dot leaders
    words = _WORD.findall(sentence)
    if len(words) < params.min_words:
        return False
    chars = _LETTER_OR_DIGIT.findall(sentence)
    letters = sum(c.isalpha() for c in chars)
    return letters >= 0.7 * len(chars)


# -- scoring --------------------------------------------------------------------------------


def _query_weights(query_terms: Sequence[tuple[str, float]]) -> tuple[dict[str, float], float]:
    weights = {t: w for t, w in query_terms if not is_year(t)}
    total = sum(w for w in weights.values() if w >= 1.0) or sum(weights.values())
    return weights, total


def lexical_score(
    query_terms: Sequence[tuple[str, float]],
    sentence_terms: set[str],
    context_terms: set[str] = frozenset(),
    context_share: float = 0.5,
) -> float:
    """Share of the question's typed-word weight found in the sentence (expansions may stand in).

    Query terms missing from the sentence but found in ``context_terms`` (the sentence before)
    count with ``context_share`` of their weight.
    """
    weights, total = _query_weights(query_terms)
    if not total:
        return 0.0
    found = sum(w for t, w in weights.items() if t in sentence_terms)
    found += context_share * sum(w for t, w in weights.items() if t in context_terms and t not in sentence_terms)
    return min(1.0, found / total)


class _VectorMemo:
    """Bounded memo of sentence vectors per embedder (process-wide, thread-safe)."""

    def __init__(self, size: int = 20_000) -> None:
        self.size = size
        self._d: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def vectors(self, embedder, texts: list[str], query: bool = False) -> np.ndarray:
        mid = getattr(embedder, "model_id", "?") + (":q" if query else "")
        with self._lock:
            found = {t: self._d.get((mid, t)) for t in texts}
        missing = [t for t, v in found.items() if v is None]
        if missing:
            if query:
                new = np.stack([np.asarray(embedder.embed_query(t), dtype=np.float32) for t in missing])
            else:
                new = np.asarray(embedder.embed_passages(missing), dtype=np.float32)
            with self._lock:
                for t, v in zip(missing, new):
                    found[t] = v
                    self._d[(mid, t)] = v
                while len(self._d) > self.size:
                    self._d.popitem(last=False)
        return np.stack([found[t] for t in texts]) if texts else np.zeros((0, 1), np.float32)


_MEMO = _VectorMemo()


@dataclass
class _Cand:
    sentence: str
    hit_rank: int
    order: int
    lexical: float
    dense: float = 0.0
    score: float = 0.0


def _rank_prior(rank: int, decay: float) -> float:
    return 1.0 / (1.0 + decay * (rank - 1))


def candidates(kb: KnowledgeBase, result: SearchResult, params: AnswerParams = AnswerParams()) -> list[_Cand]:
    """Candidate sentences of the top hits with their lexical scores (duplicates kept once)."""
    qterms = list(zip(result.info.terms, result.info.weights))  # analysed once, by the search
    out: list[_Cand] = []
    seen: set[str] = set()
    for hit in result.hits[: params.top_hits]:
        prev_terms: set[str] = set()
        for i, s in enumerate(split_sentences(hit.text)):
            terms = set(kb.analyzer.passage_terms(s))
            # words the sentence lacks may stand in the sentence before it (a heading, or the
            # subject "Underskottet …" refers back to); they count at a reduced weight
            lex = lexical_score(qterms, terms, prev_terms, params.context_share)
            prev_terms = terms
            if not is_candidate(s, params):
                continue
            key = fold(s)
            if key in seen:
                continue
            seen.add(key)
            out.append(_Cand(s, hit.rank, i, lex))
    return out


def answer(kb: KnowledgeBase, result: SearchResult, params: AnswerParams = AnswerParams()) -> Answer:
    """The 1–3 sentences of the top hits that best answer ``result.query``, or none when unsure."""
    cands = [c for c in candidates(kb, result, params) if c.lexical > 0]
    if not cands:
        return Answer((), False)
    # the dense step only for the most promising sentences (embedding costs ~15 ms a sentence):
    # the best by lexical score, and of those only the ones that could still make the answer
    prior = {c.hit_rank: _rank_prior(c.hit_rank, params.rank_decay) for c in cands}
    why = bool(_WHY.search(result.query))
    bonus_max = params.why_bonus if why else 0.0
    lw = params.lexical_weight
    cands.sort(key=lambda c: (-c.lexical * prior[c.hit_rank], c.hit_rank, c.order))
    floor = max(prior[c.hit_rank] * lw * c.lexical for c in cands)  # the score the best can surely reach
    cands = [c for c in cands if prior[c.hit_rank] * (lw * c.lexical + 1 - lw) + bonus_max >= params.keep_ratio * floor]
    cands = cands[: params.embed_candidates]
    emb = kb.embedder
    qv = _MEMO.vectors(emb, [result.query], query=True)[0]
    sv = _MEMO.vectors(emb, [c.sentence[: params.embed_chars] for c in cands])
    cos = sv @ qv
    # distance below the best cosine, on the candidates' own spread but never a narrower one than
    # dense_spread (two near-equal sentences must not become 0 and 1)
    hi = float(cos.max())
    spread = max(params.dense_spread, hi - float(cos.min()))
    for c, v in zip(cands, cos):
        c.dense = 1.0 - (hi - float(v)) / spread
        base = lw * c.lexical + (1 - lw) * c.dense
        bonus = params.why_bonus if (why and _CAUSAL.search(c.sentence)) else 0.0
        c.score = prior[c.hit_rank] * base + bonus
    cands.sort(key=lambda c: (-c.score, c.hit_rank, c.order))
    best = cands[0]
    if best.lexical < params.min_lexical or best.score < params.min_score:
        return Answer((), False)
    chosen = [best]
    per_hit = {best.hit_rank: 1}
    for c in cands[1:]:
        if len(chosen) >= params.max_sentences:
            break
        if c.lexical < params.min_lexical or c.score < params.keep_ratio * best.score:
            continue
        if per_hit.get(c.hit_rank, 0) >= params.max_per_hit:
            continue
        chosen.append(c)
        per_hit[c.hit_rank] = per_hit.get(c.hit_rank, 0) + 1
    return Answer(tuple(AnswerSentence(c.sentence, c.hit_rank, round(c.score, 4)) for c in chosen), True)
