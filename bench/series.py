"""Series answers (issue 24): an ablation row per step on eval/series, cross-year retrieval with and
without the year and figure quotas on every question set, and speed.

    python bench/series.py --index /work/idx-years --out docs/series.md

Rows: series recall and precision (kb.series_score) for each step of kb.series.SeriesParams; the
share of returned values that stand in their quotes; success@5 per question type on eval/dev.jsonl,
eval/extra/questions.jsonl and eval/series (its quotes as relevant passages) with the quotas off and
on; the warm p50 of a series question and the cold cost of reading every document's figures.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kb import open_index  # noqa: E402
from kb.evaluate import evaluate_run, load_gold  # noqa: E402
from kb.figures import document_figures  # noqa: E402
from kb.search import SearchParams  # noqa: E402
from kb.series import SeriesParams, series  # noqa: E402
from kb.series_score import evaluate_series  # noqa: E402

SERIES = ROOT / "eval" / "series" / "questions.jsonl"
STEPS = [
    ("tables, the best-matching label only", SeriesParams(family_share=1.0, scope_share=0)),
    ("+ other wordings of the metric (3/4 of the best label's weight)", SeriesParams(scope_share=0)),
    ("+ figures stated in sentences", SeriesParams(sentences=True, scope_share=0)),
    ("+ per report, only tables in the best passages", SeriesParams(hit_tables=True, scope_share=0)),
    ("+ per report, tables whose surroundings name the organisation (0.5)", SeriesParams(org_share=0.5, scope_share=0)),
    ("depth 10 (reports of the 10 best passages)", SeriesParams(depth=10, scope_share=0)),
    ("+ the report part naming the question's organisation most densely (no floor)",
     SeriesParams(scope_floor=0.0)),
    ("+ that, and other organisations' reports only when naming it 1/4 as densely [default]", SeriesParams()),
    ("+ that, floor 1/2", SeriesParams(scope_floor=0.5)),
    ("+ that, parts within 1/2 of their report's best part", SeriesParams(scope_share=0.5)),
]


def series_gold_as_retrieval(rows: list[dict]) -> list[dict]:
    """eval/series as a retrieval gold set: each distinct quoted row or sentence is relevant."""
    out = []
    for r in rows:
        rel, seen = [], set()
        for p in r["series"]:
            if (p["doc"], p["quote"]) not in seen:
                seen.add((p["doc"], p["quote"]))
                rel.append({"doc": p["doc"], "quote": p["quote"], "grade": 2})
        out.append({"id": r["id"], "query": r["query"], "type": "cross-year", "relevant": rel})
    return out


def ablation(kb, rows: list[dict]) -> list[str]:
    lines = ["| step | recall | precision | values in their quotes |", "|---|---|---|---|"]
    for name, params in STEPS:
        got = {r["id"]: [e.to_json() for e in series(kb, r["query"], params)] for r in rows}
        res = evaluate_series(rows, got)
        inside = sum(e["value"] in e["quote"] for es in got.values() for e in es)
        total = sum(len(es) for es in got.values())
        lines.append(f"| {name} | {res['recall']:.3f} | {res['precision']:.3f} | {inside}/{total} |")
    return lines


def retrieval(kb, sets: dict[str, list[dict]]) -> list[str]:
    lines = ["| set | search | " + " | ".join(["type", "success@5", "mrr@10"]) + " |", "|---|---|---|---|---|"]
    for name, params in (("quotas off", SearchParams(year_quota=0, figure_quota=0)),
                         ("year quota only", SearchParams(figure_quota=0)), ("default", SearchParams())):
        for set_name, gold in sets.items():
            run = {g["id"]: [h.text for h in kb.search(g["query"], k=10, params=params).hits] for g in gold}
            res = evaluate_run(gold, run, k=10)
            for t, m in res["by_type"].items():
                lines.append(f"| {set_name} | {name} | {t} ({m['n']}) | {m['success@5']:.3f} | {m['mrr@10']:.3f} |")
    return lines


def speed(kb, rows: list[dict]) -> list[str]:
    for r in rows:  # warm: every document's figures read once
        series(kb, r["query"])
    times = []
    for r in rows:
        t = time.perf_counter()
        series(kb, r["query"])
        times.append(time.perf_counter() - t)
    docs = kb.documents()
    cold = {}
    for sentences in (False, True):
        t = time.perf_counter()
        n = sum(len(document_figures(d.doc_id, d.text, d.meta.year, sentences)) for d in docs)
        cold[sentences] = (time.perf_counter() - t, n)
    return [
        f"- a series question, warm: p50 {1000 * statistics.median(times):.1f} ms, max {1000 * max(times):.1f} ms "
        f"over {len(times)} questions (its own search of 20 passages included)",
        f"- reading the figures of all {len(docs)} documents once (the first series question of a process pays it): "
        f"tables {1000 * cold[False][0]:.0f} ms ({cold[False][1]} figures), tables and sentences "
        f"{1000 * cold[True][0]:.0f} ms ({cold[True][1]} figures)",
    ]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--index", required=True)
    ap.add_argument("--out")
    a = ap.parse_args()
    kb = open_index(a.index)
    rows = [json.loads(x) for x in SERIES.read_text(encoding="utf-8").splitlines() if x.strip()]
    sets = {"dev": load_gold(ROOT / "eval" / "dev.jsonl"), "extra": load_gold(ROOT / "eval" / "extra" / "questions.jsonl"),
            "series": series_gold_as_retrieval(rows)}
    out = ["## Series answers on eval/series (37 questions, 248 figures)", "", *ablation(kb, rows), "",
           "## Retrieval per question type, quotas off and on", "", *retrieval(kb, sets), "", "## Speed", "",
           *speed(kb, rows), ""]
    text = "\n".join(out)
    print(text)
    if a.out:
        Path(a.out).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
