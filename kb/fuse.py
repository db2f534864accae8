"""Fusion of ranked lists: pure functions over lists of row ids (best first)."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def rrf(rankings: Sequence[Sequence[int]], k: float = 60.0, weights: Sequence[float] | None = None) -> dict[int, float]:
    """Weighted reciprocal rank fusion: ``sum_i w_i / (k + rank_i)`` with 1-based ranks."""
    weights = weights or [1.0] * len(rankings)
    out: dict[int, float] = {}
    for ranking, w in zip(rankings, weights):
        for r, item in enumerate(ranking, start=1):
            out[int(item)] = out.get(int(item), 0.0) + w / (k + r)
    return out


def minmax_fusion(
    results: Sequence[tuple[Sequence[int], Sequence[float]]], weights: Sequence[float] | None = None
) -> dict[int, float]:
    """Weighted sum of per-list min-max normalised scores (a missing item scores 0 in that list)."""
    weights = weights or [1.0] * len(results)
    out: dict[int, float] = {}
    for (items, scores), w in zip(results, weights):
        if len(items) == 0:
            continue
        s = np.asarray(scores, dtype=np.float64)
        lo, hi = float(s.min()), float(s.max())
        norm = (s - lo) / (hi - lo) if hi > lo else np.ones_like(s)
        for item, v in zip(items, norm):
            out[int(item)] = out.get(int(item), 0.0) + w * float(v)
    return out


def ranked(scores: dict[int, float]) -> list[tuple[int, float]]:
    """Items by descending score, ties broken by item id (deterministic)."""
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
