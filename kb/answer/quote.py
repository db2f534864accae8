"""Quoting the chosen sentences (:mod:`kb.answer.extract`): each as an :class:`AnswerSentence` tied
to its hit and cited at its exact place in the report; a sentence that points back is quoted from
the prose unit before it (:func:`leans_back`, :func:`reach_back`), a lead-in with its list, and a
quote inside another is dropped (:func:`without_repeats`)."""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from ..cite import format_citation, location
from ..records import Chunk, DocMeta, Hit
from ..sentences import sentence_text
from ..series import row_header
from .candidates import Candidate, next_to
from .params import AnswerParams

if TYPE_CHECKING:  # pragma: no cover
    from ..search import KnowledgeBase


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
