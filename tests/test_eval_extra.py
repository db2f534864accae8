"""The second question set (eval/extra/): well-formed, and every quote is in its report."""
from __future__ import annotations

import json

import pytest
from conftest import CORPUS, EVAL

EXTRA = EVAL / "extra"
TYPES = {"why", "fact", "keyword", "paraphrase", "cross-year"}


def rows(name: str) -> list[dict]:
    return [json.loads(line) for line in (EXTRA / name).read_text(encoding="utf-8").splitlines() if line.strip()]


def collapse(text: str) -> str:
    return " ".join(text.split())


def test_answerable_questions_quote_their_reports_exactly():
    docs = {p.name: collapse(p.read_text(encoding="utf-8")) for p in CORPUS.glob("*.txt")}
    qs = rows("questions.jsonl")
    assert len(qs) == 30 and {q["type"] for q in qs} == TYPES
    for q in qs:
        assert q["query"].strip() and q["relevant"], q["id"]
        assert any(r["grade"] == 2 for r in q["relevant"]), q["id"]
        for r in q["relevant"]:
            assert collapse(r["quote"]) in docs[r["doc"]], (q["id"], r["quote"][:60])


def test_unanswerable_questions_have_no_evidence():
    qs = rows("unanswerable.jsonl")
    assert len(qs) == 10
    assert all(q["type"] == "unanswerable" and q["relevant"] == [] and q["query"].strip() for q in qs)


@pytest.mark.parametrize("name", ["questions.jsonl", "unanswerable.jsonl"])
def test_ids_are_unique(name):
    ids = [q["id"] for q in rows(name)]
    assert len(ids) == len(set(ids))
