"""kb.evaluate must agree exactly with the reference scorer (eval/score.py, a copy of shared/eval/score.py)."""
from __future__ import annotations

import importlib.util
import json
import random

import pytest
from conftest import DEV, EVAL
from hypothesis import given, settings
from hypothesis import strategies as st

from kb import evaluate as ev
from kb.text import fold


def _load_reference():
    spec = importlib.util.spec_from_file_location("shared_score", EVAL / "score.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


REF = _load_reference()
GOLD = ev.load_jsonl(DEV)
NOISE = (
    "Kommunen redovisar ett resultat i nivå med budget. Personalen har arbetat med kvalitet. "
    "Nämnden följer upp målen löpande och rapporterar till fullmäktige. Kostnaderna för "
    "försörjningsstöd minskade jämfört med föregående år. "
).split()


def noise(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(NOISE) for _ in range(n))


def mangle(rng: random.Random, quote: str) -> str:
    """The quote as a passage might hold it: whole, re-wrapped, hyphenated, or cut in part."""
    r = rng.random()
    if r < 0.3:
        return quote
    if r < 0.5:  # layout changes that normalisation removes
        words = quote.split()
        return "\n".join(" ".join(words[i : i + 5]) for i in range(0, len(words), 5)).replace("a", "a-\n", 1)
    if r < 0.8:  # a passage boundary cut the quote: keep a random share of it
        keep = rng.uniform(0.3, 0.9)
        n = int(len(quote) * keep)
        return quote[:n] if rng.random() < 0.5 else quote[-n:]
    return quote.upper()


def synthetic_run(rng: random.Random, gold: list[dict]) -> dict[str, list[str]]:
    all_quotes = [r["quote"] for g in gold for r in g["relevant"]]
    run = {}
    for g in gold:
        hits = []
        for _ in range(rng.randint(0, 14)):
            r = rng.random()
            if r < 0.35 and g["relevant"]:
                q = rng.choice(g["relevant"])["quote"]
                hits.append(f"{noise(rng, rng.randint(0, 30))} {mangle(rng, q)} {noise(rng, rng.randint(0, 30))}")
            elif r < 0.5:  # another query's evidence
                hits.append(mangle(rng, rng.choice(all_quotes)))
            elif r < 0.6 and len(g["relevant"]) > 1:  # one passage covering two quotes
                a, b = rng.sample(g["relevant"], 2)
                hits.append(a["quote"] + " " + b["quote"])
            else:
                hits.append(noise(rng, rng.randint(5, 60)))
        rng.shuffle(hits)
        run[g["id"]] = hits
    return run


def assert_agree(gold, run, k=10):
    mine = ev.evaluate_run(gold, run, k=k)
    ref = REF.evaluate(gold, run, k=k)
    assert set(mine["per_query"]) == set(ref["per_query"])
    for qid, m in mine["per_query"].items():
        assert m == ref["per_query"][qid], qid  # exactly equal, not approximately
    for metric in ev.METRICS:
        assert mine["mean"][metric] == pytest.approx(ref["mean"][metric], abs=1e-12)
    return mine


def test_gold_file_shape():
    assert len(GOLD) >= 20
    for g in GOLD:
        assert g["id"] and g["query"] and g["relevant"]
        assert all(r["grade"] in (1, 2) and r["quote"] for r in g["relevant"])


@pytest.mark.parametrize("seed", range(12))
def test_agrees_with_reference_on_synthetic_runs(seed):
    rng = random.Random(seed)
    run = synthetic_run(rng, GOLD)
    res = assert_agree(GOLD, run)
    if seed == 0:  # the synthetic runs exercise every outcome
        per = res["per_query"].values()
        assert any(p["success@1"] == 1 for p in per) and any(p["mrr@10"] == 0 for p in per)
        assert any(0 < p["mrr@10"] < 1 for p in per) and any(0 < p["recall@10"] < 1 for p in per)


@pytest.mark.parametrize("k", [1, 3, 5])
def test_agrees_with_reference_for_other_k(k):
    assert_agree(GOLD, synthetic_run(random.Random(100 + k), GOLD), k=k)


def test_perfect_and_empty_runs():
    perfect = {g["id"]: [r["quote"] for r in sorted(g["relevant"], key=lambda r: -r["grade"])] for g in GOLD}
    res = assert_agree(GOLD, perfect)
    assert res["mean"]["success@1"] == 1.0 and res["mean"]["recall@10"] == 1.0 and res["mean"]["mrr@10"] == 1.0
    assert res["mean"]["ndcg@10"] > 0.9
    empty = assert_agree(GOLD, {})
    assert all(v == 0.0 for v in empty["mean"].values())
    assert empty["queries"] == len(GOLD) and sum(v["n"] for v in empty["by_type"].values()) == len(GOLD)


GOLD_ROW = {
    "id": "q",
    "relevant": [
        {"quote": "Underskottet inom LSS beror på personlig assistans där ersättningen inte täcker kostnaderna.", "grade": 2},
        {"quote": "Gruppbostäder har lägre beläggning.", "grade": 2},
        {"quote": "Ökad vårdtyngd kräver mer bemanning.", "grade": 1},
    ],
}
TEXTS = st.sampled_from(
    [r["quote"] for r in GOLD_ROW["relevant"]]
    + ["Underskottet inom LSS beror på personlig", "täcker kostnaderna. Gruppbostäder har", "Hemtjänsten ökar.", ""]
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(TEXTS, min_size=1, max_size=3).map(" ".join), max_size=12), st.integers(1, 10))
def test_agrees_with_reference_hypothesis(hits, k):
    mine = ev.score_query(GOLD_ROW["relevant"], hits, k)
    assert mine == REF.score_query(GOLD_ROW, hits, k)
    assert 0 <= mine["ndcg@10"] <= 1 and 0 <= mine["recall@10"] <= 1


def test_evidence_rule():
    q = fold("Underskottet inom LSS beror på personlig assistans.")
    assert q == "underskottetinomlssberorpåpersonligassistans"
    assert ev.covers(fold("Text före. Underskottet inom LSS-\nberor på personlig assistans. Efter"), q)
    assert ev.covers(fold("Underskottet inom LSS beror på"), q)  # more than half of the quote
    assert not ev.covers(fold("Underskottet inom"), q)
    assert not ev.covers("anything", "")
    # each quote is credited once: the second copy gains nothing
    s = ev.score_query([{"quote": "alfa beta gamma", "grade": 2}], ["x", "alfa beta gamma", "alfa beta gamma"])
    assert s["mrr@10"] == 0.5 and s["success@1"] == 0 and s["success@5"] == 1


def test_trec_lines_and_table(tmp_path):
    hits = [{"chunk_id": "doc-a:3", "rank": 1, "score": 0.5}, {"chunk_id": "doc-b:0", "rank": 2, "score": 0.25}]
    assert ev.trec_lines("d001", hits, tag="run1") == ["d001 Q0 doc-a:3 1 0.500000 run1", "d001 Q0 doc-b:0 2 0.250000 run1"]
    res = ev.evaluate_run(GOLD, {})
    table = ev.format_table(res)
    assert table.splitlines()[0].split() == list(ev.METRICS)
    assert f"all ({len(GOLD)})" in table
    p = tmp_path / "x.jsonl"
    p.write_text(json.dumps({"a": 1}) + "\n\n" + json.dumps({"b": "å"}) + "\n", encoding="utf-8")
    assert ev.load_jsonl(p) == [{"a": 1}, {"b": "å"}]
