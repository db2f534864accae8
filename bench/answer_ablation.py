"""Ablation of the answerer on the dev files: each step on and off, the abstention threshold and its
cross-validation, and the time an answer takes. Writes a Markdown table.

    python bench/answer_ablation.py --index index --out docs/answer_ablation.md \
        [--also "index built by kb 2f10b5a (rows embedded alone)" OLD_INDEX]

Every row answers the 30 questions of eval/dev.jsonl and the 6 of eval/dev-unanswerable.jsonl
with `kb.answer.extract.ask` (search k=10, the answer reads the top 5 hits) and scores the quoted
sentences with kb.evaluate.score_answers (the rule of eval/answer_score.py, tested to agree).
Columns: answered, support@1, support@3, precision@1, abstain. The last column answers the second
question set (eval/extra/) with the row's dev threshold: a check that a step helps beyond dev.

Threshold rule: the lowest value at which every dev-unanswerable question abstains, i.e. just above
the most confident of them, rounded up to 0.005 (the row's one threshold: answered from it on, no
answer below; kb itself ships two since issue 23, calibrated by bench/abstention.py, see
docs/abstention.md). A row counts the quotes kb vouches for (verdict answered). "CV" repeats the
rule on 4/5 of both files and applies it to the held-out fifth (5 folds, 5 shuffles, mean).
"""
from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import kb  # noqa: E402
from kb.answer.extract import THRESHOLDS, answer, ask  # noqa: E402
from kb.answer.params import AnswerParams  # noqa: E402
from kb.evaluate import ANSWER_METRICS, load_jsonl, score_answers  # noqa: E402

NEVER = float("-inf")
FULL = AnswerParams(threshold=NEVER)
PLAIN = replace(FULL, explained=False, self_contained=False, lists=False, fitting_first=False, figure_after=False,
                asked=False)  # added last
VARIANTS = [
    ("dense only (closest sentence by the index's embedder)",
     replace(PLAIN, lexical_weight=0.0, form_weight=0.0, unknown_weight=0.0)),
    ("+ lexical coverage (IDF), no context",
     replace(PLAIN, form_weight=0.0, context_share=0.0, title_context=False, unknown_weight=0.0)),
    ("+ context: sentence before, section names", replace(PLAIN, form_weight=0.0, title_context=False, unknown_weight=0.0)),
    ("+ context: report title", replace(PLAIN, form_weight=0.0, unknown_weight=0.0)),
    ("+ question form", replace(PLAIN, unknown_weight=0.0)),
    ("+ confidence less 0.1 × share of topic words no report uses", PLAIN),
    ("+ explained outcome (cause questions: the cause stated right after the best sentence first)",
     replace(PLAIN, explained=True)),
    ("+ self-contained quotes (a sentence that points back is quoted with the one before)",
     replace(PLAIN, explained=True, self_contained=True)),
    ("+ a lead-in ending with a colon scored and quoted with its list",
     replace(PLAIN, explained=True, self_contained=True, lists=True)),
    ("+ asked-for kind first (amount, time, name: a sentence with one within the form weight of the best)",
     replace(FULL, figure_after=False, asked=False)),
    ("+ the amount stated right after a close sentence quoted with it (amount questions)", replace(FULL, asked=False)),
    ("+ the first quote must hold what was asked for (kb.answer.asked: confidence less 0.1 per part it lacks) "
     "= **full answerer**", FULL),
    ("full, asked-for weight 0.15 (instead of 0.1)", replace(FULL, asked_weight=0.15)),
    ("full, the names a question gives asked for too", replace(FULL, asked_names=True)),
    ("full, unknown-word weight 0.2 (instead of 0.1)", replace(FULL, unknown_weight=0.2)),
    ("full, lexical coverage without IDF", replace(FULL, idf=False)),
    ("full, lexical weight 0.05 (instead of 0.1)", replace(FULL, lexical_weight=0.05)),
    ("full, lexical weight 0.2", replace(FULL, lexical_weight=0.2)),
    ("full, form weight 0.01 (instead of 0.03)", replace(FULL, form_weight=0.01)),
    ("full, form weight 0.05", replace(FULL, form_weight=0.05)),
    ("full, top 3 hits (instead of 5)", replace(FULL, top_hits=3)),
    ("full, top 10 hits", replace(FULL, top_hits=10)),
    ("full, one sentence per named year off", replace(FULL, per_year=False)),
]


class Runs:
    """The answers of one answerer (an index and its settings) at any threshold, each computed once.

    The threshold decides more than abstention (every quoted sentence must pass it), so each
    threshold is its own run of `ask`; the confidences do not depend on it.
    """

    def __init__(self, k: kb.KnowledgeBase, gold: list[dict], params: AnswerParams) -> None:
        self.k, self.gold, self.params = k, gold, params
        self._at: dict[float, dict[str, list[str]]] = {}
        self.confidence: dict[str, float] = {}
        self.at(NEVER)

    def at(self, thr: float) -> dict[str, list[str]]:
        """Per question id: the quoted sentences with this threshold ([] = abstained)."""
        if thr not in self._at:
            out = {}
            for g in self.gold:
                _, ans = ask(self.k, g["query"], k=10, params=replace(self.params, threshold=thr))
                out[g["id"]] = [s.sentence for s in ans.sentences] if ans.confident else []  # what kb vouches for
                self.confidence[g["id"]] = ans.confidence
            self._at[thr] = out
        return self._at[thr]


def rule(confidences: list[float]) -> float:
    """Just above the most confident unanswerable question, rounded up to 0.005."""
    return math.floor(max(confidences) / 0.005 + 1) * 0.005


def cv(runs: Runs, gold: list[dict], folds: int = 5, shuffles: int = 5) -> dict[str, float]:
    ans_ids = [g["id"] for g in gold if g["relevant"]]
    un_ids = [g["id"] for g in gold if not g["relevant"]]
    scores = []
    for seed in range(shuffles):
        rng = random.Random(seed)
        a, u = ans_ids[:], un_ids[:]
        rng.shuffle(a)
        rng.shuffle(u)
        got: dict[str, list[str]] = {}
        for f in range(folds):
            train_u = [q for i, q in enumerate(u) if i % folds != f]
            answers = runs.at(rule([runs.confidence[q] for q in train_u]))
            test = [q for i, q in enumerate(a) if i % folds == f] + [q for i, q in enumerate(u) if i % folds == f]
            got.update({q: answers[q] for q in test})
        scores.append(score_answers(gold, got))
    return {m: statistics.mean(s[m] for s in scores) for m in ANSWER_METRICS}


def fmt(m: dict[str, float]) -> str:
    return " / ".join(f"{m[k]:.3f}" for k in ANSWER_METRICS)


def timings(k: kb.KnowledgeBase, gold: list[dict]) -> tuple[float, float]:
    """Median seconds of `ask` (search + answer) and of the answer step alone, warm."""
    ask(k, "sjukfrånvaro 2019")
    total, step = [], []
    for g in gold:
        t = time.perf_counter()
        res, _ = ask(k, g["query"] + " ")  # a new question text: nothing memoised
        total.append(time.perf_counter() - t)
        t = time.perf_counter()
        answer(k, res, FULL)
        step.append(time.perf_counter() - t)
    return statistics.median(total), statistics.median(step)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--index", default="index")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "answer_ablation.md")
    ap.add_argument("--also", nargs=2, action="append", default=[], metavar=("LABEL", "INDEX"),
                    help="add a row: the full answerer on another index (e.g. one built by an older kb)")
    a = ap.parse_args()
    k = kb.open_index(a.index)
    gold = load_jsonl(ROOT / "eval" / "dev.jsonl") + load_jsonl(ROOT / "eval" / "dev-unanswerable.jsonl")
    un = [g["id"] for g in gold if not g["relevant"]]
    extra = load_jsonl(ROOT / "eval" / "extra" / "questions.jsonl") + load_jsonl(ROOT / "eval" / "extra" / "unanswerable.jsonl")
    lines = [
        "# Answer ablation (dev set)", "",
        "Made by `python bench/answer_ablation.py --index index` on "
        f"{len(gold) - len(un)} answerable and "
        f"{len(un)} unanswerable dev questions; embedder `{k.manifest.embedder.id}`. Columns: answered | "
        "support@1 | support@3 | precision@1 | abstain (eval/answer_score.py's rule). Each row's threshold is "
        "the rule's value on that row's own confidences; \"CV\" chooses it on 4/5 and scores the held-out fifth. "
        "The last column is the second question set (eval/extra/, 30 + 10 questions; its README says where they come "
        "from) at the row's dev threshold.", "",
        "Earlier answerers on the same files, for reference (shipped threshold): before sentences were indexed "
        "(kb at 40dc983: lexical gate, hand-set thresholds) 0.767 / 0.567 / 0.600 / 0.739 / 1.000; kb at 383935e, "
        "which added the sentences within 0.03 of the best one instead of every one that passes the threshold, "
        "0.967 / 0.767 / 0.833 / 0.793 / 1.000; kb at 784e354, without the question form `name` (vem, "
        "vilket område / bolag …, answered by a capitalised word), 0.967 / 0.767 / 0.867 / 0.793 / 1.000; kb at 912c686, "
        "before running text with numbers stopped being a table row, the explained outcome, more causal phrases "
        "and self-contained quotes, "
        "1.000 / 0.800 / 0.933 / 0.800 / 1.000 (eval/extra: 1.000 / 0.500 / 0.600 / 0.500 / 0.500); kb at 82e64ab, "
        "before a lead-in was quoted with its list and the asked-for kind first, 1.000 / 0.833 / 0.933 / 0.833 / 1.000 "
        "(eval/extra: 1.000 / 0.600 / 0.667 / 0.600 / 0.500).", "",
        "| answerer | never abstaining | threshold | with the threshold | CV (5-fold × 5) | eval/extra, dev threshold |",
        "|---|---|---|---|---|---|",
    ]
    rows = [(name, k, params) for name, params in VARIANTS]
    rows += [(f"full, {label}", kb.open_index(other), FULL) for label, other in a.also]
    full: dict[str, float] = {}
    for name, index, params in rows:
        runs = Runs(index, gold, params)
        if index is k and params == FULL:
            full = runs.confidence
        thr = rule([runs.confidence[q] for q in un])
        lines.append(f"| {name} | {fmt(score_answers(gold, runs.at(NEVER)))} | {thr:.3f} | "
                     f"{fmt(score_answers(gold, runs.at(thr)))} | {fmt(cv(runs, gold))} | "
                     f"{fmt(score_answers(extra, Runs(index, extra, params).at(thr)))} |")
        print(lines[-1], flush=True)
    shipped = THRESHOLDS.get(k.manifest.embedder.id)
    conf = sorted(((round(full[q], 4), q) for q in un), reverse=True)
    t_ask, t_step = timings(k, gold)
    lines += [
        "", f"Shipped threshold for this embedder: {shipped}. Confidence of the unanswerable questions "
        f"(full answerer): {', '.join(f'{q} {c}' for c, q in conf)}.",
        "", f"Time, warm, median over the {len(gold)} questions: `ask` (search + answer) "
        f"{1000 * t_ask:.0f} ms, the answer step alone {1000 * t_step:.1f} ms.",
    ]
    a.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines[-3:]))


if __name__ == "__main__":
    main()
