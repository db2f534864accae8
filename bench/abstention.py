"""Abstention (issue 23): the two thresholds of the answer's verdict, calibrated, and the figures on
every question set, with and without the asked-for rule (kb.answer.asked). Prints Markdown.

    python bench/abstention.py --index index

Calibration uses only eval/unanswerable/calibration.jsonl, eval/dev-unanswerable.jsonl and the
answerable questions of eval/dev.jsonl:

* ``none`` below the lower threshold on the *match* (the best sentence's score less the unknown-word
  term, the confidence before the asked-for rule): the lowest value, rounded up to 0.005, at which
  every dev-unanswerable question gets none (the rule kb used before, for its one threshold);
* ``answered`` from the upper threshold on the *confidence* (the match less 0.1 per part of what
  was asked for that the first quote lacks): the value, a multiple of 0.005, that maximises
  Youden's J = share of calibration + dev-unanswerable questions not answered + share of dev
  answerable questions answered - 1 (the lowest such value).

eval/extra and eval/unanswerable/test.jsonl are only measured. Scores: kb.evaluate.score_answers
(eval/answer_score.py's rule) on the quotes kb vouches for (verdict answered); "abstain" is the share
of unanswerable questions not answered (uncertain or none); "uncertain" and "none" the shares of
each verdict.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import kb  # noqa: E402
from kb.answer.extract import THRESHOLDS, UNCERTAIN_THRESHOLDS, ask  # noqa: E402
from kb.answer.params import AnswerParams  # noqa: E402
from kb.evaluate import ANSWER_METRICS, load_jsonl, score_answers  # noqa: E402

EVAL = ROOT / "eval"
SETS = {
    "dev (30 + 6)": [EVAL / "dev.jsonl", EVAL / "dev-unanswerable.jsonl"],
    "eval/extra (30 + 10)": [EVAL / "extra" / "questions.jsonl", EVAL / "extra" / "unanswerable.jsonl"],
    "calibration (29)": [EVAL / "unanswerable" / "calibration.jsonl"],
    "test (41)": [EVAL / "unanswerable" / "test.jsonl"],
}
NEVER = float("-inf")


def load(paths: list[Path]) -> list[dict]:
    return [g for p in paths for g in load_jsonl(p)]


def scores(k: kb.KnowledgeBase, gold: list[dict], params: AnswerParams) -> dict[str, tuple[float, float]]:
    """Per question: (match, confidence), which do not depend on the thresholds."""
    out = {}
    for g in gold:
        _, ans = ask(k, g["query"], k=10, params=replace(params, threshold=NEVER))
        out[g["id"]] = (ans.match, ans.confidence)
    return out


def up(x: float) -> float:
    return math.floor(x / 0.005 + 1) * 0.005


def lower_threshold(dev_un: dict[str, tuple[float, float]]) -> float:
    """Just above the best match of any dev-unanswerable question."""
    return up(max(m for m, _ in dev_un.values()))


def upper_threshold(neg: list[float], pos: list[float]) -> float:
    """The multiple of 0.005 that maximises Youden's J (the lowest of equals)."""
    grid = sorted({up(c) for c in neg + pos} | {up(c) - 0.005 for c in neg + pos})
    return max(grid, key=lambda t: (sum(c < t for c in neg) / len(neg) + sum(c >= t for c in pos) / len(pos), -t))


def figures(k: kb.KnowledgeBase, gold: list[dict], params: AnswerParams) -> dict[str, float]:
    """The scorer's figures on the vouched-for quotes, and the shares of uncertain and none."""
    answers, verdicts = {}, {}
    for g in gold:
        _, ans = ask(k, g["query"], k=10, params=params)
        answers[g["id"]] = [s.sentence for s in ans.sentences] if ans.confident else []
        verdicts[g["id"]] = ans.verdict
    m = score_answers(gold, answers)
    m["uncertain"] = sum(v == "uncertain" for v in verdicts.values()) / len(gold)
    m["none"] = sum(v == "none" for v in verdicts.values()) / len(gold)
    return m


def row(name: str, m: dict[str, float]) -> str:
    cols = (*ANSWER_METRICS, "uncertain", "none")
    return f"| {name} | " + " | ".join(f"{m[c]:.3f}" if c in m else "–" for c in cols) + " |"


def calibrated(k: kb.KnowledgeBase, params: AnswerParams) -> tuple[AnswerParams, dict[str, dict]]:
    """``params`` with both thresholds calibrated by the rules above, and the scores per set."""
    got = {name: scores(k, load(paths), params) for name, paths in SETS.items()}
    dev_gold = load(SETS["dev (30 + 6)"])
    dev_un = {g["id"]: got["dev (30 + 6)"][g["id"]] for g in dev_gold if not g["relevant"]}
    pos = [got["dev (30 + 6)"][g["id"]][1] for g in dev_gold if g["relevant"]]
    neg = [c for _, c in dev_un.values()] + [c for _, c in got["calibration (29)"].values()]
    lower = lower_threshold(dev_un)
    return replace(params, threshold=max(upper_threshold(neg, pos), lower), uncertain_threshold=lower), got


def curve(got: dict[str, dict], lower: float) -> list[str]:
    """Answered (dev, extra) and not answered (calibration, test) as the upper threshold moves."""
    dev, extra = (load(SETS[n]) for n in ("dev (30 + 6)", "eval/extra (30 + 10)"))
    lines = ["| upper threshold | dev answered | eval/extra answered | calibration not answered | test not answered |",
             "|---|---|---|---|---|"]
    for t in [lower + 0.01 * i for i in range(11)]:
        share = [sum(got[n][g["id"]][1] >= t for g in gs if g["relevant"]) / sum(1 for g in gs if g["relevant"])
                 for n, gs in (("dev (30 + 6)", dev), ("eval/extra (30 + 10)", extra))]
        un = [sum(c < t or m < lower for m, c in got[n].values()) / len(got[n]) for n in ("calibration (29)", "test (41)")]
        lines.append(f"| {t:.3f} | {share[0]:.3f} | {share[1]:.3f} | {un[0]:.3f} | {un[1]:.3f} |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--index", default="index")
    a = ap.parse_args()
    k = kb.open_index(a.index)
    model = k.manifest.embedder.id
    print(f"Shipped for {model}: answered from {THRESHOLDS.get(model)}, none below {UNCERTAIN_THRESHOLDS.get(model)}\n")
    head = ["| set | answered | support@1 | support@3 | precision@1 | abstain | uncertain | none |",
            "|---|---|---|---|---|---|---|---|"]
    for label, base in (("without the asked-for rule", AnswerParams(asked=False, figure_after=False)),
                        ("with the asked-for rule (kb ask)", AnswerParams())):
        params, got = calibrated(k, base)
        print(f"### {label}: thresholds answered {params.threshold:.3f}, none below {params.uncertain_threshold:.3f}\n")
        print("\n".join(head + [row(name, figures(k, load(paths), params)) for name, paths in SETS.items()]))
        print("\n" + "\n".join(curve(got, params.uncertain_threshold or NEVER)) + "\n", flush=True)


if __name__ == "__main__":
    main()
