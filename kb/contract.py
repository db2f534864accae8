"""The JSON contract of ``kb search --json`` and ``kb ask --json``, built in one place.

The command line and the HTTP API (:mod:`kb.serve`) both print these objects, so they cannot
drift. A new field of an answer is added in :func:`answer_json` (and nowhere else).

- :func:`search_json`: ``{"query", "hits"}`` (single) or ``{"query_id", "hits"}`` (batch);
- :func:`answer_json`: ``{"question" | "query_id", "answer", "uncertain_answer", "confident",
  "confidence", "verdict", "hits", "series"}`` plus ``"generated"`` when a language model wrote an
  answer. ``verdict`` is "answered", "uncertain" or "none" (:data:`kb.answer.extract.VERDICTS`);
  ``answer`` holds the quotes only when it is "answered" (``confident`` is true then), so an empty
  ``answer`` still means kb does not vouch for one; an uncertain answer's quotes, shown marked for
  checking, are in ``uncertain_answer``;
- :func:`answer_error_json`: the line of a batch question kb cannot take (``verdict`` "refused").
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .records import Hit


def hits_json(hits: Sequence[Hit]) -> list[dict[str, Any]]:
    """The HIT objects of a list of hits."""
    return [h.to_json() for h in hits]


def search_json(key: str, value: str, hits: Sequence[Hit]) -> dict[str, Any]:
    """One search: ``key`` is "query" (single) or "query_id" (batch)."""
    return {key: value, "hits": hits_json(hits)}


def answer_json(key: str, value: str, res: Any, ans: Any, k: int, generated: Any = None,
                series: Sequence[Any] = ()) -> dict[str, Any]:
    """One answer (``kb ask --json``): ``key`` is "question" (single) or "query_id" (batch);
    ``res`` the search result, ``ans`` the :class:`kb.answer.extract.Answer`, ``k`` the hits shown,
    ``generated`` a :class:`kb.answer.generate.Generated` or None, ``series`` the
    :class:`kb.series.SeriesEntry` list of a question about a figure over the years (else empty)."""
    sure = ans.verdict == "answered"
    out = {key: value, "answer": ans.to_json() if sure else [],
           "uncertain_answer": ans.to_json() if ans.verdict == "uncertain" else [],
           "confident": sure, "confidence": ans.confidence, "verdict": ans.verdict,
           "hits": hits_json(res.hits[:k]), "series": [e.to_json() for e in series]}
    if generated is not None:
        out["generated"] = generated.to_json()
    return out


def answer_error_json(key: str, value: str, error: str) -> dict[str, Any]:
    """A question kb cannot take (no topic words, empty): no answer, no hits, the reason."""
    return {key: value, "answer": [], "uncertain_answer": [], "confident": False, "confidence": 0.0,
            "verdict": "refused", "hits": [], "series": [], "error": error}
