"""The unanswerable question set (eval/unanswerable/): well-formed, split, and its evidence of absence real.

Every hard question quotes the reports where its topic is mentioned without the asked fact; each quote
must be in its report exactly (after collapsing whitespace, as in test_eval_extra.py).
"""
from __future__ import annotations

import json
from collections import Counter

import pytest
from conftest import CORPUS, EVAL

from kb.evaluate import load_gold

UNANSWERABLE = EVAL / "unanswerable"
SPLITS = {"calibration.jsonl": "uc", "test.jsonl": "ut"}
KINDS = {"hard", "easy"}
ASKS = {"number", "name", "reason", "year", "yesno", "other"}
FIELDS = {"id", "query", "type", "kind", "asks", "year", "answer", "relevant", "absence"}


def rows(name: str) -> list[dict]:
    return [json.loads(line) for line in (UNANSWERABLE / name).read_text(encoding="utf-8").splitlines() if line.strip()]


def all_rows() -> list[dict]:
    return [q for name in SPLITS for q in rows(name)]


def collapse(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("name", sorted(SPLITS))
def test_every_line_is_a_well_formed_unanswerable_question(name):
    for q in rows(name):
        assert FIELDS <= q.keys(), (q.get("id"), FIELDS - q.keys())
        assert q["id"].startswith(SPLITS[name]), q["id"]
        assert q["query"].strip() and q["query"].rstrip().endswith("?"), q["id"]
        assert q["type"] == "unanswerable" and q["kind"] in KINDS and q["asks"] in ASKS, q["id"]
        assert q["year"] is None or (isinstance(q["year"], int) and 2000 < q["year"] < 2100), q["id"]
        assert q["answer"] == "" and q["relevant"] == [], q["id"]
        absence = q["absence"]
        assert absence["searched"] and all(isinstance(s, str) and s for s in absence["searched"]), q["id"]
        assert isinstance(absence["note"], str) and absence["note"].strip(), q["id"]


@pytest.mark.parametrize("name", sorted(SPLITS))
def test_kb_eval_reads_each_split_as_gold(name):
    gold = load_gold(UNANSWERABLE / name)
    assert len(gold) == len(rows(name)) and all(g["relevant"] == [] for g in gold)


def test_ids_and_queries_are_unique_across_both_splits():
    qs = all_rows()
    assert len({q["id"] for q in qs}) == len(qs)
    assert len({collapse(q["query"]).lower() for q in qs}) == len(qs)


def test_hard_questions_quote_their_reports_exactly():
    docs = {p.name: collapse(p.read_text(encoding="utf-8")) for p in CORPUS.glob("*.txt")}
    hard = [q for q in all_rows() if q["kind"] == "hard"]
    for q in hard:
        mentions = q["absence"]["mentions"]
        assert 1 <= len(mentions) <= 3, q["id"]
        for m in mentions:
            assert m["doc"] in docs, (q["id"], m["doc"])
            assert collapse(m["quote"]) in docs[m["doc"]], (q["id"], m["quote"][:60])


def test_set_size_and_mix():
    qs = all_rows()
    kinds = Counter(q["kind"] for q in qs)
    assert kinds["hard"] >= 40 and kinds["easy"] >= 8, kinds
    assert len({q["asks"] for q in qs if q["kind"] == "hard"}) >= 5


@pytest.mark.parametrize("name", sorted(SPLITS))
def test_each_split_has_both_kinds(name):
    assert {q["kind"] for q in rows(name)} == KINDS


def test_split_follows_the_stated_rule():
    """Positions 1 and 3 of every 5 within each (kind, asks) group go to calibration (README). Both files
    keep the fixed order, so merging them greedily, taking the next row whose file the rule names for
    its group position, must use up both files."""
    cal, test = rows("calibration.jsonl"), rows("test.jsonl")
    assert 0.3 <= len(cal) / (len(cal) + len(test)) <= 0.5
    seen: Counter = Counter()
    ci = ti = 0
    while ci < len(cal) or ti < len(test):
        placed = False
        for cand, is_cal in ((cal[ci] if ci < len(cal) else None, True), (test[ti] if ti < len(test) else None, False)):
            if cand is None:
                continue
            group = (cand["kind"], cand["asks"])
            if (seen[group] % 5 in (1, 3)) == is_cal:
                seen[group] += 1
                ci, ti = (ci + 1, ti) if is_cal else (ci, ti + 1)
                placed = True
                break
        assert placed, "the two files do not follow the split rule"
