"""Fusion of ranked lists: pure functions over lists of passage ids (best first)."""
from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

import numpy as np


def rrf(rankings: Sequence[Sequence[Hashable]], k: float = 60.0, weights: Sequence[float] | None = None) -> dict:
    """Weighted reciprocal rank fusion: ``sum_i w_i / (k + rank_i)`` with 1-based ranks (NumPy
    scalar ids become plain Python values)."""
    weights = weights or [1.0] * len(rankings)
    out: dict = {}
    for ranking, w in zip(rankings, weights):
        for r, item in enumerate(ranking, start=1):
            key = item.item() if isinstance(item, np.generic) else item
            out[key] = out.get(key, 0.0) + w / (k + r)
    return out


def ranked(scores: Mapping[Any, float], order: Callable[[Any], Any] | None = None) -> list[tuple[Any, float]]:
    """Items by descending score; ties broken by ``order(item)`` (default: the item itself), so the
    result is deterministic."""
    key = order or (lambda item: item)
    return sorted(scores.items(), key=lambda kv: (-kv[1], key(kv[0])))
