"""Retrieval evaluation with the evidence rule of the shared scorer, plus run/TREC output.

A hit is relevant to a gold quote when, after reducing both to lowercase letters and digits, the
hit contains the quote or shares a run of at least ``min(len(quote) / 2, 120)`` characters with it.
Each quote is credited once, to the first hit that covers it. Metrics over the top k: success@1,
success@5, MRR@10, recall@10 and nDCG@10 (graded). This module must agree with
``eval/score.py`` (a copy of the shared reference scorer); a test checks it does.
"""
from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

from .text import fold

METRICS = ("success@1", "success@5", "mrr@10", "recall@10", "ndcg@10")


def covers(hit_norm: str, quote_norm: str) -> bool:
    if not quote_norm:
        return False
    if quote_norm in hit_norm:
        return True
    need = min(0.5 * len(quote_norm), 120)
    if len(hit_norm) < need:
        return False
    m = SequenceMatcher(None, hit_norm, quote_norm, autojunk=False)
    match = m.find_longest_match(0, len(hit_norm), 0, len(quote_norm))
    return match.size >= need


def score_query(relevant: Sequence[dict], hits: Sequence[str], k: int = 10) -> dict[str, float]:
    """Metrics for one query given its gold quotes and the hit texts in rank order."""
    quotes = [(fold(r["quote"]), r.get("grade", 2)) for r in relevant]
    covered: set[int] = set()
    gains: list[int] = []
    first_rel = None
    for rank, text in enumerate(hits[:k], start=1):
        h = fold(text)
        gain = 0
        for i, (q, g) in enumerate(quotes):
            if i not in covered and covers(h, q):
                covered.add(i)
                gain = max(gain, g)
                if g >= 2 and first_rel is None:
                    first_rel = rank
        gains.append(gain)
    dcg = sum((2**g - 1) / math.log2(r + 1) for r, g in enumerate(gains, 1))
    ideal = sorted((g for _, g in quotes), reverse=True)[:k]
    idcg = sum((2**g - 1) / math.log2(r + 1) for r, g in enumerate(ideal, 1))
    n2 = sum(1 for _, g in quotes if g >= 2)
    c2 = sum(1 for i in covered if quotes[i][1] >= 2)
    return {
        "success@1": float(first_rel == 1),
        "success@5": float(first_rel is not None and first_rel <= 5),
        "mrr@10": 1.0 / first_rel if first_rel else 0.0,
        "recall@10": c2 / n2 if n2 else 0.0,
        "ndcg@10": dcg / idcg if idcg else 0.0,
    }


def mean(rows: Iterable[dict[str, float]]) -> dict[str, float]:
    rows = list(rows)
    return {m: (sum(r[m] for r in rows) / len(rows) if rows else 0.0) for m in METRICS}


def evaluate_run(gold: Sequence[dict], run: dict[str, list[str]], k: int = 10) -> dict[str, Any]:
    """Mean metrics overall and per query type, and per-query metrics."""
    per = {g["id"]: score_query(g["relevant"], run.get(g["id"], []), k) for g in gold}
    by_type: dict[str, list[dict[str, float]]] = defaultdict(list)
    for g in gold:
        by_type[g.get("type") or "-"].append(per[g["id"]])
    return {
        "queries": len(gold),
        "mean": mean(per.values()),
        "by_type": {t: {"n": len(v), **mean(v)} for t, v in sorted(by_type.items())},
        "per_query": per,
    }


def load_jsonl(path: str | Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def trec_lines(query_id: str, hits: Sequence[dict], tag: str = "kb") -> list[str]:
    """TREC run lines: ``qid Q0 docno rank score tag`` (docno = passage id)."""
    return [f"{query_id} Q0 {h['chunk_id']} {h['rank']} {h['score']:.6f} {tag}" for h in hits]


def format_table(result: dict[str, Any]) -> str:
    head = f"{'':<14}" + "".join(f"{m:>11}" for m in METRICS)
    lines = [head, f"{'all (' + str(result['queries']) + ')':<14}" + "".join(f"{result['mean'][m]:>11.3f}" for m in METRICS)]
    for t, v in result["by_type"].items():
        lines.append(f"{t + ' (' + str(v['n']) + ')':<14}" + "".join(f"{v[m]:>11.3f}" for m in METRICS))
    return "\n".join(lines)
