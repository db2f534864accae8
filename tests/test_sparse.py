"""BM25 as sparse vectors (kb.sparse): the inner product of the two sides equals kb.bm25.scores."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from kb import bm25, sparse
from kb.analyze import Analyzer, build_lexicon
from kb.bm25 import BM25Params
from kb.errors import KBError

TEXTS = [
    "Kommunstyrelsen redovisar ett underskott inom LSS 2023",
    "Underskott inom LSS beror på personlig assistans och underskott i gruppbostäder",
    "Sjukfrånvaron var 8,1 procent inom hemtjänst",
    "Hemtjänsten har fått fler brukare och kostnaderna ökar inom hemtjänstverksamheten",
    "Överskott 92,5 mnkr förklaras av tomträttsförsäljningar",
    "inom inom inom",
    "",
]
QUERIES = [
    "varför underskott inom LSS 2023",
    "hur hög var sjukfrånvaron",
    "hemtjänst hemtjänst brukare",
    "saknas helt",
    "lag om stöd och service",
    "kostnaderna för personlig assistans i hemtjänstverksamheten",
]


def stats_of(terms: list[list[str]]) -> tuple[dict[str, int], dict[str, int], sparse.CorpusStats]:
    vocab = sparse.assign_ids((t for ts in terms for t in ts), {}, 0)
    df = Counter(t for ts in terms for t in set(ts))
    return vocab, dict(df), sparse.CorpusStats(len(terms), sum(len(t) for t in terms))


def inner(q: dict[int, float], d: dict[int, float]) -> float:
    return sum(w * d.get(i, 0.0) for i, w in q.items())


@pytest.mark.parametrize("params", [BM25Params(), BM25Params(k1=0.9, b=0.4), BM25Params(k1=2.0, b=1.0)])
def test_inner_product_equals_embedded_bm25(params):
    an = Analyzer(lexicon=build_lexicon(TEXTS))
    terms = [an.passage_terms(t) for t in TEXTS]
    index = bm25.build(terms, params)
    vocab, df, stats = stats_of(terms)
    docs = [sparse.doc_vector(t, vocab, stats.avgdl, params) for t in terms]
    checked = 0
    for q in QUERIES:
        qt = an.query_terms(q)
        want = bm25.scores(index, qt)
        qv = sparse.query_vector(qt, vocab, df, stats.n_docs)
        got = np.array([inner(qv, d) for d in docs])
        assert np.allclose(got, want, rtol=1e-5, atol=1e-5), q
        checked += int((want > 0).sum())
        for row in range(len(TEXTS)):
            assert sparse.coverage(qt, df, stats.n_docs, terms[row]) == pytest.approx(bm25.coverage(index, qt, row), abs=1e-9)
    assert checked > 5


def test_repeated_query_terms_count_again():
    vocab, df, stats = stats_of([["a", "b"], ["b"]])
    q = sparse.query_vector([("a", 1.0), ("a", 0.5), ("zz", 1.0)], vocab, df, stats.n_docs)
    assert q == {vocab["a"]: pytest.approx(1.5 * sparse.lucene_idf(1, 2))}


def test_ids_are_stable_and_new_terms_get_new_ids():
    vocab = sparse.assign_ids(["x", "y", "x"], {}, 0)
    assert vocab == {"x": 0, "y": 1}
    more = sparse.assign_ids(["y", "z"], vocab, 2)
    assert more == {"z": 2}


def test_stats_and_okapi_refused():
    assert sparse.CorpusStats(1000, 50_000).avgdl == 50.0
    assert sparse.CorpusStats(0, 0).avgdl == 1.0
    with pytest.raises(KBError, match="lucene"):
        sparse.check_params(BM25Params(method="okapi"))
