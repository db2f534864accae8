"""Ablation of the retrieval components on a gold set (default: the dev set).

    python bench/ablation.py --index index [--gold eval/dev.jsonl] [--out docs/ablation.md]

Each row switches components on or off over the same built index: BM25 is re-indexed in memory
with the row's analyzer settings (and with or without the passage header); the dense vectors are
the index's own (passage alone, the default), and for the header rows the passages are embedded
again with the header in front (a few minutes). Query-time components (fusion, coverage weighting,
year rule, duplicate folding) are SearchParams. The last block is a 5-fold cross-validation of the two fusion
parameters (RRF k and the dense weight): parameters chosen on four folds, scored on the fifth.
"""
from __future__ import annotations

import argparse
import random
import sys
from dataclasses import replace
from pathlib import Path

from kb import bm25, open_index, vectors
from kb.analyze import Analyzer, AnalyzerConfig
from kb.evaluate import METRICS, evaluate_run, load_jsonl
from kb.ingest.build import retrieval_text
from kb.search import SearchParams

PLAIN = AnalyzerConfig(conflate_definite=False, decompound=False, question_words=False, glossary=False)


def reindex_bm25(kb, config: AnalyzerConfig, header: bool) -> None:
    """Replace the loaded index's analyzer and BM25 postings (bench only; nothing is written)."""
    index = kb.index
    analyzer = Analyzer(config, index.analyzer.lexicon)
    terms = [analyzer.passage_terms(retrieval_text(index.docs[c.doc_id], c, header)) for c in index.passages]
    params = bm25.BM25Params(**kb.manifest.config["bm25"])
    kb.analyzer = index.analyzer = analyzer
    index.bm25 = bm25.build(terms, params)


def reembed_dense(kb, header: bool) -> None:
    """Replace the loaded index's vectors by ones of the passages with or without the header."""
    index = kb.index
    texts = [retrieval_text(index.docs[c.doc_id], c, header) for c in index.passages]
    mat = kb.embedder.embed_passages(texts)
    index.vindex = vectors.build(mat, vectors.choose_params(len(texts), mat.shape[1]))


def run(kb, gold, mode="hybrid", params=SearchParams()):
    hits = {g["id"]: [h.text for h in kb.search(g["query"], k=10, mode=mode, params=params).hits] for g in gold}
    return evaluate_run(gold, hits)


def row(name: str, res) -> str:
    types = " / ".join(f"{res['by_type'][t]['success@5']:.2f}" for t in sorted(res["by_type"]))
    return f"| {name} | " + " | ".join(f"{res['mean'][m]:.3f}" for m in METRICS) + f" | {types} |"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--index", type=Path, default=Path("index"))
    ap.add_argument("--gold", type=Path, default=Path(__file__).resolve().parents[1] / "eval/dev.jsonl")
    ap.add_argument("--out", type=Path)
    a = ap.parse_args(argv)
    gold = load_jsonl(a.gold)
    kb = open_index(a.index)
    full = AnalyzerConfig.from_json(kb.manifest.analyzer_config)
    types = " / ".join(sorted({g.get("type") or "-" for g in gold}))
    lines = [
        f"| configuration | {' | '.join(METRICS)} | success@5 by type ({types}) |",
        "|---|" + "---|" * (len(METRICS) + 1),
    ]

    def add(name, **kw):
        lines.append(row(name, run(kb, gold, **kw)))
        print(lines[-1], flush=True)

    print("\n".join(lines), flush=True)
    reindex_bm25(kb, PLAIN, header=False)
    add("BM25: Snowball stems + stop words, no header", mode="bm25")
    reindex_bm25(kb, PLAIN, header=True)
    add("  + passage header (title, year, section)", mode="bm25")
    cfg = PLAIN
    for switch, label in [
        ("conflate_definite", "definite-form conflation"),
        ("decompound", "decompounding"),
        ("question_words", "question words as stop words"),
        ("glossary", "acronym glossary expansion (= full BM25)"),
    ]:
        cfg = replace(cfg, **{switch: True})
        reindex_bm25(kb, cfg, header=True)
        add(f"  + {label}", mode="bm25")
    add("Dense only (multilingual-e5-small, passage alone)", mode="dense")
    reindex_bm25(kb, PLAIN, header=False)
    add("Hybrid, plain BM25 (no Swedish components)", params=SearchParams())
    reindex_bm25(kb, full, header=True)
    d = SearchParams()
    own = kb.index.vindex
    reembed_dense(kb, header=True)
    add("Dense only, header embedded too", mode="dense")
    add("Hybrid, header embedded too", params=d)
    kb.index.vindex = own
    add("Hybrid, no coverage weighting of BM25", params=replace(d, bm25_min_coverage=0))
    add("Hybrid, RRF k=60, no year rule, no folding, no coverage weighting",
        params=replace(d, rrf_k=60, year_boost=0, dedupe=False, bm25_min_coverage=0))
    add("Hybrid, no year rule", params=replace(d, year_boost=0))
    add("Hybrid, no duplicate folding", params=replace(d, dedupe=False))
    add("Hybrid, RRF k=60", params=replace(d, rrf_k=60))
    add("**Hybrid, all components (default)**", params=d)

    # 5-fold cross-validation of the fusion parameters
    grid = [replace(d, rrf_k=k, dense_weight=w) for k in (10, 30, 60) for w in (0.7, 1.0, 1.5)]
    ids = [g["id"] for g in gold]
    random.Random(0).shuffle(ids)
    folds = [set(ids[i::5]) for i in range(5)]
    per_param = [run(kb, gold, params=p)["per_query"] for p in grid]
    held: dict[str, dict] = {}
    chosen = []
    for f in folds:
        train = [i for i in ids if i not in f]
        best = max(range(len(grid)), key=lambda j: sum(per_param[j][i]["mrr@10"] + per_param[j][i]["ndcg@10"] for i in train))
        chosen.append(f"k={grid[best].rrf_k:g}, w_dense={grid[best].dense_weight:g}")
        held.update({i: per_param[best][i] for i in f})
    cv = {m: sum(held[i][m] for i in ids) / len(ids) for m in METRICS}
    cv_line = "| Hybrid, fusion chosen by 5-fold CV (held-out folds) | " + " | ".join(f"{cv[m]:.3f}" for m in METRICS) + " | |"
    lines.append(cv_line)
    print(cv_line)
    print("CV choices per fold:", "; ".join(chosen))
    if a.out:
        a.out.write_text(
            "# Ablation on the dev set\n\nMade by `python bench/ablation.py --index index --out docs/ablation.md`; see the script's docstring.\n\n"
            + "\n".join(lines) + f"\n\nFusion parameters chosen per CV fold: {'; '.join(chosen)}.\n",
            encoding="utf-8",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
