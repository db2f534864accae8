"""kb's BM25 split into two sparse vectors whose inner product is the BM25 score (pure functions).

A vector database that searches ``SPARSE_FLOAT_VECTOR`` fields by inner product can rank
passages by kb's own BM25 (kb's Swedish analysis, not the server's tokenizer) when each
passage stores its **document side** and each query sends its **query side**:

* document side, per term ``t`` of the passage:
  ``tf * (k1 + 1) / (tf + k1 * (1 - b + b * len / avgdl))`` (saturated, length-normalised tf);
* query side, per query term: ``idf(t) * w`` with ``w`` the sum of the query's weights for ``t``
  (a repeated term counts again, as in :func:`kb.bm25.scores`) and the Lucene IDF
  ``log(1 + (N - df + .5) / (df + .5))`` from collection-wide statistics.

Their inner product is exactly :func:`kb.bm25.scores` on the same passages (tested to 1e-5).
Only the Lucene IDF is supported: Okapi's floor depends on the mean IDF of the whole
vocabulary, which changes with every term and cannot be sent per query term.

**Term ids.** Sparse dimensions are uint32 ids from a vocabulary kept with the statistics:
a new term gets the next free id (:func:`assign_ids`), ids are never reused or changed, so
there are no hash collisions and a stored vector stays valid for as long as the vocabulary.

**Statistics.** ``N`` (passages), the sum of passage lengths (``avgdl = total / N``) and the
document frequency of every term. The query side always uses the current ``N`` and ``df``; the
document side bakes in the ``avgdl`` of the moment it was written, so after incremental ingests
it drifts; :mod:`kb.milvus.ingest` rewrites the vectors of passages whose ``avgdl`` is too far
from the current one (``N`` is not in the document side: a growing ``N`` needs no rewrite).
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from .bm25 import BM25Params
from .errors import KBError

# the sparse dimension of a passage without terms (a stored sparse vector may not be empty);
# no query ever has it, so such a passage scores 0 as in kb.bm25
EMPTY = 2**32 - 2


@dataclass(frozen=True)
class CorpusStats:
    """Collection-wide BM25 statistics: passages and the sum of their lengths (in terms)."""

    n_docs: int
    total_len: int

    @property
    def avgdl(self) -> float:
        """Mean passage length, 1.0 for an empty collection (as :func:`kb.bm25.build`)."""
        return self.total_len / self.n_docs if self.n_docs and self.total_len else 1.0


def check_params(params: BM25Params) -> None:
    if params.method != "lucene":
        raise KBError(f"BM25 method {params.method!r} cannot be stored as sparse vectors; use 'lucene'")


def lucene_idf(df: int, n_docs: int) -> float:
    return math.log1p((n_docs - df + 0.5) / (df + 0.5))


def assign_ids(terms: Iterable[str], vocab: Mapping[str, int], next_id: int) -> dict[str, int]:
    """Ids for the terms not yet in ``vocab``: consecutive from ``next_id``, in first-seen order."""
    new: dict[str, int] = {}
    for t in terms:
        if t not in vocab and t not in new:
            new[t] = next_id + len(new)
    if next_id + len(new) >= EMPTY:
        raise KBError("the BM25 vocabulary exceeds 2^32 - 1 terms; split the collection")
    return new


def doc_vector(
    terms: Sequence[str], vocab: Mapping[str, int], avgdl: float, params: BM25Params = BM25Params()
) -> dict[int, float]:
    """Document side of one passage: term id -> saturated, length-normalised tf (``{EMPTY: 1}``
    for a passage without terms)."""
    counts = Counter(terms)
    if not counts:
        return {EMPTY: 1.0}
    norm = params.k1 * (1 - params.b + params.b * len(terms) / avgdl)
    return {vocab[t]: tf * (params.k1 + 1) / (tf + norm) for t, tf in counts.items()}


def query_vector(
    query: Iterable[tuple[str, float]], vocab: Mapping[str, int], df: Mapping[str, int], n_docs: int
) -> dict[int, float]:
    """Query side: term id -> idf × summed query weight; terms unknown to the collection drop out."""
    out: dict[int, float] = {}
    for term, weight in query:
        i = vocab.get(term)
        d = df.get(term, 0)
        if i is None or d <= 0:
            continue
        out[i] = out.get(i, 0.0) + weight * lucene_idf(d, n_docs)
    return {i: w for i, w in out.items() if w != 0}


def coverage(
    query: Iterable[tuple[str, float]], df: Mapping[str, int], n_docs: int, passage_terms: Iterable[str]
) -> float:
    """Share of the query's Lucene-IDF mass a passage matches, as :func:`kb.bm25.coverage`
    (a term absent from the collection counts with df = 0)."""
    have = set(passage_terms)
    total = got = 0.0
    for term, weight in query:
        w = weight * lucene_idf(df.get(term, 0), n_docs)
        total += w
        if term in have and df.get(term, 0) > 0:
            got += w
    return got / total if total > 0 else 0.0
