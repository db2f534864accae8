"""Choosing the answer sentences among the candidates (:mod:`kb.answer.extract`, steps 6-7): the
cause stated right after the best sentence, or a close sentence with the asked-for kind of answer,
goes first; then the best ones that pass the threshold, or the best per year named."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from ..text import years_in
from .candidates import Candidate
from .params import AnswerParams


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


def without_held_items(chosen: Sequence[Candidate]) -> list[Candidate]:
    """``chosen`` less any lead-in whose list holds a sentence chosen before it: that item is the
    sharper answer, and the list would only repeat it in a longer quote."""
    return [c for i, c in enumerate(chosen) if not any(o.sentence in c.items for o in chosen[:i])]
