"""BM25: exact agreement with rank-bm25 (okapi), a hand-computed lucene score, top-k, save/load."""
from __future__ import annotations

import math
import random

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from kb import bm25
from kb.analyze import Analyzer, tokenize
from kb.bm25 import BM25Params

DOCS = [
    "Kommunstyrelsen redovisar ett underskott inom LSS 2023",
    "Underskott inom LSS beror på personlig assistans och underskott i gruppbostäder",
    "Sjukfrånvaron var 8,1 procent inom hemtjänst",
    "Hemtjänsten har fått fler brukare och kostnaderna ökar inom hemtjänst",
    "Överskott 92,5 mnkr förklaras av tomträttsförsäljningar",
    "inom inom inom",
]
CORPUS = [tokenize(d) for d in DOCS]
QUERIES = [
    ["underskott", "lss"],
    ["inom"],  # df > N/2: negative okapi idf, floored to epsilon * mean idf
    ["hemtjänst", "hemtjänst", "brukare"],  # a repeated term counts again
    ["saknas", "procent"],
    ["och"],  # df == N/2 - 1
]


@pytest.mark.parametrize("k1,b,eps", [(1.5, 0.75, 0.25), (1.2, 0.75, 0.25), (0.9, 0.4, 0.5), (2.0, 1.0, 0.1)])
def test_okapi_equals_rank_bm25(k1, b, eps):
    ref = BM25Okapi(CORPUS, k1=k1, b=b, epsilon=eps)
    idx = bm25.build(CORPUS, BM25Params(k1=k1, b=b, method="okapi", epsilon=eps))
    assert idx.n_passages == len(CORPUS)
    for q in QUERIES:
        mine = bm25.scores(idx, [(t, 1.0) for t in q])
        assert np.allclose(mine, ref.get_scores(q), rtol=1e-5, atol=1e-5), q


def test_okapi_equals_rank_bm25_random_corpora():
    rng = random.Random(7)
    vocab = [f"w{i}" for i in range(25)]
    for _ in range(20):
        corpus = [[rng.choice(vocab[: rng.randint(3, 25)]) for _ in range(rng.randint(1, 30))] for _ in range(rng.randint(2, 15))]
        ref = BM25Okapi(corpus)
        idx = bm25.build(corpus, BM25Params(k1=1.5, b=0.75, method="okapi", epsilon=0.25))
        for _ in range(5):
            q = [rng.choice(vocab) for _ in range(rng.randint(1, 4))]
            assert np.allclose(bm25.scores(idx, [(t, 1.0) for t in q]), ref.get_scores(q), rtol=1e-5, atol=1e-5)


def test_okapi_negative_idf_is_floored():
    idx = bm25.build(CORPUS, BM25Params(method="okapi"))
    s = bm25.scores(idx, [("inom", 1.0)])
    assert (s[[0, 1, 2, 3, 5]] > 0).all() and s[4] == 0


def test_lucene_by_hand():
    docs = [["a", "b", "b"], ["b", "c"], ["c", "c", "c", "d"]]
    k1, b = 1.2, 0.75
    idx = bm25.build(docs, BM25Params(k1=k1, b=b, method="lucene"))
    n, avg = 3, (3 + 2 + 4) / 3
    idf_b = math.log(1 + (n - 2 + 0.5) / (2 + 0.5))  # "b" is in 2 of 3 passages
    idf_c = math.log(1 + (n - 2 + 0.5) / (2 + 0.5))
    idf_d = math.log(1 + (n - 1 + 0.5) / (1 + 0.5))

    def part(idf, tf, dl):
        return idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avg))

    expected = [
        part(idf_b, 2, 3),
        part(idf_b, 1, 2) + 0.5 * part(idf_c, 1, 2),
        0.5 * part(idf_c, 3, 4) + 2.0 * part(idf_d, 1, 4),
    ]
    got = bm25.scores(idx, [("b", 1.0), ("c", 0.5), ("d", 2.0), ("unknown", 5.0)])
    assert np.allclose(got, expected, rtol=1e-6)
    # lucene idf is never negative, even for a term in every passage
    everywhere = bm25.build([["x", "y"], ["x"], ["x", "z"]], BM25Params())
    assert (bm25.scores(everywhere, [("x", 1.0)]) > 0).all()


def test_coverage_is_the_matched_share_of_idf_mass():
    docs = [["a", "b"], ["b", "c"], ["c", "d"], ["d"]]
    idx = bm25.build(docs)
    n = 4

    def idf(df):
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    q = [("a", 1.0), ("b", 1.0)]
    assert bm25.coverage(idx, q, 0) == pytest.approx(1.0)
    assert bm25.coverage(idx, q, 1) == pytest.approx(idf(2) / (idf(1) + idf(2)))
    assert bm25.coverage(idx, q, 3) == 0.0
    # weights count, and a word no passage has counts with the highest IDF (df = 0)
    assert bm25.coverage(idx, [("a", 2.0), ("b", 1.0)], 1) == pytest.approx(idf(2) / (2 * idf(1) + idf(2)))
    assert bm25.coverage(idx, [("b", 1.0), ("zzz", 1.0)], 0) == pytest.approx(idf(2) / (idf(2) + idf(0)))
    assert bm25.coverage(idx, [], 0) == 0.0


def test_postings_are_term_major():
    idx = bm25.build([["a", "b"], ["b"], ["a", "a"]])
    assert idx.indptr[-1] == len(idx.indices) == len(idx.data) == 4
    a = idx.vocab["a"]
    assert idx.indices[idx.indptr[a] : idx.indptr[a + 1]].tolist() == [0, 2]
    assert idx.indices.dtype == np.int32 and idx.data.dtype == np.float32 and idx.indptr.dtype == np.int64


def test_empty_corpus_and_empty_passage():
    idx = bm25.build([])
    assert idx.n_passages == 0 and bm25.scores(idx, [("a", 1.0)]).shape == (0,)
    idx = bm25.build([[], ["a"]])
    assert bm25.scores(idx, [("a", 1.0)])[0] == 0 and bm25.scores(idx, [("a", 1.0)])[1] > 0


def test_top_k_order_ties_and_mask():
    v = np.array([0.5, 2.0, 0.0, 2.0, 1.0, -1.0, 3.0], dtype=np.float32)
    rows, vals = bm25.top_k(v, 3)
    assert rows.tolist() == [6, 1, 3] and vals.tolist() == [3.0, 2.0, 2.0]
    rows, _ = bm25.top_k(v, 100)
    assert rows.tolist() == [6, 1, 3, 4, 0]  # only positive scores, ties by row
    mask = np.array([True, False, True, True, True, True, False])
    rows, vals = bm25.top_k(v, 2, mask)
    assert rows.tolist() == [3, 4] and vals.tolist() == [2.0, 1.0]
    rows, _ = bm25.top_k(v, 10, np.zeros(7, bool))
    assert rows.tolist() == []
    # many ties across the partition boundary: still the lowest rows, in order
    rows, _ = bm25.top_k(np.ones(50, np.float32), 5)
    assert rows.tolist() == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("mmap", [False, True])
def test_save_load_round_trip(tmp_path, mmap, monkeypatch):
    an = Analyzer()
    terms = [an.passage_terms(d) for d in DOCS]
    idx = bm25.build(terms)
    bm25.save(idx, tmp_path / "bm25")
    calls = []
    real_load = np.load

    def spy(*a, **kw):
        calls.append(kw.get("allow_pickle"))
        return real_load(*a, **kw)

    monkeypatch.setattr(np, "load", spy)
    back = bm25.load(tmp_path / "bm25", mmap=mmap)
    assert calls == [False, False, False]
    assert back.vocab == idx.vocab and back.n_passages == idx.n_passages
    for name in ("indptr", "indices", "data"):
        arr = getattr(back, name)
        assert np.array_equal(arr, getattr(idx, name)) and arr.dtype == getattr(idx, name).dtype
        assert isinstance(arr, np.memmap) == mmap
    q = an.query_terms("underskott inom LSS")
    assert np.array_equal(bm25.scores(back, q), bm25.scores(idx, q))
    for f in ("indptr.npy", "indices.npy", "data.npy"):
        real_load(tmp_path / "bm25" / f, allow_pickle=False)  # plain arrays, no pickles
