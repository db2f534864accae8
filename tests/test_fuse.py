"""Fusion: reciprocal rank fusion maths, weights, deterministic ties."""
from __future__ import annotations

import pytest

from kb.fuse import ranked, rrf


def test_rrf_maths():
    s = rrf([[10, 20, 30], [30, 10]], k=60)
    assert s[10] == pytest.approx(1 / 61 + 1 / 62)
    assert s[20] == pytest.approx(1 / 62)
    assert s[30] == pytest.approx(1 / 63 + 1 / 61)
    assert set(s) == {10, 20, 30}
    assert [i for i, _ in ranked(s)] == [10, 30, 20]


def test_rrf_k_and_weights():
    s = rrf([[1, 2], [2, 1]], k=1, weights=[3.0, 1.0])
    assert s[1] == pytest.approx(3 / 2 + 1 / 3)
    assert s[2] == pytest.approx(3 / 3 + 1 / 2)
    assert ranked(s)[0][0] == 1
    # weights flip the winner
    assert ranked(rrf([[1, 2], [2, 1]], k=1, weights=[1.0, 3.0]))[0][0] == 2
    # a zero weight removes a list's influence
    assert ranked(rrf([[5, 6], [6, 5]], weights=[1.0, 0.0]))[0][0] == 5


def test_rrf_ties_broken_by_item_id():
    s = rrf([[7, 3], [3, 7]])
    assert s[7] == pytest.approx(s[3])
    assert ranked(s) == sorted(s.items(), key=lambda kv: kv[0])
    assert [i for i, _ in ranked({9: 1.0, 2: 1.0, 5: 1.0, 1: 0.5})] == [2, 5, 9, 1]


def test_rrf_empty_and_numpy_ids():
    import numpy as np

    assert rrf([]) == {} and rrf([[], []]) == {}
    s = rrf([np.array([4, 2], dtype=np.int64)])
    assert set(s) == {4, 2} and all(type(k) is int for k in s)
